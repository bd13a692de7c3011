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

use common::Flavor;
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

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

/// One group with both runtimes of `flavor`, tokio's first, each runtime
/// dropped before the other is built.
fn group(c: &mut Criterion, name: &str, flavor: Flavor, tasks: usize) {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    {
        let rt = common::tokio_builder(flavor).build().unwrap();
        group.bench_function("tokio", |b| b.iter(|| on_tokio::spawn_n(&rt, tasks)));
    }
    {
        let rt = common::our_builder(flavor).build().unwrap();
        group.bench_function("runtime", |b| b.iter(|| on_runtime::spawn_n(&rt, tasks)));
    }
    group.finish();
}

fn basic_scheduler_spawn(c: &mut Criterion) {
    group(c, "basic_scheduler_spawn", Flavor::CurrentThread, 1);
}

fn basic_scheduler_spawn10(c: &mut Criterion) {
    group(c, "basic_scheduler_spawn10", Flavor::CurrentThread, 10);
}

fn threaded_scheduler_spawn(c: &mut Criterion) {
    group(c, "threaded_scheduler_spawn", Flavor::MultiThread(1), 1);
}

fn threaded_scheduler_spawn10(c: &mut Criterion) {
    group(c, "threaded_scheduler_spawn10", Flavor::MultiThread(1), 10);
}

criterion_group! {
    name = spawn;
    config = common::config();
    targets = basic_scheduler_spawn,
        basic_scheduler_spawn10,
        threaded_scheduler_spawn,
        threaded_scheduler_spawn10
}
criterion_main!(spawn);
