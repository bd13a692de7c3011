//! tokio's current-thread scheduler benchmarks, each run on tokio and on this
//! runtime in one criterion group (`<bench>/tokio`, `<bench>/runtime`). Each
//! runtime is built once per group, before its timed loop.
//!
//! - `spawn_many_local`: inside one `block_on`, spawn 1 000 empty tasks and
//!   await all of their handles.
//! - `spawn_many_remote_idle`: 1 000 `Handle::spawn` calls from the bench
//!   thread while no thread is driving the runtime; then one `block_on` runs
//!   the tasks and awaits every handle.
//! - `spawn_many_remote_busy`: the same while the runtime also holds a task
//!   that spawns its own successor every time it runs, so the run queue is
//!   never empty. tokio's version lets that task live forever; here it checks
//!   a flag, cleared once the group is done, before the runtime is dropped.
//!
//! As in tokio, the first two names are also groups of `rt_multi_threaded`, so
//! criterion keeps both files' saved results in the same directories and its
//! "change" lines compare against whichever ran last.
//!
//! `cargo bench -p benches --bench rt_current_thread`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Flavor;
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Tasks spawned per iteration.
const NUM_SPAWN: usize = 1_000;

/// The workloads, written once for both runtimes: `$rt` is the crate whose
/// `spawn` they use, `$Runtime` its runtime type. Each `fn` returning a closure
/// does its setup when called and one timed iteration per call of the closure.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};

        use super::NUM_SPAWN;

        pub(super) fn spawn_many_local(rt: &$Runtime) -> impl FnMut() + '_ {
            let mut handles = Vec::with_capacity(NUM_SPAWN);
            move || {
                rt.block_on(async {
                    for _ in 0..NUM_SPAWN {
                        handles.push($rt::spawn(async {}));
                    }
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                });
            }
        }

        pub(super) fn spawn_many_remote(rt: &$Runtime) -> impl FnMut() + '_ {
            let mut handles = Vec::with_capacity(NUM_SPAWN);
            move || {
                for _ in 0..NUM_SPAWN {
                    handles.push(rt.handle().spawn(async {}));
                }
                rt.block_on(async {
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                });
            }
        }

        /// Spawns the next incarnation of the self-respawning task.
        fn respawn(running: Arc<AtomicBool>) {
            if running.load(Ordering::Relaxed) {
                $rt::spawn(async move { respawn(running) });
            }
        }

        /// Background load of `spawn_many_remote_busy`.
        pub(super) fn start_respawner(rt: &$Runtime, running: &Arc<AtomicBool>) {
            let running = running.clone();
            rt.spawn(async move { respawn(running) });
        }
    };
}

mod on_tokio {
    workloads!(tokio, tokio::runtime::Runtime);
}

mod on_runtime {
    workloads!(runtime, runtime::Runtime);
}

fn tokio_rt() -> tokio::runtime::Runtime {
    common::tokio_builder(Flavor::CurrentThread)
        .enable_all()
        .build()
        .unwrap()
}

fn our_rt() -> runtime::Runtime {
    common::our_builder(Flavor::CurrentThread)
        .enable_all()
        .build()
        .unwrap()
}

/// One group with both runtimes, tokio's first: for each, build the runtime,
/// start the optional background load, set up `$workload` and time its
/// iterations, then stop the background load and drop the runtime.
macro_rules! side_by_side {
    ($c:expr, $name:expr, $workload:ident $(, background = $start:ident)?) => {{
        let mut group = $c.benchmark_group($name);
        group.sample_size(20);
        {
            let rt = tokio_rt();
            let running = Arc::new(AtomicBool::new(true));
            $(on_tokio::$start(&rt, &running);)?
            let mut iteration = on_tokio::$workload(&rt);
            group.bench_function("tokio", |b| b.iter(&mut iteration));
            running.store(false, Ordering::Relaxed);
        }
        {
            let rt = our_rt();
            let running = Arc::new(AtomicBool::new(true));
            $(on_runtime::$start(&rt, &running);)?
            let mut iteration = on_runtime::$workload(&rt);
            group.bench_function("runtime", |b| b.iter(&mut iteration));
            running.store(false, Ordering::Relaxed);
        }
        group.finish();
    }};
}

fn spawn_many_local(c: &mut Criterion) {
    side_by_side!(c, "spawn_many_local", spawn_many_local);
}

fn spawn_many_remote_idle(c: &mut Criterion) {
    side_by_side!(c, "spawn_many_remote_idle", spawn_many_remote);
}

fn spawn_many_remote_busy(c: &mut Criterion) {
    side_by_side!(
        c,
        "spawn_many_remote_busy",
        spawn_many_remote,
        background = start_respawner
    );
}

criterion_group! {
    name = rt_current_thread;
    config = common::config();
    targets = spawn_many_local, spawn_many_remote_idle, spawn_many_remote_busy
}
criterion_main!(rt_current_thread);
