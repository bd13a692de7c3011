//! Differential test of `runtime::sched::RunQueue` against a brute-force model.
//!
//! # What it checks
//!
//! proptest generates a random queue policy (delayed dequeue on/off, wake lag
//! `Keep`/`Reset`, run to parity on/off), a random starting point on the
//! wrapping virtual time line, and a random sequence of operations:
//! `enqueue_new` (nice −20..=19, optional custom slice), `pick` (repeated while
//! it returns `Pick::Dequeued`), `charge` (mostly 0..3 ms; sometimes exactly up
//! to the running entity's deadline; rarely up to 20 s, so that the real queue
//! has to recenter its zero point), `yield_current`, `block_current`, and
//! `wake`, `remove` and `reweight` (random nice) of a random entity (removed
//! ones included, so stale handles are exercised too). Each operation is applied
//! to the real queue and to the reference model in `model.rs`, and after every
//! operation (and every individual `pick` call) the test asserts that
//!
//! - the operation returned the same thing (pick results with ids mapped,
//!   `Block`/`Wake` outcomes, `Charge { renewed, resched }`, removed payloads,
//!   and the same errors);
//! - `avg_vruntime()` (V) is the same;
//! - every entity has the same state, weight, slice, vruntime, deadline,
//!   `lag_ns`, eligibility and runtime (`RunQueue::info`), and dead handles are
//!   refused;
//! - `nr_queued`, `nr_runnable`, `nr_delayed`, `len`, `total_weight` and
//!   `current` agree.
//!
//! Independently of the model, each pick is checked for EEVDF optimality
//! against the real queue's own view just before the call: the entity it
//! returns was queued and eligible, and unless it is the running entity kept by
//! run to parity, it had the earliest deadline of all eligible queued entities,
//! ties going to the earliest insertion (the running entity is re-inserted by
//! the pick, so it loses ties). Likewise each charge that leaves the running
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

use model::{MPick, Model, before};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use runtime::sched::{
    Config, EntityId, EntityInfo, EntityState, Error, Params, Pick, RunQueue, WakeLag, Weight,
};

/// Operations; entity operands are indices into the list of all entities ever
/// created (modulo its length), so removed entities get picked too.
#[derive(Debug, Clone)]
enum Op {
    New {
        nice: i32,
        slice_ns: Option<u64>,
    },
    Pick,
    Charge(u64),
    /// Charge exactly what takes the running entity to its deadline.
    ChargeToDeadline,
    Yield,
    Block,
    Wake(usize),
    Remove(usize),
    Reweight(usize, i32),
}

fn op() -> impl Strategy<Value = Op> {
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
        3 => (nice, prop::option::weighted(0.3, slice))
            .prop_map(|(nice, slice_ns)| Op::New { nice, slice_ns }),
        6 => Just(Op::Pick),
        6 => ran.prop_map(Op::Charge),
        1 => Just(Op::ChargeToDeadline),
        1 => Just(Op::Yield),
        3 => Just(Op::Block),
        3 => (0usize..64).prop_map(Op::Wake),
        1 => (0usize..64).prop_map(Op::Remove),
        1 => (0usize..64, -20i32..=19).prop_map(|(i, nice)| Op::Reweight(i, nice)),
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

/// Moves an empty queue's `V` to `start` through the public API: a nice-0
/// entity runs `start` ns and is removed, and an empty queue keeps the
/// vruntime of the last entity that left. (Checked like any other ops.)
fn prologue(start: u64) -> Vec<Op> {
    if start == 0 {
        return Vec::new();
    }
    vec![
        Op::New {
            nice: 0,
            slice_ns: None,
        },
        Op::Pick,
        Op::Charge(start),
        Op::Remove(0),
    ]
}

/// `(delayed_dequeue, keep_lag, run_to_parity)`.
fn policy() -> impl Strategy<Value = (bool, bool, bool)> {
    (any::<bool>(), any::<bool>(), any::<bool>())
}

fn weight(nice: i32) -> Weight {
    Weight::from_nice(nice).expect("nice is generated in range")
}

/// The real queue and the model side by side; `ids[i]` is the real handle of
/// model entity `i`, and its payload is `i`.
struct Harness {
    real: RunQueue<usize>,
    model: Model,
    ids: Vec<EntityId>,
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
        Harness {
            real: RunQueue::new(config).expect("valid config"),
            model: Model::new(delayed_dequeue, keep_lag, run_to_parity),
            ids: Vec::new(),
            run_to_parity,
        }
    }

    /// Model id of a real handle.
    fn model_id(&self, id: EntityId) -> Result<usize, TestCaseError> {
        self.ids.iter().position(|&x| x == id).ok_or_else(|| {
            TestCaseError::fail(format!("real queue returned unknown handle {id:?}"))
        })
    }

    fn map_pick(&self, p: Pick) -> Result<MPick, TestCaseError> {
        Ok(match p {
            Pick::Run(id) => MPick::Run(self.model_id(id)?),
            Pick::Dequeued(id) => MPick::Dequeued(self.model_id(id)?),
            Pick::Idle => MPick::Idle,
        })
    }

    /// Entity operand `i`, or `None` if no entity was created yet.
    fn target(&self, i: usize) -> Option<usize> {
        (!self.ids.is_empty()).then(|| i % self.ids.len())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::New { nice, slice_ns } => {
                let w = weight(nice);
                let mut params = Params::new().weight(w);
                if let Some(s) = slice_ns {
                    params = params.slice(Duration::from_nanos(s));
                }
                let m = self.model.enqueue_new(u64::from(w.get()), slice_ns);
                self.ids.push(self.real.enqueue_new(params, m));
            }
            Op::Pick => {
                // A pick that dequeues a delayed entity is repeated. This ends:
                // the model agrees on every call (or the test fails), and each
                // `Dequeued` takes one entity off the model's queue.
                while !self.pick_once()? {}
            }
            Op::Charge(dt) => self.charge(dt)?,
            Op::ChargeToDeadline => {
                // The shortest run that takes the running entity's vruntime to
                // its deadline (exactly, when its weight allows), from the
                // model's state: the boundary of the renewal rule.
                let dt = match self.model.running() {
                    None => 0,
                    Some(c) => {
                        let e = &self.model.ents[c];
                        let gap = i128::from(e.d.wrapping_sub(e.v) as i64).max(0);
                        let need = gap * i128::from(e.weight) - i128::from(e.vrem);
                        (need.max(0) as u64).div_ceil(model::NICE_0)
                    }
                };
                self.charge(dt)?;
            }
            Op::Yield => {
                prop_assert_eq!(self.real.yield_current(), self.model.yield_current());
            }
            Op::Block => {
                prop_assert_eq!(self.real.block_current(), self.model.block_current());
            }
            Op::Wake(i) => {
                if let Some(m) = self.target(i) {
                    prop_assert_eq!(
                        self.real.wake(self.ids[m]),
                        self.model.wake(m),
                        "wake {}",
                        m
                    );
                }
            }
            Op::Remove(i) => {
                if let Some(m) = self.target(i) {
                    let want = self.model.remove(m).map(|()| m);
                    prop_assert_eq!(self.real.remove(self.ids[m]), want, "remove {}", m);
                }
            }
            Op::Reweight(i, nice) => {
                if let Some(m) = self.target(i) {
                    let w = weight(nice);
                    let got = self.real.reweight(self.ids[m], w);
                    let want = self.model.reweight(m, u64::from(w.get()));
                    prop_assert_eq!(got, want, "reweight {} to nice {}", m, nice);
                    if let Ok(info) = self.real.info(self.ids[m]) {
                        // The rule: d (and vprot) of a queued entity map to
                        // z + ⌊(w_old·(x−z)·L + (w_new−w_old)·K) / (w_new·L)⌋,
                        // v to the nearest value keeping ⌊V⌋. Checked here,
                        // ahead of the full comparison, so that a different
                        // reweight rule is reported as such and not as the V
                        // (or lag) change it causes next.
                        prop_assert_eq!(
                            (info.vruntime, info.deadline),
                            (self.model.ents[m].v, self.model.ents[m].d),
                            "reweight {} to nice {}: (vruntime, deadline)",
                            m,
                            nice
                        );
                    }
                }
            }
        }
        self.check()
    }

    fn charge(&mut self, dt: u64) -> Result<(), TestCaseError> {
        let got = self
            .real
            .charge(Duration::from_nanos(dt))
            .map(|c| (c.renewed, c.resched));
        let want = self.model.charge(dt);
        prop_assert_eq!(
            got.clone().map(|(renewed, _)| renewed),
            want.clone().map(|(renewed, _)| renewed),
            "charge({}): renewed",
            dt
        );
        if let (Ok((_, resched)), Some(cur)) = (&got, self.real.current()) {
            // The rule, model-independently: without run to parity an
            // ineligible running entity is never protected, so with another
            // runnable entity it must be switched out.
            let eligible = self.real.info(cur).map(|i| i.eligible);
            prop_assert!(
                self.run_to_parity
                    || self.real.nr_runnable() <= 1
                    || eligible == Ok(true)
                    || *resched,
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

    /// One `pick` call on both sides, plus the model-independent optimality
    /// check. Returns whether the pick loop is finished (not `Dequeued`).
    fn pick_once(&mut self) -> Result<bool, TestCaseError> {
        // The real queue's view before the call. The set of queued entities
        // and hence V and eligibility are the same as the pick sees after
        // putting the running entity back.
        let snapshot: Vec<Option<EntityInfo>> =
            self.ids.iter().map(|&id| self.real.info(id).ok()).collect();
        let prev_running = self.real.current();
        let seqs: Vec<u64> = self.model.ents.iter().map(|e| e.seq).collect();

        let got = self.real.pick();
        let got_m = self.map_pick(got)?;
        let want = self.model.pick();
        self.check_pick(got_m, &snapshot, prev_running, &seqs)?;
        prop_assert_eq!(got_m, want, "pick");
        self.check()?;
        Ok(!matches!(got_m, MPick::Dequeued(_)))
    }

    /// EEVDF optimality of a pick, judged from the real queue's own view just
    /// before it (`snapshot`, `prev_running`) and the model's insertion order
    /// (`seqs`) for deadline ties.
    fn check_pick(
        &self,
        got_m: MPick,
        snapshot: &[Option<EntityInfo>],
        prev_running: Option<EntityId>,
        seqs: &[u64],
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
        let kept_by_parity = self.run_to_parity && prev_running == Some(self.ids[chosen]);
        // Whatever is picked afresh is eligible (run to parity may keep an
        // ineligible running entity until its protected request is used).
        if !kept_by_parity {
            prop_assert!(p.eligible, "picked {} while ineligible", chosen);
        }
        if !kept_by_parity {
            // Earliest eligible deadline; ties go to the earliest insertion
            // (the running entity stays in the tree and keeps its place).
            let rank = |m: usize| seqs[m];
            for (m, info) in snapshot.iter().enumerate() {
                let Some(info) = info else { continue };
                if m == chosen || !queued(info) || !info.eligible {
                    continue;
                }
                let earlier = before(info.deadline, p.deadline)
                    || (info.deadline == p.deadline && rank(m) < rank(chosen));
                prop_assert!(
                    !earlier,
                    "picked {} (deadline {}) over eligible {} (deadline {})",
                    chosen,
                    p.deadline,
                    m,
                    info.deadline
                );
            }
        }
        Ok(())
    }

    /// Full state comparison.
    fn check(&self) -> Result<(), TestCaseError> {
        let (real, model) = (&self.real, &self.model);
        prop_assert_eq!(real.avg_vruntime(), model.avg(), "V");
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
        prop_assert_eq!(
            real.current(),
            model.running().map(|m| self.ids[m]),
            "current"
        );
        for (m, (&id, e)) in self.ids.iter().zip(&model.ents).enumerate() {
            if !e.alive {
                prop_assert_eq!(
                    real.info(id),
                    Err(Error::UnknownEntity),
                    "info of removed {}",
                    m
                );
                prop_assert_eq!(real.get(id), None, "payload of removed {}", m);
                continue;
            }
            prop_assert_eq!(real.get(id), Some(&m), "payload of {}", m);
            let info = real
                .info(id)
                .map_err(|err| TestCaseError::fail(format!("info({m}): {err}")))?;
            prop_assert_eq!(info.state, e.state, "state of {}", m);
            prop_assert_eq!(u64::from(info.weight.get()), e.weight, "weight of {}", m);
            prop_assert_eq!(info.slice, Duration::from_nanos(e.slice), "slice of {}", m);
            prop_assert_eq!(info.custom_slice, e.custom, "custom_slice of {}", m);
            prop_assert_eq!(info.vruntime, e.v, "vruntime of {}", m);
            prop_assert_eq!(info.deadline, e.d, "deadline of {}", m);
            prop_assert_eq!(info.lag_ns, model.lag_ns(m), "lag_ns of {}", m);
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
        start in start(),
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let mut h = Harness::new(policy);
        for op in prologue(start).iter().chain(&ops) {
            h.apply(op)?;
        }
    }
}

/// Number of random (policy, start, operation sequence) cases.
const CASES: u32 = 1024;
/// Operation sequences have `1..MAX_OPS` operations (after the prologue).
const MAX_OPS: usize = 300;
