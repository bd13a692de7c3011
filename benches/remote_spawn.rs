//! Contention on the path that takes spawns from outside the runtime, after
//! tokio's `remote_spawn` bench, run on tokio and on this runtime in one
//! criterion group, `remote_spawn`, with ids `threads/N/tokio` and
//! `threads/N/runtime`.
//!
//! One iteration: N std threads (started untimed) meet at a barrier, then
//! together spawn 12 800 no-op tasks (12 800 / N each) with `Handle::spawn`.
//! Only that push phase is timed (`iter_custom`): from the first thread leaving
//! the barrier to the last one finishing its share. The tasks are awaited
//! afterwards in one `block_on`, untimed, so that no iteration starts with the
//! last one's tasks still queued.
//!
//! N runs through 1, 2, 4, ..., 64, capped at the available parallelism (more
//! pushing threads than cores would measure the OS scheduler). Both runtimes
//! are multi-thread ones with default settings, so one worker per core; each
//! is built once per N, before its timed loop.
//!
//! `cargo bench -p benches --bench remote_spawn`

use std::time::Duration;

use common::Flavor;
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Tasks spawned per iteration, shared out between the pushing threads.
const TOTAL_TASKS: usize = 12_800;

/// The workload, written once for both runtimes: `$Runtime` is the runtime
/// type, whose `handle().spawn` it uses.
macro_rules! workloads {
    ($Runtime:ty) => {
        use std::sync::Barrier;
        use std::time::{Duration, Instant};

        use super::TOTAL_TASKS;

        /// One iteration with `threads` pushing threads; returns the time of
        /// the push phase.
        pub(super) fn remote_spawn(rt: &$Runtime, threads: usize) -> Duration {
            let per_thread = TOTAL_TASKS / threads;
            let barrier = Barrier::new(threads);
            let handle = rt.handle();
            let pushed: Vec<_> = std::thread::scope(|s| {
                let pushers: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let mut tasks = Vec::with_capacity(per_thread);
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..per_thread {
                                tasks.push(handle.spawn(async {}));
                            }
                            (start, Instant::now(), tasks)
                        })
                    })
                    .collect();
                pushers.into_iter().map(|p| p.join().unwrap()).collect()
            });
            let start = pushed.iter().map(|p| p.0).min().unwrap();
            let end = pushed.iter().map(|p| p.1).max().unwrap();
            rt.block_on(async {
                for (_, _, tasks) in pushed {
                    for task in tasks {
                        task.await.unwrap();
                    }
                }
            });
            end - start
        }
    };
}

mod on_tokio {
    workloads!(tokio::runtime::Runtime);
}

mod on_runtime {
    workloads!(runtime::Runtime);
}

fn remote_spawn(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = common::flat_group(c, "remote_spawn");
    for threads in [1, 2, 4, 8, 16, 32, 64] {
        if threads > cores {
            break;
        }
        {
            let rt = common::tokio_builder(Flavor::MultiThreadDefault)
                .enable_all()
                .build()
                .unwrap();
            group.bench_function(format!("threads/{threads}/tokio"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| on_tokio::remote_spawn(&rt, threads))
                        .sum::<Duration>()
                })
            });
        }
        {
            let rt = common::our_builder(Flavor::MultiThreadDefault)
                .enable_all()
                .build()
                .unwrap();
            group.bench_function(format!("threads/{threads}/runtime"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| on_runtime::remote_spawn(&rt, threads))
                        .sum::<Duration>()
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = remote_spawn
}
criterion_main!(benches);
