//! Scenario 6, scale: tokio's `yield_many` shape. `n` tasks, each yielding
//! a fixed number of times, spawned from `block_on` on a multi-thread
//! runtime.
//!
//! Two figures per size. The *wall* figure is the time from the first spawn
//! to the last task's end divided by the number of yields; at a million
//! tasks with two yields each it is mostly spawning and completing tasks,
//! not yielding. The *marginal* cost per yield is what one more yield costs
//! with `n` tasks queued: the same run with `y` and with `3y` yields per
//! task, `(T(3y) − T(y)) / (2·n·y)`, in which spawning, first polls and
//! completions cancel out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Countdown, Rt, Which, yield_now};

/// Yields per task so the total stays near `total_yields`, at least 10 (so
/// that at the largest size the yields, not the spawns, dominate even the
/// shorter of the two runs the marginal cost compares).
pub(crate) fn yields_per_task(n: usize, total_yields: usize) -> usize {
    (total_yields / n.max(1)).max(10)
}

/// Wall time of one `yield_many` run.
fn once(rt: &Rt, n: usize, yields: usize) -> Duration {
    let which = rt.which();
    let done = Arc::new(Countdown::new(n));
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..n {
            let done = done.clone();
            rt.spawn_detached(async move {
                for _ in 0..yields {
                    yield_now(which).await;
                }
                done.count_down();
            });
        }
        done.wait().await;
    });
    start.elapsed()
}

/// The costs at one task count, in nanoseconds per yield.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    /// Wall time of the `y`-yield run over its yields (spawning included).
    pub(crate) wall: f64,
    /// What one more yield costs: `(T(3y) − T(y)) / (2·n·y)`.
    pub(crate) marginal: f64,
}

/// The costs for each task count in `sizes`, on one runtime with `workers`
/// workers. Each run is repeated `repeats` times and the fastest counts
/// (the others include noise from outside the runtime).
pub(crate) fn run(
    which: Which,
    workers: usize,
    sizes: &[usize],
    total_yields: usize,
    repeats: usize,
) -> Vec<Cost> {
    let rt = Rt::multi_thread(which, workers);
    // Warm-up: threads started, allocator primed.
    once(&rt, 1000, 10);
    let best = |n: usize, yields: usize| {
        (0..repeats.max(1))
            .map(|_| once(&rt, n, yields))
            .min()
            .unwrap_or_default()
            .as_nanos() as f64
    };
    sizes
        .iter()
        .map(|&n| {
            let y = yields_per_task(n, total_yields);
            let (t1, t3) = (best(n, y), best(n, 3 * y));
            Cost {
                wall: t1 / (n * y) as f64,
                marginal: (t3 - t1).max(0.0) / (2 * n * y) as f64,
            }
        })
        .collect()
}
