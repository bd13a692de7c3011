//! What hooks and preempt notifiers cost on the poll path: tokio's
//! `yield_many` (200 tasks each yielding 1 000 times on a multi-thread
//! runtime) run on this runtime with no hooks, with `on_switch_in` and
//! `on_switch_out` hooks, and with a preempt notifier on every task; tokio in
//! the same group for scale.
//!
//! `cargo bench -p benches --bench hooks`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Flavor, workers};
use criterion::{Criterion, criterion_group, criterion_main};
use runtime::task::{PreemptNotifier, SwitchReason};

// Shared with the other side-by-side benches, each a crate of its own; the
// items this bench does not use would otherwise warn as dead code.
#[allow(dead_code)]
mod common;

const TASKS: usize = 200;
const YIELDS: usize = 1000;

/// Counts calls, so the hooks do some work the compiler cannot drop.
#[derive(Default)]
struct Count(AtomicU64);

impl PreemptNotifier for Count {
    fn sched_in(&self, worker: usize) {
        self.0.fetch_add(worker as u64 + 1, Ordering::Relaxed);
    }
    fn sched_out(&self, reason: SwitchReason) {
        self.0.fetch_add(reason as u64, Ordering::Relaxed);
    }
}

fn yield_many_ours(rt: &runtime::Runtime, notifier: Option<&Arc<Count>>) {
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let notifier = notifier.cloned();
                runtime::spawn(async move {
                    let _guard = notifier.map(|n| runtime::task::register_preempt_notifier(n));
                    for _ in 0..YIELDS {
                        runtime::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// The flavor benchmarked: multi-thread with up to 4 workers (tokio's
/// setting), or current-thread, where the per-poll cost shows without lock
/// contention between workers.
fn flavor(multi: bool) -> Flavor {
    if multi {
        Flavor::MultiThread(workers())
    } else {
        Flavor::CurrentThread
    }
}

fn bench(c: &mut Criterion) {
    for multi in [true, false] {
        group(c, multi);
    }
}

fn group(c: &mut Criterion, multi: bool) {
    let mut group = c.benchmark_group(if multi {
        "yield_many"
    } else {
        "yield_many_current_thread"
    });
    group.sample_size(20);

    let tokio = common::tokio_builder(flavor(multi)).build().unwrap();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        tokio::spawn(async {
                            for _ in 0..YIELDS {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            })
        })
    });

    let plain = common::our_builder(flavor(multi)).build().unwrap();
    group.bench_function("runtime", |b| b.iter(|| yield_many_ours(&plain, None)));

    let calls = Arc::new(AtomicU64::new(0));
    let (a, b2) = (calls.clone(), calls.clone());
    let hooked = common::our_builder(flavor(multi))
        .on_switch_in(move |info, worker| {
            a.fetch_add(info.polls() + worker as u64, Ordering::Relaxed);
        })
        .on_switch_out(move |info, reason| {
            b2.fetch_add(
                u64::from(info.is_runnable()) + reason as u64,
                Ordering::Relaxed,
            );
        })
        .build()
        .unwrap();
    group.bench_function("runtime+switch_hooks", |b| {
        b.iter(|| yield_many_ours(&hooked, None))
    });

    let count = Arc::new(Count::default());
    group.bench_function("runtime+notifiers", |b| {
        b.iter(|| yield_many_ours(&plain, Some(&count)))
    });
    group.finish();
    black_box((
        calls.load(Ordering::Relaxed),
        count.0.load(Ordering::Relaxed),
    ));
}

criterion_group!(benches, bench);
criterion_main!(benches);
