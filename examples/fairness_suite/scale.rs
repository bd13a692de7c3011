//! Scenario 6, scale: tokio's `yield_many` shape. `n` tasks, each yielding
//! a fixed number of times, spawned from `block_on` on a multi-thread
//! runtime; the cost per yield is the wall time from the first spawn to the
//! last task's end, divided by the number of yields.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Countdown, Rt, Which, yield_now};

/// Yields per task so the total stays near `total_yields`, at least 2.
pub(crate) fn yields_per_task(n: usize, total_yields: usize) -> usize {
    (total_yields / n.max(1)).max(2)
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

/// Nanoseconds per yield for each task count in `sizes`, on one runtime
/// with `workers` workers. Each size runs `repeats` times; the fastest run
/// counts (the others include noise from outside the runtime).
pub(crate) fn run(
    which: Which,
    workers: usize,
    sizes: &[usize],
    total_yields: usize,
    repeats: usize,
) -> Vec<f64> {
    let rt = Rt::multi_thread(which, workers);
    // Warm-up: threads started, allocator primed.
    once(&rt, 1000, 10);
    sizes
        .iter()
        .map(|&n| {
            let yields = yields_per_task(n, total_yields);
            let best = (0..repeats.max(1))
                .map(|_| once(&rt, n, yields))
                .min()
                .unwrap_or_default();
            best.as_nanos() as f64 / (n * yields) as f64
        })
        .collect()
}
