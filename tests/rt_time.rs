//! `runtime::time` through the real runtime: sleeps never complete early,
//! timeouts, interval spacing and missed-tick behaviors, cancellation by drop,
//! sleeps spread over workers, and a million concurrent sleeps.
//!
//! Lateness (how long after its deadline a sleeper is polled) is a benchmark
//! figure, not asserted here; only "never early" and "eventually" are.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use runtime::task::{Id, SwitchReason};
use runtime::time::{self, Instant, MissedTickBehavior};
use tests::two_runtimes as runtimes;

#[test]
fn sleeps_never_complete_early() {
    for (flavor, rt) in runtimes() {
        let early = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let handles: Vec<_> = (0..200u64)
                .map(|i| {
                    let early = early.clone();
                    runtime::spawn(async move {
                        // Sub-millisecond and multi-millisecond deadlines.
                        let d = Duration::from_micros(137 * (i % 40) + 50);
                        let deadline = Instant::now() + d;
                        time::sleep_until(deadline).await;
                        if Instant::now() < deadline {
                            early.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(
            early.load(Ordering::SeqCst),
            0,
            "{flavor}: sleeps completed early"
        );
    }
}

#[test]
fn zero_past_and_huge_durations() {
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            time::sleep(Duration::ZERO).await;
            time::sleep_until(Instant::now() - Duration::from_secs(1)).await;
            // Too large for the clock: "never", not a panic.
            let never = time::timeout(Duration::from_millis(5), time::sleep(Duration::MAX)).await;
            assert!(never.is_err(), "{flavor}");
        });
    }
}

#[test]
fn timeout_gives_the_value_or_elapsed() {
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            let start = Instant::now();
            let r = time::timeout(Duration::from_millis(20), std::future::pending::<()>()).await;
            assert!(r.is_err(), "{flavor}");
            assert!(
                start.elapsed() >= Duration::from_millis(20),
                "{flavor}: elapsed early"
            );
            let r = time::timeout(Duration::from_secs(10), async {
                time::sleep(Duration::from_millis(2)).await;
                5
            })
            .await;
            assert_eq!(r, Ok(5), "{flavor}");
            // The inner future is polled first: ready beats a zero timeout.
            assert_eq!(time::timeout(Duration::ZERO, async { 6 }).await, Ok(6));
        });
    }
}

#[test]
fn interval_ticks_are_exactly_one_period_apart() {
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            let period = Duration::from_millis(3);
            let start = Instant::now();
            let mut every = time::interval(period);
            let first = every.tick().await;
            assert!(
                first.duration_since(start) < Duration::from_millis(1),
                "{flavor}: first tick is immediate"
            );
            let mut prev = first;
            for _ in 0..10 {
                let t = every.tick().await;
                assert_eq!(t - prev, period, "{flavor}");
                assert!(Instant::now() >= t, "{flavor}: tick before its instant");
                prev = t;
            }
        });
    }
}

/// What an interval did around a stall: the first tick, when the stall
/// ended, and the next three ticks with the instants `tick()` returned them.
struct Stalled {
    first: Instant,
    resumed: Instant,
    ticks: Vec<Instant>,
    taken: Vec<Instant>,
}

/// Ticks once, stalls the thread for `stall`, then takes three more ticks.
async fn after_a_stall(behavior: MissedTickBehavior, period: Duration, stall: Duration) -> Stalled {
    let mut every = time::interval(period);
    every.set_missed_tick_behavior(behavior);
    let first = every.tick().await;
    std::thread::sleep(stall);
    let resumed = Instant::now();
    let (mut ticks, mut taken) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ticks.push(every.tick().await);
        taken.push(Instant::now());
    }
    Stalled {
        first,
        resumed,
        ticks,
        taken,
    }
}

/// Whether `t` is a whole number of periods after `first`.
fn on_grid(t: Instant, first: Instant, period: Duration) -> bool {
    (t - first).as_nanos().is_multiple_of(period.as_nanos())
}

/// Each behavior after a stall that makes the second tick late by more than
/// the 5 ms an interval tolerates. Every bound holds however late the machine
/// wakes the task: a tick is computed from the instant it is taken, which lies
/// between the end of the stall (or the previous tick) and when `tick()`
/// returned.
#[test]
fn missed_tick_behaviors() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        // Burst: the missed ticks fire back to back, on the original schedule.
        let p = Duration::from_millis(10);
        let s = after_a_stall(MissedTickBehavior::Burst, p, Duration::from_millis(35)).await;
        assert_eq!(s.ticks, [s.first + p, s.first + 2 * p, s.first + 3 * p]);

        // Delay, late by less than a period: the missed tick fires, then the
        // schedule restarts one period after it was taken (not one period
        // after it was due).
        let p = Duration::from_millis(50);
        let s = after_a_stall(MissedTickBehavior::Delay, p, Duration::from_millis(70)).await;
        assert_eq!(s.ticks[0], s.first + p);
        assert!(
            s.ticks[1] >= s.resumed + p && s.ticks[1] <= s.taken[0] + p,
            "delay restarts from the late tick: {:?} after the stall",
            s.ticks[1] - s.resumed
        );
        assert!(s.ticks[2] >= s.ticks[1] + p && s.ticks[2] <= s.taken[1] + p);

        // Skip: the missed tick fires, then the first tick on the original
        // schedule after it was taken.
        let p = Duration::from_millis(10);
        let s = after_a_stall(MissedTickBehavior::Skip, p, Duration::from_millis(35)).await;
        assert_eq!(s.ticks[0], s.first + p);
        assert!(
            on_grid(s.ticks[1], s.first, p),
            "skip stays on the schedule"
        );
        assert!(
            s.ticks[1] > s.resumed && s.ticks[1] <= s.taken[0] + p,
            "skip goes to the first scheduled tick after now"
        );
        assert!(on_grid(s.ticks[2], s.first, p));
        assert!(s.ticks[2] > s.ticks[1] && s.ticks[2] <= s.taken[1] + p);
    });
}

/// Polls its sleep once (registering the timer), then completes.
struct PollOnce(Pin<Box<time::Sleep>>);

impl Future for PollOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let _ = self.0.as_mut().poll(cx);
        Poll::Ready(())
    }
}

#[test]
fn dropping_a_sleep_cancels_its_timer() {
    // Each task registers a 1-hour timer and drops it at once. If drops left
    // their timers behind, the runtime would hold 100k dead entries; here we
    // check the observable part: nothing wakes the tasks later, and shutting
    // down is immediate.
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        for _ in 0..100_000 {
            PollOnce(Box::pin(time::sleep(Duration::from_secs(3600)))).await;
        }
        let polls = polls.clone();
        // A task woken only by a cancelled timer would be polled again.
        runtime::spawn(async move {
            let mut s = Box::pin(time::sleep(Duration::from_millis(1)));
            std::future::poll_fn(|cx| {
                polls.fetch_add(1, Ordering::SeqCst);
                let _ = s.as_mut().poll(cx);
                s = Box::pin(time::sleep(Duration::from_secs(3600)));
                let _ = s.as_mut().poll(cx);
                Poll::<()>::Pending
            })
            .await;
        });
        time::sleep(Duration::from_millis(20)).await;
    });
    assert_eq!(
        polls.load(Ordering::SeqCst),
        1,
        "a cancelled timer woke its task"
    );
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn sleeps_spread_over_several_workers() {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    rt.block_on(async {
        let handles: Vec<_> = (0..400u64)
            .map(|i| {
                let threads = threads.clone();
                runtime::spawn(async move {
                    for _ in 0..5 {
                        time::sleep(Duration::from_millis(1 + i % 7)).await;
                        threads.lock().unwrap().insert(std::thread::current().id());
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "sleepers woke on both workers"
    );
}

#[test]
fn a_million_short_sleeps_complete() {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..1_000_000u64)
            .map(|i| {
                let done = done.clone();
                runtime::spawn(async move {
                    time::sleep(Duration::from_millis(1 + i % 50)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::Relaxed), 1_000_000);
}

/// A waker that counts its wakes.
struct CountWakes(AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `f` once with a waker that counts wakes, on no runtime.
fn poll_counting<F: Future + Unpin>(f: &mut F, wakes: &Arc<CountWakes>) -> Poll<F::Output> {
    let waker = std::task::Waker::from(wakes.clone());
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

/// A sleep created in a runtime and polled after the runtime was dropped
/// panics, naming the problem, instead of never completing.
#[test]
#[should_panic(expected = "a Sleep was polled after its runtime shut down")]
fn a_sleep_polled_after_its_runtime_is_dropped_panics() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    // Made inside the runtime, handed out in a tuple (a future that returns
    // a future is usually a mistake; here it is the point).
    let (mut sleep,) = rt.block_on(async { (Box::pin(time::sleep(Duration::from_secs(3600))),) });
    drop(rt);
    let _ = poll_counting(&mut sleep, &Arc::new(CountWakes(AtomicUsize::new(0))));
}

/// A sleep waiting outside any task (polled by hand, so no shutdown cancels
/// it) when its runtime shuts down is woken by the shutdown, on both flavors,
/// and its next poll panics with the shutdown message; so does a sleep whose
/// deadline had passed, and one reset afterwards.
#[test]
fn a_pending_sleep_is_woken_by_shutdown_then_panics() {
    for (flavor, rt) in runtimes() {
        let (mut pending, mut elapsed) = rt.block_on(async {
            (
                Box::pin(time::sleep(Duration::from_secs(3600))),
                Box::pin(time::sleep(Duration::ZERO)),
            )
        });
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        assert!(poll_counting(&mut pending, &wakes).is_pending(), "{flavor}");
        drop(rt);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "{flavor}: not woken");
        for (what, sleep) in [("pending", &mut pending), ("elapsed", &mut elapsed)] {
            let wakes = wakes.clone();
            let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = poll_counting(sleep, &wakes);
            }))
            .expect_err("polling a sleep of a dropped runtime panics");
            let message = panic.downcast_ref::<String>().map_or("", |s| s.as_str());
            assert!(
                message.contains("after its runtime shut down"),
                "{flavor}, {what}: {message:?}"
            );
        }
        // Resetting is allowed; polling still is not.
        pending
            .as_mut()
            .reset(Instant::now() + Duration::from_millis(1));
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = poll_counting(&mut pending, &wakes);
        }));
        assert!(polled.is_err(), "{flavor}: a reset sleep was polled");
    }
}

#[test]
#[should_panic(expected = "runtime::time::sleep called outside a runtime")]
fn sleep_outside_a_runtime_panics() {
    drop(time::sleep(Duration::from_millis(1)));
}

#[test]
#[should_panic(expected = "runtime::time::sleep_until called outside a runtime")]
fn sleep_until_outside_a_runtime_panics() {
    drop(time::sleep_until(Instant::now()));
}

#[test]
#[should_panic(expected = "runtime::time::interval called outside a runtime")]
fn interval_outside_a_runtime_panics() {
    let _ = time::interval(Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "runtime::time::interval_at called outside a runtime")]
fn interval_at_outside_a_runtime_panics() {
    let _ = time::interval_at(Instant::now(), Duration::from_millis(1));
}

#[test]
#[should_panic(expected = "runtime::time::timeout called outside a runtime")]
fn timeout_outside_a_runtime_panics() {
    drop(time::timeout(Duration::from_millis(1), async {}));
}

/// Durations too large for the clock saturate to "never" instead of
/// panicking: an interval of `Duration::MAX` ticks once and then not again
/// (also after `reset`), and `timeout(Duration::MAX, ..)` is no limit at all.
#[test]
fn huge_intervals_and_timeouts_saturate() {
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            let start = Instant::now();
            for mut every in [
                time::interval(Duration::MAX),
                time::interval_at(start, Duration::MAX),
            ] {
                let first = every.tick().await;
                assert!(first >= start && first <= Instant::now(), "{flavor}");
                let second = time::timeout(Duration::from_millis(20), every.tick()).await;
                assert!(second.is_err(), "{flavor}: a second tick came");
                every.reset();
                let reset = time::timeout(Duration::from_millis(20), every.tick()).await;
                assert!(reset.is_err(), "{flavor}: a tick came after reset");
            }
            let quick = time::timeout(Duration::MAX, async {
                time::sleep(Duration::from_millis(5)).await;
                8
            })
            .await;
            assert_eq!(quick, Ok(8), "{flavor}");
            let unlimited = time::timeout(
                Duration::from_millis(20),
                time::timeout(Duration::MAX, std::future::pending::<()>()),
            )
            .await;
            assert!(unlimited.is_err(), "{flavor}: timeout(MAX) elapsed");
        });
    }
}

/// One `on_switch_out` call, as logged for the sleeper below.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SwitchOut {
    reason: SwitchReason,
    queued: bool,
    delayed: bool,
    runnable: bool,
}

/// A task that sleeps (`time::sleep`) right after running 5 ms beside a
/// CPU-bound task on one worker owes service when it blocks: with delayed
/// dequeue (the default) its `Blocked` switch-out shows it still queued, as
/// delayed and not runnable. The timer then wakes it (nothing else does)
/// no earlier than its deadline, and it completes.
#[test]
fn a_sleep_while_owing_service_is_a_delayed_dequeue() {
    let log: Arc<Mutex<Vec<(Id, SwitchOut)>>> = Arc::default();
    let rt = {
        let log = log.clone();
        runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .on_switch_out(move |info, reason| {
                let out = SwitchOut {
                    reason,
                    queued: info.is_queued(),
                    delayed: info.is_delayed(),
                    runnable: info.is_runnable(),
                };
                log.lock().unwrap().push((info.id(), out));
            })
            .build()
            .unwrap()
    };
    let done = Arc::new(AtomicBool::new(false));
    let hog_polls = Arc::new(AtomicUsize::new(0));
    let hog = {
        let (done, hog_polls) = (done.clone(), hog_polls.clone());
        rt.spawn(async move {
            while !done.load(Ordering::SeqCst) {
                hog_polls.fetch_add(1, Ordering::SeqCst);
                tests::spin(Duration::from_micros(50));
                runtime::task::yield_now().await;
            }
        })
    };
    let patience = Instant::now() + Duration::from_secs(20);
    while hog_polls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < patience, "the hog never ran");
        std::thread::sleep(Duration::from_micros(200));
    }
    let sleeper = rt.spawn(async {
        tests::spin(Duration::from_millis(5));
        // Far enough ahead that the deadline cannot pass before the sleep
        // registers it, even if the OS stops this thread for a while (a due
        // sleep would wake itself: a preemption, not a block).
        let deadline = Instant::now() + Duration::from_millis(50);
        time::sleep_until(deadline).await;
        Instant::now() >= deadline
    });
    let id = sleeper.id();
    assert!(rt.block_on(sleeper).unwrap(), "woke before the deadline");
    done.store(true, Ordering::SeqCst);
    rt.block_on(hog).unwrap();
    drop(rt);

    let outs: Vec<SwitchOut> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(task, _)| *task == id)
        .map(|&(_, out)| out)
        .collect();
    assert_eq!(outs.len(), 2, "blocked once, then completed: {outs:?}");
    assert_eq!(
        outs[0],
        SwitchOut {
            reason: SwitchReason::Blocked,
            queued: true,
            delayed: true,
            runnable: false,
        },
        "blocked while owing service: queued, delayed, not runnable"
    );
    assert_eq!(outs[1].reason, SwitchReason::Completed);
}
