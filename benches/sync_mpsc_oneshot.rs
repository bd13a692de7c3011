//! Request/reply between two tasks, after tokio's `sync_mpsc_oneshot` bench,
//! run on tokio and on this runtime: groups `request_reply_current_thread` and
//! `request_reply_multi_threaded` (one worker), with ids `tokio` and
//! `runtime` in each.
//!
//! A server task, spawned once per runtime, receives requests on a
//! `tokio::sync::mpsc` channel of capacity 10; each request is the sending
//! half of a `tokio::sync::oneshot`, on which the server replies at once. One
//! iteration is one `block_on` in which the client makes 1 000 round trips:
//! send a request, await the reply. The two channels are tokio's on both
//! runtimes (they work on any executor), so the difference is the scheduler
//! waking and switching between the two tasks. Each runtime is built once per
//! group, before its timed loop.
//!
//! `cargo bench -p benches --bench sync_mpsc_oneshot`

use common::Flavor;
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Round trips per iteration.
const ROUND_TRIPS: usize = 1_000;

/// The workload, written once for both runtimes: `$rt` is the crate whose
/// `spawn` it uses, `$Runtime` its runtime type.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use tokio::sync::{mpsc, oneshot};

        use super::ROUND_TRIPS;

        /// Starts the server; it stops when the returned sender is dropped.
        pub(super) fn start_server(rt: &$Runtime) -> mpsc::Sender<oneshot::Sender<()>> {
            rt.block_on(async {
                let (tx, mut rx) = mpsc::channel::<oneshot::Sender<()>>(10);
                $rt::spawn(async move {
                    while let Some(reply) = rx.recv().await {
                        reply.send(()).unwrap();
                    }
                });
                tx
            })
        }

        /// One iteration.
        pub(super) fn request_reply(rt: &$Runtime, server: &mpsc::Sender<oneshot::Sender<()>>) {
            rt.block_on(async {
                for _ in 0..ROUND_TRIPS {
                    let (reply_tx, reply_rx) = oneshot::channel();
                    server.send(reply_tx).await.unwrap();
                    reply_rx.await.unwrap();
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
fn group(c: &mut Criterion, name: &str, flavor: Flavor) {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    {
        let rt = common::tokio_builder(flavor).build().unwrap();
        let server = on_tokio::start_server(&rt);
        group.bench_function("tokio", |b| {
            b.iter(|| on_tokio::request_reply(&rt, &server))
        });
    }
    {
        let rt = common::our_builder(flavor).build().unwrap();
        let server = on_runtime::start_server(&rt);
        group.bench_function("runtime", |b| {
            b.iter(|| on_runtime::request_reply(&rt, &server))
        });
    }
    group.finish();
}

fn request_reply_current_thread(c: &mut Criterion) {
    group(c, "request_reply_current_thread", Flavor::CurrentThread);
}

fn request_reply_multi_threaded(c: &mut Criterion) {
    group(c, "request_reply_multi_threaded", Flavor::MultiThread(1));
}

criterion_group! {
    name = sync_mpsc_oneshot;
    config = common::config();
    targets = request_reply_current_thread, request_reply_multi_threaded
}
criterion_main!(sync_mpsc_oneshot);
