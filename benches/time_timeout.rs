//! The cost of timers that never fire, after tokio's `time_timeout` bench, run
//! on tokio and on this runtime in one criterion group per bench
//! (`<bench>/tokio`, `<bench>/runtime`). Every bench uses `iter_custom`: one
//! `block_on` does all `iters` operations, shared out between the tasks, and
//! is timed as a whole.
//!
//! - `single_thread_timeout`: on a current-thread runtime, one task awaits
//!   `iters` timeouts of 1 s around a future that is ready at once, so each
//!   timer is set up and cancelled without ever firing.
//! - `multi_thread_timeout-8`: the same split across 8 tasks on a multi-thread
//!   runtime.
//! - `single_thread_sleep`, `multi_thread_sleep-8`: the same layouts, but each
//!   operation only creates a 1 s `sleep` and drops it without awaiting it.
//!
//! tokio gives its multi-thread runtime 8 workers here; this port keeps its 8
//! tasks but, as the other ports do, gives both runtimes the available
//! parallelism capped at 4 workers. Each runtime is built once per group,
//! before its timed loop.
//!
//! `cargo bench -p benches --bench time_timeout`

use common::{Flavor, workers};
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Tasks sharing the operations on the multi-thread runtime.
const MULTI_TASKS: usize = 8;

/// The workloads, written once for both runtimes: `$rt` is the crate whose
/// `spawn`, `time::timeout` and `time::sleep` they use, `$Runtime` its runtime
/// type.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use std::hint::black_box;
        use std::time::{Duration, Instant};

        /// How many of `iters` operations task `i` of `tasks` does.
        fn share(iters: u64, tasks: usize, i: usize) -> u64 {
            let tasks = tasks as u64;
            iters / tasks + u64::from((i as u64) < iters % tasks)
        }

        /// `iters` timeouts awaited by `tasks` tasks; the time of the whole.
        pub(super) fn timeouts(rt: &$Runtime, iters: u64, tasks: usize) -> Duration {
            let start = Instant::now();
            rt.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| {
                        let n = share(iters, tasks, i);
                        $rt::spawn(async move {
                            for _ in 0..n {
                                let t = $rt::time::timeout(Duration::from_secs(1), async {});
                                assert!(black_box(t.await).is_ok());
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            });
            start.elapsed()
        }

        /// `iters` sleeps created and dropped by `tasks` tasks; the time of
        /// the whole.
        pub(super) fn sleeps(rt: &$Runtime, iters: u64, tasks: usize) -> Duration {
            let start = Instant::now();
            rt.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| {
                        let n = share(iters, tasks, i);
                        $rt::spawn(async move {
                            for _ in 0..n {
                                drop(black_box($rt::time::sleep(Duration::from_secs(1))));
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            });
            start.elapsed()
        }
    };
}

mod on_tokio {
    workloads!(tokio, tokio::runtime::Runtime);
}

mod on_runtime {
    workloads!(runtime, runtime::Runtime);
}

/// One group with both runtimes, tokio's first, each runtime dropped before
/// the other is built: `tasks == 1` on a current-thread runtime, otherwise on
/// a multi-thread one.
macro_rules! side_by_side {
    ($c:expr, $name:expr, $workload:ident, $tasks:expr) => {{
        let tasks: usize = $tasks;
        let flavor = if tasks == 1 {
            Flavor::CurrentThread
        } else {
            Flavor::MultiThread(workers())
        };
        let mut group = $c.benchmark_group($name);
        group.sample_size(20);
        {
            let rt = common::tokio_builder(flavor).enable_all().build().unwrap();
            group.bench_function("tokio", |b| {
                b.iter_custom(|iters| on_tokio::$workload(&rt, iters, tasks))
            });
        }
        {
            let rt = common::our_builder(flavor).enable_all().build().unwrap();
            group.bench_function("runtime", |b| {
                b.iter_custom(|iters| on_runtime::$workload(&rt, iters, tasks))
            });
        }
        group.finish();
    }};
}

fn single_thread_timeout(c: &mut Criterion) {
    side_by_side!(c, "single_thread_timeout", timeouts, 1);
}

fn multi_thread_timeout(c: &mut Criterion) {
    side_by_side!(c, "multi_thread_timeout-8", timeouts, MULTI_TASKS);
}

fn single_thread_sleep(c: &mut Criterion) {
    side_by_side!(c, "single_thread_sleep", sleeps, 1);
}

fn multi_thread_sleep(c: &mut Criterion) {
    side_by_side!(c, "multi_thread_sleep-8", sleeps, MULTI_TASKS);
}

criterion_group! {
    name = timeout_benchmark;
    config = common::config();
    targets = single_thread_timeout,
        multi_thread_timeout,
        single_thread_sleep,
        multi_thread_sleep
}
criterion_main!(timeout_benchmark);
