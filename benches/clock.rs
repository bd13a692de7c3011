//! The cost of the clock read that times every poll.
//!
//! The runtime's scheduler clock is `quanta`'s (the CPU's time stamp counter
//! where it is invariant); each poll reads it once, as the end of one poll is
//! the start of the next. The runtime reads one calibrated `quanta::Clock`
//! raw and scales the distance from its epoch reading (`quanta_raw_ns`, the
//! per-poll cost). The bench measures that beside `quanta::Instant::now` and
//! `std::time::Instant::now`, each also with the conversion to nanoseconds
//! since an epoch, so the per-poll cost of timing can be quoted.
//!
//! `cargo bench -p benches --bench clock`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    // Calibrates quanta's clock before the timed loop.
    let _ = quanta::Instant::now();
    g.bench_function("quanta_now", |b| {
        b.iter(|| black_box(quanta::Instant::now()))
    });
    g.bench_function("std_instant_now", |b| {
        b.iter(|| black_box(std::time::Instant::now()))
    });
    let epoch = quanta::Instant::now();
    g.bench_function("quanta_elapsed_ns", |b| {
        b.iter(|| {
            black_box(
                quanta::Instant::now()
                    .saturating_duration_since(epoch)
                    .as_nanos() as u64,
            )
        })
    });
    let clock = quanta::Clock::new();
    let epoch = clock.raw();
    g.bench_function("quanta_raw_ns", |b| {
        b.iter(|| black_box(clock.delta_as_nanos(epoch, clock.raw())))
    });
    let epoch = std::time::Instant::now();
    g.bench_function("std_elapsed_ns", |b| {
        b.iter(|| black_box(epoch.elapsed().as_nanos() as u64))
    });
    g.finish();
}

criterion_group!(benches, clock);
criterion_main!(benches);
