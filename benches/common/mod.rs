//! Setup shared by the benches that run each workload on tokio and on this
//! runtime side by side: the runtime flavors they build, the worker count of a
//! multi-thread runtime, and criterion's group and timing settings.
//!
//! Every bench is a crate of its own and declares this module itself; most use
//! only part of it.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode};

/// Workers of a multi-thread runtime: the available parallelism, capped at 4
/// (tokio's benches use 4).
pub(crate) fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The shape of a runtime, built alike on tokio ([`tokio_builder`]) and on
/// this runtime ([`our_builder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Flavor {
    /// Current-thread: tasks run on the thread inside `block_on`.
    CurrentThread,
    /// Multi-thread with this many workers.
    MultiThread(usize),
    /// Multi-thread with the runtime's default worker count: one per core.
    MultiThreadDefault,
}

/// A builder of `$Builder` for `$flavor`: tokio's and this runtime's builders
/// have the same constructors and `worker_threads`, but no trait in common.
macro_rules! builder {
    ($Builder:ty, $flavor:expr) => {
        match $flavor {
            Flavor::CurrentThread => <$Builder>::new_current_thread(),
            Flavor::MultiThread(n) => {
                let mut builder = <$Builder>::new_multi_thread();
                builder.worker_threads(n);
                builder
            }
            Flavor::MultiThreadDefault => <$Builder>::new_multi_thread(),
        }
    };
}

/// A tokio builder of `flavor`, with no driver enabled yet.
pub(crate) fn tokio_builder(flavor: Flavor) -> tokio::runtime::Builder {
    builder!(tokio::runtime::Builder, flavor)
}

/// A builder of this runtime of `flavor`.
pub(crate) fn our_builder(flavor: Flavor) -> runtime::Builder {
    builder!(runtime::Builder, flavor)
}

/// A group for iterations of a millisecond or more: few samples, flat
/// sampling (the same iteration count in every sample).
pub(crate) fn flat_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group
}

/// Criterion's settings for these benches: 1 s of warm-up and 2 s of
/// measurement per benchmark.
pub(crate) fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}
