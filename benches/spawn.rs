//! tokio's spawn benchmarks: the cost of spawning and joining a handful of
//! tasks, each run on tokio and on this runtime in one criterion group
//! (`<bench>/tokio`, `<bench>/runtime`). One iteration is one `block_on` that
//! spawns the tasks and awaits their handles; a task's body yields once and
//! returns a number, so each task is polled twice. Each runtime is built once
//! per group, before its timed loop.
//!
//! - `basic_scheduler_spawn`, `basic_scheduler_spawn10`: 1 and 10 tasks on a
//!   current-thread runtime ("basic scheduler" is tokio's old name for it).
//! - `threaded_scheduler_spawn`, `threaded_scheduler_spawn10`: the same on a
//!   multi-thread runtime with one worker, where the `block_on` thread is not
//!   the worker, so every spawn and every completion crosses threads.
//!
//! `cargo bench -p benches --bench spawn`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

/// The workload, written once for both runtimes: `$rt` is the crate whose
/// `spawn` and `task::yield_now` it uses, `$Runtime` its runtime type.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use std::hint::black_box;

        async fn work() -> usize {
            let val = black_box(1) + 1;
            $rt::task::yield_now().await;
            black_box(val)
        }

        /// One iteration: spawn `n` tasks, then await them in order.
        pub(super) fn spawn_n(rt: &$Runtime, n: usize) {
            rt.block_on(async {
                let handles: Vec<_> = (0..n).map(|_| $rt::spawn(work())).collect();
                for handle in handles {
                    assert_eq!(handle.await.unwrap(), 2);
                }
            });
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
/// the other is built. `multi`: a multi-thread runtime with one worker rather
/// than a current-thread one.
fn group(c: &mut Criterion, name: &str, multi: bool, tasks: usize) {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread().build()
        }
        .unwrap();
        group.bench_function("tokio", |b| b.iter(|| on_tokio::spawn_n(&rt, tasks)));
    }
    {
        let rt = if multi {
            runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
        } else {
            runtime::Builder::new_current_thread().build()
        }
        .unwrap();
        group.bench_function("runtime", |b| b.iter(|| on_runtime::spawn_n(&rt, tasks)));
    }
    group.finish();
}

fn basic_scheduler_spawn(c: &mut Criterion) {
    group(c, "basic_scheduler_spawn", false, 1);
}

fn basic_scheduler_spawn10(c: &mut Criterion) {
    group(c, "basic_scheduler_spawn10", false, 10);
}

fn threaded_scheduler_spawn(c: &mut Criterion) {
    group(c, "threaded_scheduler_spawn", true, 1);
}

fn threaded_scheduler_spawn10(c: &mut Criterion) {
    group(c, "threaded_scheduler_spawn10", true, 10);
}

criterion_group! {
    name = spawn;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = basic_scheduler_spawn,
        basic_scheduler_spawn10,
        threaded_scheduler_spawn,
        threaded_scheduler_spawn10
}
criterion_main!(spawn);
