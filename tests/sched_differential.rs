//! Differential test of `runtime::sched::RunQueue` against a brute-force model.
//!
//! # What it checks
//!
//! proptest generates a random queue policy (delayed dequeue on/off, wake lag
//! `Keep`/`Reset`, run to parity on/off), two real queues with that policy,
//! each with its own random starting point on the wrapping virtual time line,
//! and a random sequence of operations on either queue: `enqueue_new` (nice
//! −20..=19, optional custom slice), `pick` (repeated while it returns
//! `Pick::Dequeued`), `charge` (mostly 0..3 ms; sometimes exactly up to the
//! running entity's deadline; rarely up to 20 s, so that the real queue has to
//! recenter its zero point), `yield_current`, `yield_to_others`,
//! `block_current`, and `wake`, `remove`, `reweight` (random nice) and
//! migration (`migrate_out` from the queue it is on, `migrate_in` to the other)
//! of a random entity (removed ones included, so stale handles are exercised
//! too). Each operation is applied to the real queues and to one reference
//! model per queue (`model.rs`), and after every operation (and every
//! individual `pick` call) the test asserts, for both queues, that
//!
//! - the operation returned the same thing (pick results with ids mapped,
//!   `Block`/`Wake` outcomes, `Charge { renewed, resched }`, removed payloads,
//!   a migrant's lag, queued flag and payload, and the same errors);
//! - `avg_vruntime()` (V) is the same;
//! - every entity has the same state, weight, slice, vruntime, deadline,
//!   `lag_ns`, eligibility, runtime and payload (`RunQueue::info`), and dead
//!   handles (removed entities, and the old handles of migrated ones) are
//!   refused;
//! - `nr_queued`, `nr_runnable`, `nr_delayed`, `len`, `total_weight` and
//!   `current` agree.
//!
//! Independently of the model, each pick is checked for EEVDF optimality
//! against the real queue's own view just before the call: the entity it
//! returns was queued and eligible, and unless it is the running entity kept by
//! run to parity, it had the earliest deadline of all eligible queued entities
//! (ties go in turn: first the tied entities inserted after the one picked
//! last, then the rest, each in insertion order; the model checks that), with
//! one exception: an entity that called
//! `yield_to_others` is passed over, and is picked again only if no other
//! queued entity is eligible. Likewise each charge that leaves the running
//! entity ineligible, with another entity runnable, must ask for a reschedule.
//!
//! # Why
//!
//! The real queue gets its speed from an augmented AVL tree, incrementally
//! maintained `i128` sums, a zero point that is recentered now and then, and
//! wrapping virtual time. The model has none of that: it keeps a `Vec`,
//! recomputes `V` as a floored weighted mean on every use and picks by linear
//! scan, following the written rules of the policy (see the `sched` module docs
//! and the EEVDF reference, sections 2-6). Any divergence is a bookkeeping bug
//! in one of the two, down to the last virtual nanosecond.
//!
//! # Rules worth knowing
//!
//! Run to parity keeps the running entity until its protected vruntime whether
//! or not it is still eligible (poll ends are the queue's ticks), and reweight
//! puts the new vruntime at the integer nearest the exact rescale that keeps
//! ⌊V⌋ unchanged. Both are in the model.

mod model;

use std::time::Duration;

use model::{MMigrant, MPick, Model, before};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use runtime::sched::{
    Config, EntityId, EntityInfo, EntityState, Error, Migrant, Params, Pick, RunQueue, WakeLag,
    Weight,
};

/// Operations. Queue operations name a queue (0 or 1); entity operands are
/// indices into the list of all entities ever created (modulo its length),
/// which act on whichever queue the entity is on, so removed entities get
/// picked too.
#[derive(Debug, Clone)]
enum Op {
    New {
        q: usize,
        nice: i32,
        slice_ns: Option<u64>,
    },
    Pick(usize),
    Charge(usize, u64),
    /// Charge exactly what takes the running entity to its deadline.
    ChargeToDeadline(usize),
    Yield(usize),
    YieldToOthers(usize),
    Block(usize),
    Wake(usize),
    Remove(usize),
    Reweight(usize, i32),
    /// `migrate_out` from the entity's queue and, if that succeeds,
    /// `migrate_in` to the other.
    Migrate(usize),
}

fn op() -> impl Strategy<Value = Op> {
    // Queue 0 gets most of the traffic; queue 1 enough to hold its own
    // entities and schedule them.
    let q = || prop_oneof![2 => Just(0usize), 1 => Just(1usize)];
    // Half the entities at nice 0 and most with the base slice, so that equal
    // deadlines (and hence the insertion-order tie-break) are common.
    let nice = prop_oneof![1 => Just(0i32), 1 => -20i32..=19];
    // Custom slices below, inside and above the clamp range 0.1..=100 ms.
    let slice = prop_oneof![
        1 => 0u64..100_000,
        4 => 100_000u64..3_000_000,
        1 => 50_000_000u64..200_000_000,
    ];
    // Run times within 0..3 ms, with zero and short runs over-represented,
    // plus rare long ones (up to 20 s) that carry vruntimes more than 2^32 ns
    // from the real queue's zero point, so that it recenters.
    let ran = prop_oneof![
        10 => Just(0u64),
        20 => 0u64..100_000,
        70 => 0u64..3_000_000,
        1 => 3_000_000u64..20_000_000_000,
    ];
    prop_oneof![
        3 => (q(), nice, prop::option::weighted(0.3, slice))
            .prop_map(|(q, nice, slice_ns)| Op::New { q, nice, slice_ns }),
        6 => q().prop_map(Op::Pick),
        6 => (q(), ran).prop_map(|(q, dt)| Op::Charge(q, dt)),
        1 => q().prop_map(Op::ChargeToDeadline),
        1 => q().prop_map(Op::Yield),
        1 => q().prop_map(Op::YieldToOthers),
        3 => q().prop_map(Op::Block),
        3 => (0usize..64).prop_map(Op::Wake),
        1 => (0usize..64).prop_map(Op::Remove),
        1 => (0usize..64, -20i32..=19).prop_map(|(i, nice)| Op::Reweight(i, nice)),
        2 => (0usize..64).prop_map(Op::Migrate),
    ]
}

/// Where the queue's virtual time starts: 0 (a fresh queue), anywhere, or
/// just below the `u64` wrap-around.
fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        1 => any::<u64>(),
        1 => (u64::MAX - 10_000_000_000)..=u64::MAX,
    ]
}

/// Moves each empty queue's `V` to its start through the public API: a
/// nice-0 entity runs `start` ns and is removed, and an empty queue keeps the
/// vruntime of the last entity that left. (Checked like any other ops.)
fn prologue(starts: [u64; 2]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut created = 0;
    for (q, start) in starts.into_iter().enumerate() {
        if start == 0 {
            continue;
        }
        ops.extend([
            Op::New {
                q,
                nice: 0,
                slice_ns: None,
            },
            Op::Pick(q),
            Op::Charge(q, start),
            Op::Remove(created),
        ]);
        created += 1;
    }
    ops
}

/// `(delayed_dequeue, keep_lag, run_to_parity)`.
fn policy() -> impl Strategy<Value = (bool, bool, bool)> {
    (any::<bool>(), any::<bool>(), any::<bool>())
}

fn weight(nice: i32) -> Weight {
    Weight::from_nice(nice).expect("nice is generated in range")
}

/// One real queue and its model side by side: `ids[m]` is the real handle of
/// model entity `m`, and `owner[m]` the number of the entity in the harness
/// (the real payload).
struct Side {
    real: RunQueue<usize>,
    model: Model,
    ids: Vec<EntityId>,
    owner: Vec<usize>,
}

/// Two queues with the same policy, and where each entity is: `at[g]` is the
/// `(queue, model id)` of entity `g` (its last place if it was removed).
struct Harness {
    sides: [Side; 2],
    at: Vec<(usize, usize)>,
    run_to_parity: bool,
}

impl Harness {
    fn new((delayed_dequeue, keep_lag, run_to_parity): (bool, bool, bool)) -> Harness {
        let config = Config::new()
            .delayed_dequeue(delayed_dequeue)
            .wake_lag(if keep_lag {
                WakeLag::Keep
            } else {
                WakeLag::Reset
            })
            .run_to_parity(run_to_parity);
        let side = || Side {
            real: RunQueue::new(config).expect("valid config"),
            model: Model::new(delayed_dequeue, keep_lag, run_to_parity),
            ids: Vec::new(),
            owner: Vec::new(),
        };
        Harness {
            sides: [side(), side()],
            at: Vec::new(),
            run_to_parity,
        }
    }

    /// Model id on queue `q` of a real handle.
    fn model_id(&self, q: usize, id: EntityId) -> Result<usize, TestCaseError> {
        self.sides[q]
            .ids
            .iter()
            .position(|&x| x == id)
            .ok_or_else(|| {
                TestCaseError::fail(format!("real queue {q} returned unknown handle {id:?}"))
            })
    }

    fn map_pick(&self, q: usize, p: Pick) -> Result<MPick, TestCaseError> {
        Ok(match p {
            Pick::Run(id) => MPick::Run(self.model_id(q, id)?),
            Pick::Dequeued(id) => MPick::Dequeued(self.model_id(q, id)?),
            Pick::Idle => MPick::Idle,
        })
    }

    /// The `(queue, model id)` of entity operand `i`, or `None` if no entity
    /// was created yet.
    fn target(&self, i: usize) -> Option<(usize, usize)> {
        (!self.at.is_empty()).then(|| self.at[i % self.at.len()])
    }

    /// Records a new entity `m` on queue `q` with real handle `id`, as entity
    /// `g` of the harness.
    fn place(&mut self, g: usize, q: usize, m: usize, id: EntityId) {
        let side = &mut self.sides[q];
        debug_assert_eq!(side.ids.len(), m, "model ids are dense");
        side.ids.push(id);
        side.owner.push(g);
        if g == self.at.len() {
            self.at.push((q, m));
        } else {
            self.at[g] = (q, m);
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::New { q, nice, slice_ns } => {
                let w = weight(nice);
                let mut params = Params::new().weight(w);
                if let Some(s) = slice_ns {
                    params = params.slice(Duration::from_nanos(s));
                }
                let g = self.at.len();
                let side = &mut self.sides[q];
                let m = side.model.enqueue_new(u64::from(w.get()), slice_ns);
                let id = side.real.enqueue_new(params, g);
                self.place(g, q, m, id);
            }
            Op::Pick(q) => {
                // A pick that dequeues a delayed entity is repeated. This ends:
                // the model agrees on every call (or the test fails), and each
                // `Dequeued` takes one entity off the model's queue.
                while !self.pick_once(q)? {}
            }
            Op::Charge(q, dt) => self.charge(q, dt)?,
            Op::ChargeToDeadline(q) => {
                // The shortest run that takes the running entity's vruntime to
                // its deadline (exactly, when its weight allows), from the
                // model's state: the boundary of the renewal rule.
                let model = &self.sides[q].model;
                let dt = match model.running() {
                    None => 0,
                    Some(c) => {
                        let e = &model.ents[c];
                        let gap = i128::from(e.d.wrapping_sub(e.v) as i64).max(0);
                        let need = gap * i128::from(e.weight) - i128::from(e.vrem);
                        (need.max(0) as u64).div_ceil(model::NICE_0)
                    }
                };
                self.charge(q, dt)?;
            }
            Op::Yield(q) => {
                let side = &mut self.sides[q];
                prop_assert_eq!(side.real.yield_current(), side.model.yield_current());
            }
            Op::YieldToOthers(q) => {
                let side = &mut self.sides[q];
                prop_assert_eq!(side.real.yield_to_others(), side.model.yield_to_others());
            }
            Op::Block(q) => {
                let side = &mut self.sides[q];
                prop_assert_eq!(side.real.block_current(), side.model.block_current());
            }
            Op::Wake(i) => {
                if let Some((q, m)) = self.target(i) {
                    let side = &mut self.sides[q];
                    prop_assert_eq!(
                        side.real.wake(side.ids[m]),
                        side.model.wake(m),
                        "wake {} on queue {}",
                        m,
                        q
                    );
                }
            }
            Op::Remove(i) => {
                if let Some((q, m)) = self.target(i) {
                    let side = &mut self.sides[q];
                    let want = side.model.remove(m).map(|()| side.owner[m]);
                    prop_assert_eq!(
                        side.real.remove(side.ids[m]),
                        want,
                        "remove {} on queue {}",
                        m,
                        q
                    );
                }
            }
            Op::Reweight(i, nice) => {
                if let Some((q, m)) = self.target(i) {
                    let side = &mut self.sides[q];
                    let w = weight(nice);
                    let got = side.real.reweight(side.ids[m], w);
                    let want = side.model.reweight(m, u64::from(w.get()));
                    prop_assert_eq!(got, want, "reweight {} to nice {}", m, nice);
                    if let Ok(info) = side.real.info(side.ids[m]) {
                        // The rule: d (and vprot) of a queued entity map to
                        // z + ⌊(w_old·(x−z)·L + (w_new−w_old)·K) / (w_new·L)⌋,
                        // v to the nearest value keeping ⌊V⌋. Checked here,
                        // ahead of the full comparison, so that a different
                        // reweight rule is reported as such and not as the V
                        // (or lag) change it causes next.
                        prop_assert_eq!(
                            (info.vruntime, info.deadline),
                            (side.model.ents[m].v, side.model.ents[m].d),
                            "reweight {} to nice {}: (vruntime, deadline)",
                            m,
                            nice
                        );
                    }
                }
            }
            Op::Migrate(i) => {
                if let Some((q, m)) = self.target(i) {
                    self.migrate(q, m)?;
                }
            }
        }
        self.check()
    }

    /// Moves model entity `m` of queue `q` to the other queue, on both sides.
    fn migrate(&mut self, q: usize, m: usize) -> Result<(), TestCaseError> {
        let side = &mut self.sides[q];
        let g = side.owner[m];
        let got = side.real.migrate_out(side.ids[m]);
        let want = side.model.migrate_out(m);
        let (got, want): (Migrant<usize>, MMigrant) = match (got, want) {
            (Ok(got), Ok(want)) => (got, want),
            (got, want) => {
                prop_assert_eq!(
                    got.map(|_| ()),
                    want.map(|_| ()),
                    "migrate_out {} from queue {}",
                    m,
                    q
                );
                return Ok(());
            }
        };
        prop_assert_eq!(got.lag_ns(), want.lag_ns(), "migrant lag of {}", m);
        prop_assert_eq!(got.is_queued(), want.queued, "migrant queued flag of {}", m);
        prop_assert_eq!(*got.payload(), g, "migrant payload of {}", m);
        // The source is checked on its own first, so a bad departure is
        // reported as such and not as the arrival it spoils.
        self.check_side(q)?;
        let to = 1 - q;
        let dest = &mut self.sides[to];
        let id = dest.real.migrate_in(got);
        let m_new = dest.model.migrate_in(want);
        self.place(g, to, m_new, id);
        Ok(())
    }

    fn charge(&mut self, q: usize, dt: u64) -> Result<(), TestCaseError> {
        let run_to_parity = self.run_to_parity;
        let side = &mut self.sides[q];
        let got = side
            .real
            .charge(Duration::from_nanos(dt))
            .map(|c| (c.renewed, c.resched));
        let want = side.model.charge(dt);
        prop_assert_eq!(
            got.clone().map(|(renewed, _)| renewed),
            want.clone().map(|(renewed, _)| renewed),
            "charge({}): renewed",
            dt
        );
        if let (Ok((_, resched)), Some(cur)) = (&got, side.real.current()) {
            // The rule, model-independently: without run to parity an
            // ineligible running entity is never protected, so with another
            // runnable entity it must be switched out.
            let eligible = side.real.info(cur).map(|i| i.eligible);
            prop_assert!(
                run_to_parity || side.real.nr_runnable() <= 1 || eligible == Ok(true) || *resched,
                "charge({}): the running entity is ineligible and unprotected, \
                 and another is runnable, but resched is false",
                dt
            );
        }
        prop_assert_eq!(
            got.map(|(_, resched)| resched),
            want.map(|(_, resched)| resched),
            "charge({}): resched",
            dt
        );
        Ok(())
    }

    /// One `pick` call on queue `q` on both sides, plus the model-independent
    /// optimality check. Returns whether the pick loop is finished (not
    /// `Dequeued`).
    fn pick_once(&mut self, q: usize) -> Result<bool, TestCaseError> {
        let side = &self.sides[q];
        // The real queue's view before the call. The set of queued entities
        // and hence V and eligibility are the same as the pick sees after
        // putting the running entity back.
        let snapshot: Vec<Option<EntityInfo>> =
            side.ids.iter().map(|&id| side.real.info(id).ok()).collect();
        let prev_running = side.real.current();
        // The entity that yielded to others, if that is still pending (which
        // only the model can say: the real queue does not expose it).
        let yielder = side.model.skip;

        let got = self.sides[q].real.pick();
        let got_m = self.map_pick(q, got)?;
        let want = self.sides[q].model.pick();
        self.check_pick(q, got_m, &snapshot, prev_running, yielder)?;
        prop_assert_eq!(got_m, want, "pick on queue {}", q);
        self.check()?;
        Ok(!matches!(got_m, MPick::Dequeued(_)))
    }

    /// EEVDF optimality of a pick on queue `q`, judged from the real queue's
    /// own view just before it (`snapshot`, `prev_running`), and the pending
    /// yielder.
    fn check_pick(
        &self,
        q: usize,
        got_m: MPick,
        snapshot: &[Option<EntityInfo>],
        prev_running: Option<EntityId>,
        yielder: Option<usize>,
    ) -> Result<(), TestCaseError> {
        let queued = |i: &EntityInfo| i.state != EntityState::Sleeping;
        let chosen = match got_m {
            MPick::Idle => {
                prop_assert!(
                    !snapshot.iter().flatten().any(queued),
                    "pick returned Idle with entities queued"
                );
                return Ok(());
            }
            MPick::Run(p) => {
                let state = snapshot[p].map(|i| i.state);
                prop_assert!(
                    matches!(state, Some(EntityState::Runnable | EntityState::Running)),
                    "picked {} to run from state {:?}",
                    p,
                    state
                );
                p
            }
            MPick::Dequeued(p) => {
                let state = snapshot[p].map(|i| i.state);
                prop_assert_eq!(state, Some(EntityState::Delayed), "dequeued {}", p);
                p
            }
        };
        let p = snapshot[chosen].expect("checked above");
        let kept_by_parity = self.run_to_parity && prev_running == Some(self.sides[q].ids[chosen]);
        if kept_by_parity {
            // Run to parity may keep even an ineligible running entity until
            // its protected request is used.
            return Ok(());
        }
        // Whatever is picked afresh is eligible.
        prop_assert!(p.eligible, "picked {} while ineligible", chosen);
        let others_eligible = snapshot
            .iter()
            .enumerate()
            .any(|(m, i)| m != chosen && i.as_ref().is_some_and(|i| queued(i) && i.eligible));
        if yielder == Some(chosen) {
            prop_assert!(
                !others_eligible,
                "picked {} again after it yielded to others, with others eligible",
                chosen
            );
        }
        // Earliest eligible deadline. A yielder is passed over. (Ties go in
        // turn after the last pick, which the comparison with the model
        // checks.)
        for (m, info) in snapshot.iter().enumerate() {
            let Some(info) = info else { continue };
            if m == chosen || Some(m) == yielder || !queued(info) || !info.eligible {
                continue;
            }
            let earlier = before(info.deadline, p.deadline);
            prop_assert!(
                !earlier,
                "picked {} (deadline {}) over eligible {} (deadline {})",
                chosen,
                p.deadline,
                m,
                info.deadline
            );
        }
        Ok(())
    }

    /// Full state comparison of both queues.
    fn check(&self) -> Result<(), TestCaseError> {
        self.check_side(0)?;
        self.check_side(1)
    }

    /// Full state comparison of queue `q`.
    fn check_side(&self, q: usize) -> Result<(), TestCaseError> {
        let Side {
            real,
            model,
            ids,
            owner,
        } = &self.sides[q];
        prop_assert_eq!(real.avg_vruntime(), model.avg(), "V of queue {}", q);
        prop_assert_eq!(real.nr_queued(), model.nr_queued(), "nr_queued");
        prop_assert_eq!(real.nr_delayed(), model.nr_delayed(), "nr_delayed");
        prop_assert_eq!(
            real.nr_runnable(),
            model.nr_queued() - model.nr_delayed(),
            "nr_runnable"
        );
        prop_assert_eq!(real.len(), model.nr_live(), "len");
        prop_assert_eq!(real.is_empty(), model.nr_live() == 0, "is_empty");
        prop_assert_eq!(real.total_weight(), model.total_weight(), "total_weight");
        prop_assert_eq!(real.current(), model.running().map(|m| ids[m]), "current");
        for (m, (&id, e)) in ids.iter().zip(&model.ents).enumerate() {
            if !e.alive {
                prop_assert_eq!(
                    real.info(id),
                    Err(Error::UnknownEntity),
                    "info of removed or migrated {} on queue {}",
                    m,
                    q
                );
                prop_assert_eq!(real.get(id), None, "payload of removed {}", m);
                continue;
            }
            prop_assert_eq!(real.get(id), Some(&owner[m]), "payload of {}", m);
            let info = real
                .info(id)
                .map_err(|err| TestCaseError::fail(format!("info({m}) on queue {q}: {err}")))?;
            prop_assert_eq!(info.state, e.state, "state of {} on queue {}", m, q);
            prop_assert_eq!(u64::from(info.weight.get()), e.weight, "weight of {}", m);
            prop_assert_eq!(info.slice, Duration::from_nanos(e.slice), "slice of {}", m);
            prop_assert_eq!(info.custom_slice, e.custom, "custom_slice of {}", m);
            prop_assert_eq!(info.vruntime, e.v, "vruntime of {} on queue {}", m, q);
            prop_assert_eq!(info.deadline, e.d, "deadline of {} on queue {}", m, q);
            prop_assert_eq!(
                info.lag_ns,
                model.lag_ns(m),
                "lag_ns of {} on queue {}",
                m,
                q
            );
            prop_assert_eq!(info.eligible, model.is_eligible(m), "eligible of {}", m);
            prop_assert_eq!(
                info.runtime,
                Duration::from_nanos(e.runtime),
                "runtime of {}",
                m
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        // Relative to the package directory (`cargo test` runs there).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/sched_differential.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// The real queue and the model agree after every operation.
    #[test]
    fn run_queue_matches_reference_model(
        policy in policy(),
        starts in [start(), start()],
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let mut h = Harness::new(policy);
        for op in prologue(starts).iter().chain(&ops) {
            h.apply(op)?;
        }
    }
}

/// Number of random (policy, starts, operation sequence) cases.
const CASES: u32 = 1024;
/// Operation sequences have `1..MAX_OPS` operations (after the prologue).
const MAX_OPS: usize = 300;
