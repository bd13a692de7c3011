//! Shared helpers for the integration tests.

use std::time::{Duration, Instant};

/// Busy-waits for `d`: CPU-bound work that the scheduler charges as such.
pub fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Every runtime configuration a behaviour must hold on: both flavors, one and
/// two workers, and delayed dequeue off as well as on.
pub fn all_runtimes() -> Vec<(&'static str, runtime::Runtime)> {
    let mut all = two_runtimes();
    all.push((
        "current_thread(delayed_dequeue=false)",
        runtime::Builder::new_current_thread()
            .delayed_dequeue(false)
            .build()
            .unwrap(),
    ));
    all.push((
        "multi_thread(1)",
        runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap(),
    ));
    all
}

/// One runtime of each flavor: current-thread and a two-worker multi-thread.
pub fn two_runtimes() -> Vec<(&'static str, runtime::Runtime)> {
    vec![
        (
            "current_thread",
            runtime::Builder::new_current_thread().build().unwrap(),
        ),
        (
            "multi_thread(2)",
            runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        ),
    ]
}
