//! Scenario 3, micro-sleep gaming: on one worker, a task that works for a
//! whole base slice in one poll and then sleeps 1 µs, against two
//! equal-weight CPU-bound tasks working 100 µs between `yield_now`s. Without
//! delayed dequeue, a task that blocks while it owes service leaves the queue
//! and its debt can be forgiven; with it, the debt is paid first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Rt, TaskOpts, Which, sleep, spin, yield_now};
use crate::share::shares;

/// The micro-sleeper's run length: our runtime's default base slice.
pub(crate) fn slice() -> Duration {
    runtime::sched::Config::new().get_base_slice()
}

pub(crate) const NAP: Duration = Duration::from_micros(1);
pub(crate) const HOG_POLL: Duration = Duration::from_micros(100);

/// The micro-sleeper's share of the three tasks' combined busy time.
/// `delayed_dequeue` applies to ours only.
pub(crate) fn run(which: Which, delayed_dequeue: bool, dur: Duration) -> f64 {
    let rt = Rt::current_thread(which, delayed_dequeue);
    let busy: Arc<[AtomicU64; 3]> = Arc::default();
    let until = Instant::now() + dur;
    let run_for = slice();
    rt.block_on(async {
        let mut tasks = Vec::new();
        {
            let busy = busy.clone();
            tasks.push(rt.spawn(TaskOpts::default(), async move {
                while Instant::now() < until {
                    let ran = spin(run_for);
                    busy[0].fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
                    sleep(which, NAP).await;
                }
            }));
        }
        for i in 1..3 {
            let busy = busy.clone();
            tasks.push(rt.spawn(TaskOpts::default(), async move {
                while Instant::now() < until {
                    let ran = spin(HOG_POLL);
                    busy[i].fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
                    yield_now(which).await;
                }
            }));
        }
        for t in tasks {
            t.await;
        }
    });
    shares(std::array::from_fn::<u64, 3, _>(|i| {
        busy[i].load(Ordering::Relaxed)
    }))[0]
}
