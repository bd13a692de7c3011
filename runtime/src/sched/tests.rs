//! Randomized invariant checks of the run queue against brute-force recomputation.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    New(i32, Option<u64>),
    Pick,
    Charge(u64),
    Yield,
    YieldToOthers,
    Block,
    Wake(usize),
    Remove(usize),
    Migrate(usize),
    Reweight(usize, i32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (-20i32..20, prop::option::of(50u64..150_000)).prop_map(|(n, s)| Op::New(n, s)),
        4 => Just(Op::Pick),
        4 => (0u64..3_000_000).prop_map(Op::Charge),
        1 => Just(Op::Yield),
        2 => Just(Op::YieldToOthers),
        2 => Just(Op::Block),
        3 => any::<usize>().prop_map(Op::Wake),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::Migrate),
        1 => (any::<usize>(), -20i32..20).prop_map(|(i, n)| Op::Reweight(i, n)),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(dd, keep, rtp)| {
        Config::new()
            .delayed_dequeue(dd)
            .wake_lag(if keep { WakeLag::Keep } else { WakeLag::Reset })
            .run_to_parity(rtp)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn invariants_hold_under_random_operations(config in config(), ops in prop::collection::vec(op(), 1..300), start in any::<u64>()) {
        let mut q: RunQueue<usize> = RunQueue::new(config).unwrap();
        // Start anywhere on the wrapping virtual time line.
        q.zero = start;
        // The destination of migrations has a resident, so lag has a reference there.
        let mut other: RunQueue<usize> = RunQueue::new(config).unwrap();
        other.enqueue_new(Params::new(), usize::MAX);
        let mut ids: Vec<EntityId> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let pick = |i: usize, ids: &Vec<EntityId>| (!ids.is_empty()).then(|| ids[i % ids.len()]);
            match op {
                Op::New(nice, slice) => {
                    let mut p = Params::new().weight(Weight::from_nice(nice).unwrap());
                    if let Some(s) = slice { p = p.slice(Duration::from_micros(s)); }
                    ids.push(q.enqueue_new(p, step));
                }
                Op::Pick => loop {
                    match q.pick() {
                        Pick::Run(id) => {
                            let info = q.info(id).unwrap();
                            prop_assert_eq!(info.state, EntityState::Running);
                            break;
                        }
                        Pick::Dequeued(id) => {
                            let info = q.info(id).unwrap();
                            prop_assert_eq!(info.state, EntityState::Sleeping);
                            prop_assert_eq!(info.lag_ns, 0, "delayed entities leave with lag 0");
                            q.check();
                        }
                        Pick::Idle => {
                            prop_assert_eq!(q.nr_queued(), 0, "idle with entities queued");
                            break;
                        }
                    }
                },
                Op::Charge(dt) => {
                    let r = q.charge(Duration::from_nanos(dt));
                    prop_assert_eq!(r.is_err(), q.current().is_none());
                }
                Op::Yield => { let _ = q.yield_current(); }
                Op::YieldToOthers => {
                    if let Some(c) = q.current() {
                        let v = q.info(c).unwrap().vruntime;
                        q.yield_to_others().unwrap();
                        prop_assert_eq!(q.info(c).unwrap().vruntime, v, "yield charges nothing");
                        q.check();
                        // Another queued entity eligible now (delayed ones count:
                        // the pick would dequeue them first)?
                        let others = ids.iter().any(|&o| o != c && q.info(o).is_ok_and(|i| i.eligible));
                        let first = q.pick();
                        if others {
                            prop_assert_ne!(first, Pick::Run(c), "the yielder was picked again");
                        }
                    } else {
                        prop_assert_eq!(q.yield_to_others(), Err(Error::NothingRunning));
                    }
                }
                Op::Block => {
                    if let Some(c) = q.current() {
                        let eligible = q.info(c).unwrap().eligible;
                        let b = q.block_current().unwrap();
                        let want = if config.get_delayed_dequeue() && !eligible { Block::Delayed } else { Block::Dequeued };
                        prop_assert_eq!(b, want);
                    } else {
                        prop_assert_eq!(q.block_current(), Err(Error::NothingRunning));
                    }
                }
                Op::Wake(i) => if let Some(id) = pick(i, &ids) {
                    let before = q.info(id).unwrap();
                    let others = q.nr_queued();
                    match q.wake(id) {
                        Ok(Wake::Rearmed) => {
                            prop_assert_eq!(before.state, EntityState::Delayed);
                            let after = q.info(id).unwrap();
                            prop_assert!(after.lag_ns <= 0, "a delayed wake never gains credit");
                            prop_assert!(after.lag_ns >= before.lag_ns.min(0) - 1, "nor more debt");
                        }
                        Ok(Wake::Placed) => {
                            prop_assert_eq!(before.state, EntityState::Sleeping);
                            let after = q.info(id).unwrap();
                            let want = if config.get_wake_lag() == WakeLag::Keep { before.lag_ns } else { 0 };
                            // Placement identity, up to integer rounding.
                            let tol = i64::from(after.weight.get()) / 1024 * 2 + 2;
                            prop_assert!(others == 0 || (after.lag_ns - want).abs() <= tol, "placed at lag {} wanted {}", after.lag_ns, want);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, Error::AlreadyQueued);
                            prop_assert!(matches!(before.state, EntityState::Runnable | EntityState::Running));
                        }
                    }
                },
                Op::Remove(i) => if let Some(id) = pick(i, &ids) {
                    q.remove(id).unwrap();
                    ids.retain(|&x| x != id);
                    prop_assert_eq!(q.info(id), Err(Error::UnknownEntity));
                },
                Op::Migrate(i) => if let Some(id) = pick(i, &ids) {
                    let before = q.info(id).unwrap();
                    match q.migrate_out(id) {
                        Ok(m) => {
                            ids.retain(|&x| x != id);
                            let lag = m.lag_ns();
                            let back = other.migrate_in(m);
                            let after = other.info(back).unwrap();
                            if before.state == EntityState::Runnable {
                                let tol = i64::from(after.weight.get()) / 1024 * 2 + 2;
                                prop_assert!((after.lag_ns - lag).abs() <= tol);
                            }
                            // Bring it home again so the sequence keeps using it.
                            let m = other.migrate_out(back).unwrap();
                            ids.push(q.migrate_in(m));
                        }
                        Err(Error::Delayed) => prop_assert_eq!(before.state, EntityState::Delayed),
                        Err(Error::Running) => prop_assert_eq!(before.state, EntityState::Running),
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                },
                Op::Reweight(i, nice) => if let Some(id) = pick(i, &ids) {
                    let before = q.info(id).unwrap();
                    let v = q.avg_vruntime();
                    q.reweight(id, Weight::from_nice(nice).unwrap()).unwrap();
                    let after = q.info(id).unwrap();
                    if before.state != EntityState::Sleeping {
                        prop_assert_eq!(q.avg_vruntime(), v, "V moved");
                    }
                    let tol = i64::from(before.weight.get().max(after.weight.get())) / 1024 * 2 + 3;
                    prop_assert!((after.lag_ns - before.lag_ns).abs() <= tol, "lag {} -> {}", before.lag_ns, after.lag_ns);
                },
            }
            q.check();
        }
    }
}

#[test]
fn extreme_weights_keep_an_eligible_entity() {
    let mut q = RunQueue::new(Config::new().run_to_parity(false)).unwrap();
    let heavy = q.enqueue_new(
        Params::new().weight(Weight::from_raw(u64::from(MAX_WEIGHT)).unwrap()),
        0,
    );
    for i in 0..1000 {
        q.enqueue_new(Params::new().weight(Weight::from_nice(19).unwrap()), i + 1);
    }
    for round in 0..20_000u64 {
        match q.pick() {
            Pick::Run(_) => {
                q.charge(Duration::from_micros(1 + round % 997)).unwrap();
            }
            other => panic!("pick returned {other:?} on a full queue"),
        }
        if round % 1000 == 0 {
            q.check();
        }
    }
    assert!(q.info(heavy).unwrap().runtime > Duration::ZERO);
}

#[test]
fn zero_point_recenters_after_long_runs() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    q.enqueue_new(Params::new().weight(Weight::from_nice(19).unwrap()), ());
    q.enqueue_new(Params::new().weight(Weight::from_nice(19).unwrap()), ());
    for _ in 0..2000 {
        assert!(matches!(q.pick(), Pick::Run(_)));
        // 10 ms at weight 15 is ~683 ms of virtual time per charge.
        q.charge(Duration::from_millis(10)).unwrap();
    }
    q.check();
    let v = q.avg_vruntime();
    assert!(v.wrapping_sub(q.zero) < 1 << 34, "zero point left behind");
}

#[test]
fn a_million_entities_with_extreme_weights_always_have_a_pick() {
    // Nice -20 and a maximal raw weight beside a million nice-19 entities
    // (weights 15 to 2^20, total ~2^24): a pick never fails and never returns an
    // ineligible entity, however the weighted mean falls between them.
    let mut q = RunQueue::new(Config::new().run_to_parity(false)).unwrap();
    let nice19 = Params::new().weight(Weight::from_nice(19).unwrap());
    for i in 0..1_000_000 {
        q.enqueue_new(nice19, i);
    }
    q.enqueue_new(
        Params::new().weight(Weight::from_nice(-20).unwrap()),
        1_000_000,
    );
    q.enqueue_new(
        Params::new().weight(Weight::from_raw(u64::from(MAX_WEIGHT)).unwrap()),
        1_000_001,
    );
    for round in 0..5_000u64 {
        let Pick::Run(id) = q.pick() else {
            panic!("pick failed on a full queue at round {round}");
        };
        assert!(q.info(id).unwrap().eligible, "picked an ineligible entity");
        // Long runs for the light entities, so their keys grow large.
        q.charge(Duration::from_micros(50 + round % 5000)).unwrap();
    }
    q.check();
}

#[test]
fn migratable_offers_runnable_entities_eligible_first_in_deadline_order() {
    let mut q = RunQueue::new(Config::new().run_to_parity(false)).unwrap();
    let ids: Vec<EntityId> = (0..4).map(|i| q.enqueue_new(Params::new(), i)).collect();
    // The first runs 1 ms: it is then ahead of V (ineligible).
    assert_eq!(q.pick(), Pick::Run(ids[0]));
    q.charge(Duration::from_millis(1)).unwrap();
    // The second runs a little and blocks while eligible: it sleeps.
    assert_eq!(q.pick(), Pick::Run(ids[1]));
    q.charge(Duration::from_micros(1)).unwrap();
    assert_eq!(q.block_current().unwrap(), Block::Dequeued);
    // The third runs; the fourth waits.
    assert_eq!(q.pick(), Pick::Run(ids[2]));
    assert!(!q.info(ids[0]).unwrap().eligible);
    assert!(q.info(ids[3]).unwrap().eligible);
    // Not the running one, not the sleeping one; eligible before ineligible.
    assert_eq!(q.migratable(10), [ids[3], ids[0]]);
    assert_eq!(q.migratable(1), [ids[3]]);
    assert_eq!(q.migratable(0), []);
}

#[test]
fn migratable_merges_waiting_newcomers_into_deadline_order() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    // One burst: `a` and `b` share a vruntime and deadline.
    let a = q.enqueue_new(Params::new(), 0);
    let b = q.enqueue_new(Params::new(), 1);
    assert_eq!(q.pick(), Pick::Run(a));
    q.charge(Duration::from_micros(10)).unwrap();
    // V moved: `c` arrives later, with a later deadline than `b`.
    let c = q.enqueue_new(Params::new(), 2);
    assert!(q.info(b).unwrap().deadline < q.info(c).unwrap().deadline);
    assert!(q.info(b).unwrap().eligible && q.info(c).unwrap().eligible);
    assert_eq!(q.migratable(10), [b, c]);
    assert_eq!(q.migratable(1), [b]);
    q.check();
}

#[test]
fn a_burst_run_in_order_links_one_entity_at_a_time() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    let ids: Vec<EntityId> = (0..100).map(|i| q.enqueue_new(Params::new(), i)).collect();
    for &id in &ids {
        assert_eq!(q.pick(), Pick::Run(id));
        // Only the running entity is in the tree; the rest wait in the lane.
        assert_eq!(q.nr_linked(), 1);
        q.charge(Duration::from_micros(1)).unwrap();
        q.remove(id).unwrap();
        q.check();
    }
    assert_eq!(q.pick(), Pick::Idle);
}

#[test]
fn equal_deadlines_take_turns_after_the_last_pick() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    let [a, b, c] = [0, 1, 2].map(|i| q.enqueue_new(Params::new(), i));
    assert_eq!(q.info(a).unwrap().deadline, q.info(c).unwrap().deadline);
    assert_eq!(q.pick(), Pick::Run(a));
    q.charge(Duration::from_micros(1)).unwrap();
    q.yield_to_others().unwrap();
    assert_eq!(q.pick(), Pick::Run(b));
    q.charge(Duration::from_micros(3)).unwrap();
    q.yield_to_others().unwrap();
    // `a` ran less than `b` and is eligible again, but `c`, queued after `b`,
    // has its turn first.
    assert!(q.info(a).unwrap().eligible);
    assert_eq!(q.pick(), Pick::Run(c));
    q.charge(Duration::from_micros(1)).unwrap();
    q.yield_to_others().unwrap();
    // Then the turn wraps around to the first queued.
    assert_eq!(q.pick(), Pick::Run(a));
    q.check();
}

#[test]
fn a_search_forward_from_the_yielder_still_sees_tied_entities_behind_it() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    let [a, b, c, x] = [0, 1, 2, 4].map(|i| q.enqueue_new(Params::new(), i));
    // A removal links the burst waiting beside the tree: the picks below
    // search the tree itself.
    q.remove(x).unwrap();
    let step = |q: &mut RunQueue<i32>, id, us| {
        assert_eq!(q.pick(), Pick::Run(id));
        q.charge(Duration::from_micros(us)).unwrap();
        q.yield_to_others().unwrap();
    };
    step(&mut q, a, 10);
    // A newcomer, placed at the average that `a` moved: a later deadline.
    // (Linked in the tree by the removal of its burst companion.)
    let [e, y] = [3, 5].map(|i| q.enqueue_new(Params::new(), i));
    q.remove(y).unwrap();
    assert!(q.info(e).unwrap().deadline > q.info(a).unwrap().deadline);
    step(&mut q, b, 100);
    step(&mut q, c, 100);
    // `a` and `e` are both eligible again, and after `c` in tree order comes
    // only `e`; but `a` shares `c`'s deadline, earlier than `e`'s.
    assert!(q.info(a).unwrap().eligible && q.info(e).unwrap().eligible);
    assert_eq!(q.pick(), Pick::Run(a));
    q.check();
}

#[test]
fn a_steal_from_a_waiting_burst_leaves_the_rest_waiting() {
    let mut q = RunQueue::new(Config::new()).unwrap();
    let ids = [0, 1, 2, 3].map(|i| q.enqueue_new(Params::new(), i));
    assert_eq!(q.nr_linked(), 0, "a burst waits beside the tree");
    // A steal takes the front first.
    assert_eq!(q.migratable(1), [ids[0]]);
    let m = q.migrate_out(ids[0]).unwrap();
    assert_eq!((m.lag_ns(), *m.payload()), (0, 0));
    assert_eq!(q.nr_linked(), 0, "the others still wait, unlinked");
    assert_eq!(q.nr_queued(), 3);
    q.check();
    for &id in &ids[1..] {
        assert_eq!(q.pick(), Pick::Run(id));
        q.charge(Duration::from_micros(1)).unwrap();
        q.yield_to_others().unwrap();
    }
    q.check();
}
