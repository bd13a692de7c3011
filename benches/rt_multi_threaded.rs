//! tokio's multi-thread scheduler benchmarks, each run on tokio and on this
//! runtime in one criterion group (`<bench>/tokio`, `<bench>/runtime`). Both
//! runtimes get the same number of workers: the available parallelism capped
//! at 4 (tokio's benches use 4). Each runtime is built once per group, before
//! its timed loop, and dropped before the other one is built, so the two never
//! compete for the CPU.
//!
//! - `spawn_many_local`: from inside `block_on`, spawn 10 000 tasks that each
//!   count a shared counter down; the task that reaches zero sends on a std
//!   channel, which the `block_on` thread (not a worker) waits on.
//! - `spawn_many_remote_idle`: 10 000 `Runtime::spawn` calls from the bench
//!   thread, outside the runtime, onto idle workers; then `block_on` awaits
//!   every handle.
//! - `spawn_many_remote_busy1`: the same while twice as many background tasks
//!   as workers loop on `yield_now` followed by a 10 µs spin, so every worker
//!   is always busy and the remote spawns have to get in between them.
//! - `spawn_many_remote_busy2`: 1 000 remote spawns while one chain per worker
//!   (tokio: 4, its worker count) keeps replacing itself: each link spins
//!   10 µs and spawns the next one from inside the runtime.
//! - `ping_pong`: 1 000 rounds, each a task that spawns a peer; the two trade a
//!   pair of `tokio::sync::oneshot` messages (tokio's sync types work on any
//!   executor), and the last round to finish sends on a std channel.
//! - `yield_many`: 200 tasks spawned from outside, each yielding 1 000 times and
//!   then sending on a std channel; the bench thread waits for all 200.
//! - `chained_spawn`: a chain 1 000 tasks deep, each spawning the next; the
//!   last one sends on a std channel.
//!
//! The background tasks of the busy benches are stopped with a flag once their
//! group is done, before their runtime is dropped.
//!
//! As in tokio, `spawn_many_local` and `spawn_many_remote_idle` share their
//! names with groups of `rt_current_thread`, and `yield_many` with a group of
//! `hooks`, so criterion keeps their saved results in the same directories:
//! its "change" lines compare against whichever of them ran last.
//!
//! `cargo bench -p benches --bench rt_multi_threaded`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Flavor, workers};
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Tasks spawned by `spawn_many_local` and the first two remote benches.
const NUM_SPAWN: usize = 10_000;
/// Tasks spawned by `spawn_many_remote_busy2`.
const NUM_SPAWN_BUSY2: usize = 1_000;
/// Rounds of `ping_pong`.
const NUM_PINGS: usize = 1_000;
/// Tasks of `yield_many`, and how often each yields.
const YIELD_TASKS: usize = 200;
const NUM_YIELD: usize = 1_000;
/// Depth of `chained_spawn`.
const CHAIN_DEPTH: usize = 1_000;
/// How long a busy background task keeps its worker between yields.
const STALL: Duration = Duration::from_micros(10);

/// Keeps the thread for `STALL`, offering the CPU to the OS meanwhile.
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

/// The workloads, written once for both runtimes: `$rt` is the crate whose
/// `spawn` and `task::yield_now` they use, `$Runtime` its runtime type. Each
/// `fn` returning a closure does its setup when called and one timed iteration
/// per call of the closure.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::{Arc, mpsc};

        use tokio::sync::oneshot;

        use super::{CHAIN_DEPTH, NUM_PINGS, NUM_SPAWN, NUM_YIELD, YIELD_TASKS, stall, workers};

        pub(super) fn spawn_many_local(rt: &$Runtime) -> impl FnMut() + '_ {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(0));
            move || {
                rem.store(NUM_SPAWN, Ordering::Relaxed);
                rt.block_on(async {
                    for _ in 0..NUM_SPAWN {
                        let (done_tx, rem) = (done_tx.clone(), rem.clone());
                        $rt::spawn(async move {
                            if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                                done_tx.send(()).unwrap();
                            }
                        });
                    }
                    done_rx.recv().unwrap();
                });
            }
        }

        /// `n` spawns from outside the runtime, then `block_on` awaits them.
        pub(super) fn spawn_many_remote(rt: &$Runtime, n: usize) -> impl FnMut() + '_ {
            let mut handles = Vec::with_capacity(n);
            move || {
                for _ in 0..n {
                    handles.push(rt.handle().spawn(async {}));
                }
                rt.block_on(async {
                    for handle in handles.drain(..) {
                        handle.await.unwrap();
                    }
                });
            }
        }

        /// Background load of `spawn_many_remote_busy1`.
        pub(super) fn start_yield_loops(rt: &$Runtime, running: &Arc<AtomicBool>) {
            for _ in 0..2 * workers() {
                let running = running.clone();
                rt.spawn(async move {
                    while running.load(Ordering::Relaxed) {
                        $rt::task::yield_now().await;
                        stall();
                    }
                });
            }
        }

        /// One link of a `spawn_many_remote_busy2` chain, spawned by the last.
        fn stall_chain(running: Arc<AtomicBool>) {
            $rt::spawn(async move {
                if running.load(Ordering::Relaxed) {
                    stall();
                    stall_chain(running);
                }
            });
        }

        /// Background load of `spawn_many_remote_busy2`.
        pub(super) fn start_stall_chains(rt: &$Runtime, running: &Arc<AtomicBool>) {
            for _ in 0..workers() {
                let running = running.clone();
                rt.spawn(async move { stall_chain(running) });
            }
        }

        pub(super) fn ping_pong(rt: &$Runtime) -> impl FnMut() + '_ {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            let rem = Arc::new(AtomicUsize::new(0));
            move || {
                rem.store(NUM_PINGS, Ordering::Relaxed);
                let (done_tx, rem) = (done_tx.clone(), rem.clone());
                rt.block_on(async {
                    $rt::spawn(async move {
                        for _ in 0..NUM_PINGS {
                            let (done_tx, rem) = (done_tx.clone(), rem.clone());
                            $rt::spawn(async move {
                                let (ping_tx, ping_rx) = oneshot::channel();
                                let (pong_tx, pong_rx) = oneshot::channel();
                                $rt::spawn(async move {
                                    ping_rx.await.unwrap();
                                    pong_tx.send(()).unwrap();
                                });
                                ping_tx.send(()).unwrap();
                                pong_rx.await.unwrap();
                                if rem.fetch_sub(1, Ordering::Relaxed) == 1 {
                                    done_tx.send(()).unwrap();
                                }
                            });
                        }
                    });
                    done_rx.recv().unwrap();
                });
            }
        }

        pub(super) fn yield_many(rt: &$Runtime) -> impl FnMut() + '_ {
            let (done_tx, done_rx) = mpsc::sync_channel(YIELD_TASKS);
            move || {
                for _ in 0..YIELD_TASKS {
                    let done_tx = done_tx.clone();
                    rt.spawn(async move {
                        for _ in 0..NUM_YIELD {
                            $rt::task::yield_now().await;
                        }
                        done_tx.send(()).unwrap();
                    });
                }
                for _ in 0..YIELD_TASKS {
                    done_rx.recv().unwrap();
                }
            }
        }

        /// Spawns the next of the `n` links still to go, or signals the end.
        fn chain(done_tx: mpsc::SyncSender<()>, n: usize) {
            if n == 0 {
                done_tx.send(()).unwrap();
            } else {
                $rt::spawn(async move { chain(done_tx, n - 1) });
            }
        }

        pub(super) fn chained_spawn(rt: &$Runtime) -> impl FnMut() + '_ {
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            move || {
                let done_tx = done_tx.clone();
                rt.block_on(async {
                    $rt::spawn(async move { chain(done_tx, CHAIN_DEPTH) });
                    done_rx.recv().unwrap();
                });
            }
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
    common::tokio_builder(Flavor::MultiThread(workers()))
        .enable_all()
        .build()
        .unwrap()
}

fn our_rt() -> runtime::Runtime {
    common::our_builder(Flavor::MultiThread(workers()))
        .enable_all()
        .build()
        .unwrap()
}

/// One group with both runtimes, tokio's first: for each, build the runtime,
/// start the optional background load, set up `$workload` and time its
/// iterations, then stop the background load and drop the runtime.
macro_rules! side_by_side {
    ($c:expr, $name:expr, $workload:ident($($arg:expr),*) $(, background = $start:ident)?) => {{
        let mut group = common::flat_group($c, $name);
        {
            let rt = tokio_rt();
            let running = Arc::new(AtomicBool::new(true));
            $(on_tokio::$start(&rt, &running);)?
            let mut iteration = on_tokio::$workload(&rt $(, $arg)*);
            group.bench_function("tokio", |b| b.iter(&mut iteration));
            running.store(false, Ordering::Relaxed);
        }
        {
            let rt = our_rt();
            let running = Arc::new(AtomicBool::new(true));
            $(on_runtime::$start(&rt, &running);)?
            let mut iteration = on_runtime::$workload(&rt $(, $arg)*);
            group.bench_function("runtime", |b| b.iter(&mut iteration));
            running.store(false, Ordering::Relaxed);
        }
        group.finish();
    }};
}

fn spawn_many_local(c: &mut Criterion) {
    side_by_side!(c, "spawn_many_local", spawn_many_local());
}

fn spawn_many_remote_idle(c: &mut Criterion) {
    side_by_side!(c, "spawn_many_remote_idle", spawn_many_remote(NUM_SPAWN));
}

fn spawn_many_remote_busy1(c: &mut Criterion) {
    side_by_side!(
        c,
        "spawn_many_remote_busy1",
        spawn_many_remote(NUM_SPAWN),
        background = start_yield_loops
    );
}

fn spawn_many_remote_busy2(c: &mut Criterion) {
    side_by_side!(
        c,
        "spawn_many_remote_busy2",
        spawn_many_remote(NUM_SPAWN_BUSY2),
        background = start_stall_chains
    );
}

fn ping_pong(c: &mut Criterion) {
    side_by_side!(c, "ping_pong", ping_pong());
}

fn yield_many(c: &mut Criterion) {
    side_by_side!(c, "yield_many", yield_many());
}

fn chained_spawn(c: &mut Criterion) {
    side_by_side!(c, "chained_spawn", chained_spawn());
}

criterion_group! {
    name = scheduler_remote;
    config = common::config();
    targets = spawn_many_remote_idle, spawn_many_remote_busy1, spawn_many_remote_busy2
}
criterion_group! {
    name = scheduler;
    config = common::config();
    targets = spawn_many_local, chained_spawn, ping_pong, yield_many
}
criterion_main!(scheduler, scheduler_remote);
