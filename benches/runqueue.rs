//! Per-operation cost of the EEVDF run queue (`runtime::sched::RunQueue`), at
//! 10, 1 000, 100 000 and 1 000 000 queued entities. Every figure is the time of
//! one operation (`Throughput::Elements(1)`), on a queue at a steady size.
//!
//! Each queue is built once per benchmark (lazily, so benchmarks filtered out on
//! the command line build nothing), with weights nice -5..=5 round robin and the
//! default 700 µs base slice, then *aged* by `2·N` pick + charge cycles so that
//! vruntimes and deadlines are spread out as in a long-running worker instead of
//! all sitting at `V`. Neither the build nor the ageing is timed, and the state
//! carries over from sample to sample.
//!
//! - `cycle/N` — **the runtime's default configuration; quote this one for
//!   the runtime.** The worker's hot loop. One iteration is `pick()` (always
//!   `Pick::Run`: nothing blocks) followed by `charge(d)`, `d` cycling through
//!   `RUNS` (25..=180 µs), so the running entity's deadline is renewed on some
//!   iterations and not on others. The running entity stays in the tree; a
//!   switch moves nothing. The queue has `Config::new()`, the policy every
//!   runtime worker uses (`runtime::Builder` sets only the base slice and
//!   delayed dequeue, and has no switch for run to parity): run to parity on,
//!   so a pick keeps the running entity (O(1), no tree work) while it is
//!   protected; with these run lengths that is about 6 picks in 7, and the
//!   figure is mostly the amortised cost of the one real switch per ~700 µs of
//!   run time.
//! - `cycle_no_parity/N` — not a configuration the runtime uses; an upper bound
//!   for comparison. The same loop with `.run_to_parity(false)`, so every pick
//!   really re-picks (refresh of the last runner's ancestors + the
//!   earliest-eligible walk): the cost of a decision made afresh after every
//!   poll, which is what `cycle` pays on its one real switch in ~7.
//! - `yield_round/N`: the runtime's `yield_now` path. `pick()`, a short
//!   `charge` (90..=210 ns, cycling through `YIELD_RUNS`, as yields of a
//!   light task measure), then `yield_to_others()`: the yielder is passed
//!   over once. No deadline is renewed, so the order is by eligibility among
//!   equal requests; the uneven runs make that order jump about in the queue
//!   as it would in a worker.
//! - `yield_round_staggered/N`: the same, but the entities arrive one at a
//!   time, three yields apart (as spawns from another thread land on a busy
//!   worker), so each has its own vruntime and deadline and most picks must
//!   find the first eligible entity in deadline order.
//! - `enqueue_dequeue/new_remove/N`: `enqueue_new` + `remove` of one extra
//!   entity. Insert and delete at the position of a newcomer (lag 0, half-slice
//!   deadline); the extra entity reuses the same slot and mostly the same tree
//!   path each time, so this is the cache-friendly best case.
//! - `enqueue_dequeue/migrate_out_in/N`: `migrate_out` + `migrate_in` (on the
//!   same queue) of a uniformly random runnable entity: a dequeue and an enqueue
//!   at an arbitrary tree position, including the lag clamp and the lag-keeping
//!   placement. With large N the entity's slot, node and tree path are usually
//!   cold, as for a task woken or stolen at random.
//!
//! Run with `cargo bench -p benches --bench runqueue`; `cargo test -p benches
//! --benches` runs each benchmark once, as a smoke test (unoptimised, so its
//! queues are aged by at most 2 000 cycles).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use runtime::sched::{Config, EntityId, Params, Pick, RunQueue, Weight};

/// Queue sizes (entities queued, the running one included).
const SIZES: [usize; 4] = [10, 1_000, 100_000, 1_000_000];

/// Run lengths charged in turn. A nice-0 entity renews its deadline after about
/// 700 µs of these, i.e. on roughly one charge in seven.
const RUNS: [Duration; 8] = [
    Duration::from_micros(100),
    Duration::from_micros(60),
    Duration::from_micros(140),
    Duration::from_micros(100),
    Duration::from_micros(25),
    Duration::from_micros(180),
    Duration::from_micros(100),
    Duration::from_micros(95),
];

/// Run lengths of the `yield_round` bench, charged in turn.
const YIELD_RUNS: [Duration; 5] = [
    Duration::from_nanos(120),
    Duration::from_nanos(180),
    Duration::from_nanos(90),
    Duration::from_nanos(150),
    Duration::from_nanos(210),
];

type Queue = RunQueue<usize>;

fn params(i: usize) -> Params {
    let nice = (i % 11) as i32 - 5;
    Params::new().weight(Weight::from_nice(nice).expect("nice -5..=5 is valid"))
}

/// A queue of `n` entities, aged by `2·n` cycles (fewer in smoke tests) so that
/// one of them is running, with the handles of all of them and the position in
/// `RUNS` to continue from.
fn build(config: Config, n: usize) -> (Queue, Vec<EntityId>, usize) {
    let mut q = RunQueue::new(config).expect("valid config");
    let ids = (0..n).map(|i| q.enqueue_new(params(i), i)).collect();
    let mut k = 0;
    // Unoptimised smoke tests age briefly: long enough to leave an entity running.
    let cycles = if benchmarking() {
        2 * n
    } else {
        (2 * n).min(2_000)
    };
    for _ in 0..cycles {
        cycle(&mut q, &mut k);
    }
    (q, ids, k)
}

/// Whether criterion measures (`cargo bench`) rather than runs each benchmark
/// once (`cargo test --benches`, unoptimised): the same rule criterion uses.
fn benchmarking() -> bool {
    let mut args = std::env::args().skip(1);
    let (mut bench, mut test) = (false, false);
    for a in &mut args {
        bench |= a == "--bench";
        test |= a == "--test";
    }
    bench && !test
}

/// One worker iteration: pick (requeueing the previous entity), then charge the
/// next run length from `RUNS`.
#[inline(always)]
fn cycle(q: &mut Queue, k: &mut usize) -> EntityId {
    let Pick::Run(id) = q.pick() else {
        unreachable!("nothing blocks, so every pick runs an entity")
    };
    let ran = RUNS[*k % RUNS.len()];
    *k = k.wrapping_add(1);
    black_box(q.charge(black_box(ran)).expect("an entity is running"));
    id
}

/// xorshift64*: cheap, deterministic, good enough to choose entities.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Uniform in `0..len` without a division (Lemire's multiply-shift).
fn below(state: &mut u64, len: usize) -> usize {
    ((u128::from(next_random(state)) * len as u128) >> 64) as usize
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .throughput(Throughput::Elements(1))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn bench_cycle(c: &mut Criterion, name: &str, config: Config) {
    let mut group = c.benchmark_group(name);
    configure(&mut group);
    for n in SIZES {
        let mut state = None;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            let (q, _, k) = state.get_or_insert_with(|| build(config, n));
            b.iter(|| cycle(q, k));
        });
    }
    group.finish();
}

/// `cycle`: the runtime's default policy (run to parity on).
fn cycle_parity(c: &mut Criterion) {
    bench_cycle(c, "cycle", Config::new());
}

/// `cycle_no_parity`: run to parity off, for comparison only.
fn cycle_no_parity(c: &mut Criterion) {
    bench_cycle(c, "cycle_no_parity", Config::new().run_to_parity(false));
}

/// `yield_round`: every poll ends in a yield, on equal-weight entities.
fn yield_round(c: &mut Criterion) {
    for (name, staggered) in [("yield_round", false), ("yield_round_staggered", true)] {
        let mut group = c.benchmark_group(name);
        configure(&mut group);
        for n in SIZES {
            let mut state = None;
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                let (q, k) = state.get_or_insert_with(|| {
                    let mut q = Queue::new(Config::new()).expect("valid config");
                    let mut k = 0usize;
                    for i in 0..n {
                        q.enqueue_new(Params::new(), i);
                        if staggered {
                            // Arrivals land between polls: each newcomer
                            // gets its own vruntime and deadline.
                            for _ in 0..3 {
                                yield_step(&mut q, &mut k);
                            }
                        }
                    }
                    (q, k)
                });
                b.iter(|| yield_step(q, k));
            });
        }
        group.finish();
    }
}

/// One poll of the `yield_round` benches: pick, a short charge, yield.
fn yield_step(q: &mut Queue, k: &mut usize) -> EntityId {
    let Pick::Run(id) = q.pick() else {
        unreachable!("nothing blocks, so every pick runs an entity")
    };
    *k = k.wrapping_add(1);
    let ran = YIELD_RUNS[*k % YIELD_RUNS.len()];
    black_box(q.charge(ran).expect("an entity is running"));
    q.yield_to_others().expect("an entity is running");
    id
}

fn enqueue_dequeue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue_dequeue");
    configure(&mut group);
    for n in SIZES {
        let mut state = None;
        group.bench_function(BenchmarkId::new("new_remove", n), |b| {
            let (q, _, _) = state.get_or_insert_with(|| build(Config::new(), n));
            let mut i = n;
            b.iter(|| {
                let id = q.enqueue_new(params(i), i);
                i += 1;
                black_box(q.remove(black_box(id)).expect("just enqueued"))
            });
        });
        drop(state);

        let mut state = None;
        group.bench_function(BenchmarkId::new("migrate_out_in", n), |b| {
            let (q, ids, rng) = state.get_or_insert_with(|| {
                let (q, mut ids, _) = build(Config::new(), n);
                // The running entity cannot migrate; choose among the others.
                let running = q.current().expect("ageing leaves an entity running");
                ids.retain(|&id| id != running);
                (q, ids, 0x9e37_79b9_7f4a_7c15_u64)
            });
            b.iter(|| {
                let j = below(rng, ids.len());
                let m = q.migrate_out(ids[j]).expect("a runnable entity");
                ids[j] = q.migrate_in(black_box(m));
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    cycle_parity,
    cycle_no_parity,
    yield_round,
    enqueue_dequeue
);
criterion_main!(benches);
