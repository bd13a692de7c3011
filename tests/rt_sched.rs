//! Scheduling behaviour of the real executor: weighted shares, delayed
//! dequeue, and what `yield_now` promises, on a current-thread runtime and on a
//! multi-thread runtime with one worker (the policy is per worker; stealing
//! between workers is tested in `rt_multi.rs`).
//!
//! Shares are measured as run time the tasks themselves clock, so OS noise
//! (which the scheduler charges too) cancels out. Latency is measured in polls
//! of a competing task or in its run time, never in wall time, and each
//! measure is chosen so that preemption by other processes can only make the
//! assertion easier to meet.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use runtime::task;
use tests::spin;

/// The runtimes every test here runs on, by name.
fn builders() -> [(&'static str, runtime::Builder); 2] {
    let mut multi = runtime::Builder::new_multi_thread();
    multi.worker_threads(1);
    [
        ("current_thread", runtime::Builder::new_current_thread()),
        ("multi_thread(1)", multi),
    ]
}

#[test]
fn cpu_bound_tasks_share_by_weight() {
    for (flavor, mut builder) in builders() {
        shares_by_weight(flavor, builder.build().unwrap());
    }
}

/// Nice 0/3/6 polling ~50 µs then yielding, for about a second: shares within
/// 2 percentage points of 1024:526:272.
fn shares_by_weight(flavor: &str, rt: runtime::Runtime) {
    let until = Instant::now() + Duration::from_secs(1);
    let busy: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let handles: Vec<_> = [0i8, 3, 6]
        .into_iter()
        .zip(&busy)
        .map(|(nice, busy)| {
            let busy = busy.clone();
            task::Builder::new()
                .nice(nice)
                .spawn_on(
                    async move {
                        while Instant::now() < until {
                            let start = Instant::now();
                            spin(Duration::from_micros(50));
                            busy.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                            task::yield_now().await;
                        }
                    },
                    rt.handle(),
                )
                .unwrap()
        })
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let ns: Vec<f64> = busy
        .iter()
        .map(|b| b.load(Ordering::Relaxed) as f64)
        .collect();
    let total: f64 = ns.iter().sum();
    for (i, want) in [1024.0 / 1822.0, 526.0 / 1822.0, 272.0 / 1822.0]
        .into_iter()
        .enumerate()
    {
        let share = ns[i] / total;
        assert!(
            (share - want).abs() < 0.02,
            "{flavor}: task {i}: share {share:.4}, want {want:.4} (all: {:?})",
            ns.iter().map(|n| n / total).collect::<Vec<_>>()
        );
    }
}

#[test]
fn yield_now_lets_an_eligible_task_go_first() {
    for (flavor, mut builder) in builders() {
        yield_rule(flavor, builder.build().unwrap());
    }
}

/// Two equal tasks that work 50 µs and yield. A yielder may be polled next
/// only if the other is not eligible: with equal weights, only if the other
/// has the larger vruntime. Without the rule, run to parity would keep a
/// yielder on the worker for its whole 700 µs slice while the other, behind,
/// waits. Checked against the runtime's own accounting (`TaskInfo`), so OS
/// noise on a shared machine cannot make it flaky.
fn yield_rule(flavor: &str, rt: runtime::Runtime) {
    let handles: Arc<Mutex<Vec<task::AbortHandle>>> = Arc::default();
    // (task, its vruntime, the other's vruntime) at the start of each poll.
    let log = Arc::new(Mutex::new(Vec::new()));
    let joins: Vec<_> = [0usize, 1]
        .into_iter()
        .map(|me| {
            let (handles, log) = (handles.clone(), log.clone());
            rt.spawn(async move {
                let mut polls = 0;
                while polls < 200 {
                    let other = handles.lock().unwrap().get(1 - me).map(|h| h.info());
                    if let Some(other) = other {
                        let mine = task::current().vruntime();
                        log.lock().unwrap().push((me, mine, other.vruntime()));
                        polls += 1;
                    }
                    spin(Duration::from_micros(50));
                    task::yield_now().await;
                }
            })
        })
        .collect();
    handles
        .lock()
        .unwrap()
        .extend(joins.iter().map(|j| j.abort_handle()));
    rt.block_on(async {
        for h in joins {
            h.await.unwrap();
        }
    });
    let log = log.lock().unwrap();
    // Where each task's last poll is: repeats after the other one finished
    // are fine.
    let last = |task: usize| log.iter().rposition(|e| e.0 == task).unwrap();
    let mut switches = 0;
    for (i, pair) in log.windows(2).enumerate() {
        let ((prev, ..), (me, mine, theirs)) = (pair[0], pair[1]);
        if prev != me {
            switches += 1;
        } else if i + 1 < last(1 - me) {
            // vruntimes wrap: compare by signed difference.
            assert!(
                (theirs.wrapping_sub(mine) as i64) > 0,
                "{flavor}: task {me} was polled again at vruntime {mine} while \
                 the other, at {theirs}, was eligible"
            );
        }
    }
    // Not vacuous: the tasks did take turns. (A poll stretched by the OS is
    // charged in full and legitimately earns the other task a run of
    // repeats, so on a loaded machine turns are far fewer than 200: with two
    // CPU hogs beside the test on two cores, fewer than 20 were seen.)
    assert!(
        switches >= 5,
        "{flavor}: only {switches} switches in 400 polls"
    );
}

/// A future that runs one long first poll, then blocks without waking itself
/// until its waker is called; records the other task's progress when it gets
/// its second poll.
struct Burst {
    polls: Arc<AtomicU64>,
    first: Duration,
    waker: Arc<Mutex<Option<Waker>>>,
    /// The other task's progress: polls and self-clocked run time (ns).
    other: Arc<[AtomicU64; 2]>,
    /// The other task's progress when this one got its second poll.
    seen_at: Arc<[AtomicU64; 2]>,
}

impl Future for Burst {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            spin(self.first);
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        for i in 0..2 {
            let now = self.other[i].load(Ordering::SeqCst);
            self.seen_at[i].store(now, Ordering::SeqCst);
        }
        Poll::Ready(())
    }
}

/// Runs a 20 ms burst (slice 20 ms, so it is not preempted) beside a task that
/// polls 50 µs at a time. The burst blocks owing ~10 ms; it is woken after the
/// other task's 1000th poll, far later than its debt takes to pay. Returns how
/// many polls, and how much run time (ns), the other task had between the wake
/// and the burst's next poll.
fn served_after_wake(mut builder: runtime::Builder, delayed_dequeue: bool) -> (u64, u64) {
    let rt = builder.delayed_dequeue(delayed_dequeue).build().unwrap();
    let polls = Arc::new(AtomicU64::new(0));
    let waker = Arc::new(Mutex::new(None::<Waker>));
    let other: Arc<[AtomicU64; 2]> = Arc::new(Default::default());
    let seen_at: Arc<[AtomicU64; 2]> = Arc::new(Default::default());
    let burst = Burst {
        polls: polls.clone(),
        first: Duration::from_millis(20),
        waker: waker.clone(),
        other: other.clone(),
        seen_at: seen_at.clone(),
    };
    let burst = task::Builder::new()
        .slice(Duration::from_millis(20))
        .spawn_on(burst, rt.handle())
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let other_task = {
        let (polls, done, other) = (polls.clone(), done.clone(), other.clone());
        rt.spawn(async move {
            let mut woke_at = None;
            while !done.load(Ordering::SeqCst) {
                let n = other[0].fetch_add(1, Ordering::SeqCst) + 1;
                let start = Instant::now();
                spin(Duration::from_micros(50));
                other[1].fetch_add(start.elapsed().as_nanos() as u64, Ordering::SeqCst);
                if n == 1000 {
                    // Blocked, not woken: never polled again meanwhile.
                    assert_eq!(polls.load(Ordering::SeqCst), 1, "polled while blocked");
                    waker
                        .lock()
                        .unwrap()
                        .take()
                        .expect("the burst blocked")
                        .wake();
                    woke_at = Some([n, other[1].load(Ordering::SeqCst)]);
                }
                task::yield_now().await;
            }
            woke_at.expect("the other task woke the burst")
        })
    };
    let woke_at = rt.block_on(async {
        burst.await.unwrap();
        done.store(true, Ordering::SeqCst);
        other_task.await.unwrap()
    });
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    (
        seen_at[0].load(Ordering::SeqCst) - woke_at[0],
        seen_at[1].load(Ordering::SeqCst) - woke_at[1],
    )
}

#[test]
fn delayed_dequeue_pays_debt_while_blocked() {
    for (flavor, builder) in builders() {
        // With delayed dequeue the burst's debt was worked off while it stayed
        // queued, so once woken it is served within about one slice of the
        // other task (700 µs = 14 polls). Counted in polls: preemption can
        // stretch a poll but not add polls.
        let (prompt, _) = served_after_wake(builder.clone(), true);
        assert!(
            prompt <= 40,
            "{flavor}: served after {prompt} polls of the other task"
        );
        // Without it, the lag kept through the sleep is the old debt, which
        // the woken task must wait out: the other task runs ~20 ms first.
        // Counted in run time, which is what the debt is paid in.
        let (_, late) = served_after_wake(builder, false);
        assert!(
            late >= 10_000_000,
            "{flavor}: served after only {late} ns of the other task's run time"
        );
    }
}
