//! Throughput of the blocking pool under concurrent callers, after tokio's
//! `spawn_blocking` bench, run on tokio and on this runtime in one criterion
//! group, `spawn_blocking`, with ids `concurrency/N/tokio` and
//! `concurrency/N/runtime`.
//!
//! One iteration is one `block_on` that spawns N async tasks; each runs 100
//! batches of 16 no-op `spawn_blocking` calls, awaiting the whole batch before
//! starting the next, so up to 16·N closures are in flight. tokio's version
//! collects a batch in a `JoinSet`; here it is a `Vec` of `JoinHandle`s on both
//! runtimes (this runtime has no `JoinSet`), awaited in order.
//!
//! tokio runs N = 1, 2, 4, ..., 64; this port stops at 16 (1, 2, 4, 8, 16) to
//! keep the run short: at 64 one iteration is 100 000 blocking calls. Both
//! runtimes are multi-thread ones with the available parallelism capped at 4
//! workers, and their default blocking pool (at most 512 threads); each is
//! built once per N, before its timed loop.
//!
//! `cargo bench -p benches --bench spawn_blocking`

use common::{Flavor, workers};
use criterion::{Criterion, criterion_group, criterion_main};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

/// Batches per task, and blocking calls per batch.
const BATCHES: usize = 100;
const BATCH_SIZE: usize = 16;

/// The workload, written once for both runtimes: `$rt` is the crate whose
/// `spawn` and `task::spawn_blocking` it uses, `$Runtime` its runtime type.
macro_rules! workloads {
    ($rt:ident, $Runtime:ty) => {
        use super::{BATCH_SIZE, BATCHES};

        /// One iteration with `concurrency` async tasks.
        pub(super) fn spawn_blocking(rt: &$Runtime, concurrency: usize) {
            rt.block_on(async {
                let tasks: Vec<_> = (0..concurrency)
                    .map(|_| {
                        $rt::spawn(async {
                            let mut batch = Vec::with_capacity(BATCH_SIZE);
                            for _ in 0..BATCHES {
                                batch.extend(
                                    (0..BATCH_SIZE).map(|_| $rt::task::spawn_blocking(|| {})),
                                );
                                for call in batch.drain(..) {
                                    call.await.unwrap();
                                }
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
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

fn spawn_blocking(c: &mut Criterion) {
    let mut group = common::flat_group(c, "spawn_blocking");
    for concurrency in [1, 2, 4, 8, 16] {
        {
            let rt = common::tokio_builder(Flavor::MultiThread(workers()))
                .enable_all()
                .build()
                .unwrap();
            group.bench_function(format!("concurrency/{concurrency}/tokio"), |b| {
                b.iter(|| on_tokio::spawn_blocking(&rt, concurrency))
            });
        }
        {
            let rt = common::our_builder(Flavor::MultiThread(workers()))
                .enable_all()
                .build()
                .unwrap();
            group.bench_function(format!("concurrency/{concurrency}/runtime"), |b| {
                b.iter(|| on_runtime::spawn_blocking(&rt, concurrency))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = spawn_blocking
}
criterion_main!(benches);
