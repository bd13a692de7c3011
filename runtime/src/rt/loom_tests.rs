//! Model checks of the whole scheduling path on real code: the multi-thread
//! flavor's workers (`Shared::run_once`, `steal_into`, `shutdown_worker`),
//! their cores and EEVDF run queues, inboxes, task cells and state words,
//! wakers, `JoinHandle`s, abort, hooks and preempt notifiers. Nothing here is
//! a copy of runtime logic: the model threads call the functions the worker
//! threads call, minus most parking (covered in `inbox.rs`) and timers.
//!
//! Under loom every poll is charged 1 ms (see `Started::ran`), so the run
//! queue takes the same decisions on every replay: a task polled first while
//! another waits ends up ineligible, which is how these models make a task
//! *delayed*.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p runtime --release --lib loom`;
//! each model prints how many interleavings it explored.
//!
//! Scenario numbers follow the table in the project's loom brief (section
//! 5.2); 6 and 7 live in `task/core.rs`, 10 in `rt/inbox.rs`, and the state
//! word's own models in `task/state.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::task::{Context, Poll, Waker};

use loom::thread;

use super::core::Core;
use super::hooks::Hooks;
use super::multi_thread::Shared;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, lock};
use crate::sched::{Config, Params};
use crate::task::core::{Schedule, new_task, sched_ref};
use crate::task::{
    JoinError, JoinHandle, PreemptNotifier, SwitchReason, register_preempt_notifier,
};

/// Runs `f` under loom and prints how many interleavings it took.
fn model(name: &'static str, f: impl Fn() + Sync + Send + 'static) {
    let runs = Arc::new(StdAtomicUsize::new(0));
    let counter = runs.clone();
    loom::model::Builder::new().check(move || {
        counter.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    eprintln!(
        "loom {name}: {} interleavings",
        runs.load(StdOrdering::Relaxed)
    );
}

/// A multi-thread runtime's shared state with `n` workers and no threads:
/// the model drives the workers.
fn runtime(n: usize, hooks: Hooks) -> Arc<Shared> {
    let cores = (0..n)
        .map(|i| Core::new(Config::new(), i).unwrap())
        .collect();
    Shared::new(cores, Arc::new(hooks))
}

/// Spawns onto worker 0 (the owner recorded in a new task's header).
fn spawn<F>(rt: &Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, join) = new_task(future, Params::new(), None, sched_ref(rt.clone()));
    rt.registry.insert(&task);
    rt.submit(task);
    join
}

/// Runs worker `i` until it has nothing to run.
fn drain(rt: &Shared, i: usize) {
    while rt.run_once(i) {}
}

/// Runs every worker until none has anything to run.
fn drain_all(rt: &Shared, n: usize) {
    loop {
        let mut ran = false;
        for i in 0..n {
            while rt.run_once(i) {
                ran = true;
            }
        }
        if !ran {
            return;
        }
    }
}

/// The result of a finished task.
fn output<T: Send + 'static>(join: &mut JoinHandle<T>) -> Result<T, JoinError> {
    assert!(join.is_finished(), "the task has not finished");
    match Pin::new(join).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a finished task's handle is not ready"),
    }
}

/// Counts drops and polls of a test future.
#[derive(Default)]
struct Counts {
    polls: StdAtomicUsize,
    drops: StdAtomicUsize,
}

impl Counts {
    fn polls(&self) -> usize {
        self.polls.load(StdOrdering::SeqCst)
    }
    fn drops(&self) -> usize {
        self.drops.load(StdOrdering::SeqCst)
    }
}

/// A one-shot event with a correct wait: the waiter stores its waker and
/// re-checks; the opener sets the flag, then takes the waker and wakes it.
#[derive(Clone)]
struct Gate {
    open: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            open: Arc::new(AtomicBool::new(false)),
            waker: Arc::new(Mutex::new(None)),
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::Release);
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A future that completes (with 7) once the gate is open.
    fn wait(&self, counts: Arc<Counts>) -> Wait {
        Wait {
            gate: self.clone(),
            counts,
        }
    }
}

struct Wait {
    gate: Gate,
    counts: Arc<Counts>,
}

impl Future for Wait {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.counts.polls.fetch_add(1, StdOrdering::SeqCst);
        if self.gate.is_open() {
            return Poll::Ready(7);
        }
        *lock(&self.gate.waker) = Some(cx.waker().clone());
        if self.gate.is_open() {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.counts.drops.fetch_add(1, StdOrdering::SeqCst);
    }
}

/// Worker 0 with task A polled once and now delayed (it ran first while B
/// waited, so it is ineligible when it blocks), and B runnable. Returns
/// A's gate, counts and handle, and B's handle.
fn delayed_a(rt: &Arc<Shared>) -> (Gate, Arc<Counts>, JoinHandle<u32>, JoinHandle<()>) {
    let gate = Gate::new();
    let counts = Arc::new(Counts::default());
    let a = spawn(rt, gate.wait(counts.clone()));
    let b = spawn(rt, async {});
    assert!(rt.run_once(0));
    let info = a.info();
    assert!(
        info.is_delayed() && info.is_queued() && !info.is_runnable(),
        "setup: A should be delayed: {info:?}"
    );
    (gate, counts, a, b)
}

/// Drops everything the model made and checks that every task cell was freed:
/// no reference leaked (a freed task leaves the runtime's register).
fn assert_no_leak(rt: Arc<Shared>) {
    assert_eq!(rt.registry.len(), 0, "a task cell was never freed");
}

/// Scenario 1: the owner polls a task while another thread opens its gate.
/// The wake is never lost (the task completes), the task is never polled
/// twice at once (its future sits in a loom cell), and nothing leaks.
#[test]
fn loom_wake_during_poll_is_never_lost() {
    model("wake during poll", || {
        let rt = runtime(1, Hooks::default());
        let gate = Gate::new();
        let counts = Arc::new(Counts::default());
        let mut a = spawn(&rt, gate.wait(counts.clone()));
        let opener = thread::spawn(move || gate.open());
        drain(&rt, 0);
        opener.join().unwrap();
        drain(&rt, 0);
        assert_eq!(output(&mut a).unwrap(), 7, "lost wake");
        assert!(counts.polls() <= 2);
        assert_eq!(counts.drops(), 1);
        drop(a);
        assert_no_leak(rt);
    });
}

/// Scenario 2: A is delayed; its wake races the pick that meets its entry
/// (re-arm in place, or final dequeue and a new entry). A runs exactly once
/// more and completes; one entry at a time (the run queue asserts it).
#[test]
fn loom_wake_against_delayed_pick() {
    model("wake vs delayed pick", || {
        let rt = runtime(1, Hooks::default());
        let (gate, counts, mut a, b) = delayed_a(&rt);
        let opener = thread::spawn(move || gate.open());
        drain(&rt, 0);
        opener.join().unwrap();
        drain(&rt, 0);
        assert_eq!(output(&mut a).unwrap(), 7, "lost wake of a delayed task");
        assert_eq!(counts.polls(), 2, "polled once per wake");
        assert!(b.is_finished());
        drop((a, b));
        assert_no_leak(rt);
    });
}

/// Worker 0 with task A delayed (polled once, ineligible when it blocked)
/// beside B and C, runnable and never polled, whose gates are open.
struct Beside {
    gate: Gate,
    counts: Arc<Counts>,
    a: JoinHandle<u32>,
    others: Arc<Counts>,
    b: JoinHandle<u32>,
    c: JoinHandle<u32>,
}

fn delayed_beside_two(rt: &Arc<Shared>) -> Beside {
    let gate = Gate::new();
    let counts = Arc::new(Counts::default());
    let a = spawn(rt, gate.wait(counts.clone()));
    let others = Arc::new(Counts::default());
    let b = spawn(rt, Gate::open_now().wait(others.clone()));
    let c = spawn(rt, Gate::open_now().wait(others.clone()));
    assert!(rt.run_once(0));
    assert!(a.info().is_delayed(), "setup: A should be delayed");
    Beside {
        gate,
        counts,
        a,
        others,
        b,
        c,
    }
}

/// Scenario 3: A is delayed on worker 0 beside two runnable tasks; worker 1
/// steals while A is woken and worker 0 runs. The delayed entry is never
/// stolen, every task runs to completion exactly once, nothing leaks.
#[test]
fn loom_wake_against_steal() {
    model("wake vs steal", || {
        let rt = runtime(2, Hooks::default());
        let Beside {
            gate,
            counts,
            mut a,
            others,
            b,
            c,
        } = delayed_beside_two(&rt);
        let stealer = {
            let rt = rt.clone();
            thread::spawn(move || {
                if rt.steal_into(1) {
                    drain(&rt, 1);
                }
            })
        };
        let opener = thread::spawn(move || gate.open());
        drain(&rt, 0);
        stealer.join().unwrap();
        opener.join().unwrap();
        drain_all(&rt, 2);
        assert_eq!(output(&mut a).unwrap(), 7);
        assert_eq!(counts.polls(), 2);
        assert_eq!(others.polls(), 2, "B and C each polled exactly once");
        assert!(b.is_finished() && c.is_finished());
        drop((a, b, c));
        assert_no_leak(rt);
    });
}

impl Gate {
    fn open_now() -> Gate {
        let gate = Gate::new();
        gate.open();
        gate
    }
}

/// Scenario 4: two wakers, one by reference and one by value, on a delayed
/// task. One entry, one more poll, every waker reference released.
#[test]
fn loom_two_wakers_on_a_delayed_task() {
    model("two wakers", || {
        let rt = runtime(1, Hooks::default());
        let (gate, counts, mut a, b) = delayed_a(&rt);
        gate.open.store(true, Ordering::Release);
        let waker = lock(&gate.waker).take().expect("A stored its waker");
        let by_ref = {
            let waker = waker.clone();
            thread::spawn(move || waker.wake_by_ref())
        };
        let by_value = thread::spawn(move || waker.wake());
        drain(&rt, 0);
        by_ref.join().unwrap();
        by_value.join().unwrap();
        drain(&rt, 0);
        assert_eq!(output(&mut a).unwrap(), 7);
        assert_eq!(counts.polls(), 2);
        drop((a, b, gate));
        assert_no_leak(rt);
    });
}

/// Scenario 5a: abort against a poll of a task that yields once. The future
/// is dropped exactly once; the handle sees the output or a cancellation.
#[test]
fn loom_abort_against_poll() {
    model("abort vs poll", || {
        let rt = runtime(1, Hooks::default());
        let counts = Arc::new(Counts::default());
        let mut a = spawn(&rt, YieldOnce(counts.clone()));
        let abort = a.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        drain(&rt, 0);
        aborter.join().unwrap();
        drain(&rt, 0);
        match output(&mut a) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(e.is_cancelled(), "{e:?}"),
        }
        assert!(counts.polls() <= 2);
        assert_eq!(counts.drops(), 1, "the future is dropped exactly once");
        drop(a);
        assert_no_leak(rt);
    });
}

/// Yields once (self-wake), then completes with 7.
struct YieldOnce(Arc<Counts>);

impl Future for YieldOnce {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.0.polls.fetch_add(1, StdOrdering::SeqCst) == 0 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(7)
        }
    }
}

impl Drop for YieldOnce {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, StdOrdering::SeqCst);
    }
}

/// Scenario 5b: abort against the pick that meets a delayed task. Its gate
/// never opens, so only the abort can finish it: it always does, the future
/// is dropped exactly once and never polled again.
#[test]
fn loom_abort_against_delayed_pick() {
    model("abort vs delayed pick", || {
        let rt = runtime(1, Hooks::default());
        let (gate, counts, mut a, b) = delayed_a(&rt);
        let abort = a.abort_handle();
        let aborter = thread::spawn(move || abort.abort());
        drain(&rt, 0);
        aborter.join().unwrap();
        drain(&rt, 0);
        assert!(output(&mut a).unwrap_err().is_cancelled());
        assert_eq!(counts.polls(), 1, "no poll after the abort");
        assert_eq!(counts.drops(), 1);
        drop((a, b, gate));
        assert_no_leak(rt);
    });
}

/// Scenario 8: shutdown of a worker against a spawn onto it. The task is
/// either drained and cancelled by the shutdown or cancelled by the spawner
/// finding the inbox closed: never stranded, its handle always resolves.
#[test]
fn loom_shutdown_against_spawn() {
    model("shutdown vs spawn", || {
        let rt = runtime(1, Hooks::default());
        let counts = Arc::new(Counts::default());
        let spawner = {
            let (rt, counts) = (rt.clone(), counts.clone());
            thread::spawn(move || {
                let (task, join) = new_task(
                    Gate::new().wait(counts),
                    Params::new(),
                    None,
                    sched_ref(rt.clone()),
                );
                rt.registry.insert(&task);
                rt.spawn(task);
                join
            })
        };
        rt.shutdown_worker(0);
        let mut join = spawner.join().unwrap();
        assert!(output(&mut join).unwrap_err().is_cancelled());
        assert_eq!(counts.polls(), 0);
        assert_eq!(counts.drops(), 1);
        drop(join);
        assert_no_leak(rt);
    });
}

/// Scenario 9: shutdown against the wake of a delayed task. The wake never
/// lands in a dead queue: the task is cancelled exactly once either way.
#[test]
fn loom_shutdown_against_wake_of_delayed() {
    model("shutdown vs wake of delayed", || {
        let rt = runtime(1, Hooks::default());
        let (gate, counts, mut a, b) = delayed_a(&rt);
        let opener = thread::spawn(move || gate.open());
        rt.shutdown_worker(0);
        opener.join().unwrap();
        assert!(output(&mut a).unwrap_err().is_cancelled());
        assert_eq!(counts.polls(), 1);
        assert_eq!(counts.drops(), 1);
        drop((a, b));
        assert_no_leak(rt);
    });
}

/// What a notifier or hook saw, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    /// Switched in; whether the opener had woken the task by then.
    In { woken: bool },
    /// Switched out; whether the opener had woken the task by then.
    Out { reason: SwitchReason, woken: bool },
}

struct Recorder {
    events: std::sync::Mutex<Vec<Event>>,
    /// Set by the opener just before it wakes the task.
    woken: Arc<std::sync::atomic::AtomicBool>,
}

impl Recorder {
    fn woken(&self) -> bool {
        self.woken.load(StdOrdering::SeqCst)
    }
}

impl PreemptNotifier for Recorder {
    fn sched_in(&self, _worker: usize) {
        let woken = self.woken();
        self.events.lock().unwrap().push(Event::In { woken });
    }
    fn sched_out(&self, reason: SwitchReason) {
        let woken = self.woken();
        self.events
            .lock()
            .unwrap()
            .push(Event::Out { reason, woken });
    }
}

/// Registers `notifier` at its first poll, then waits for the gate.
async fn watched(notifier: Arc<Recorder>, gate: Gate, counts: Arc<Counts>) -> u32 {
    let _guard = register_preempt_notifier(notifier);
    gate.wait(counts).await
}

/// Scenario 11: the switch-out reason, seen by a preempt notifier and by the
/// `on_switch_out` hook, while another thread wakes the task during its
/// poll. A runnable reason only when the wake came; the hook's
/// `is_runnable()` always agrees with the reason; a `Blocked` switch-out is
/// followed by a switch-in only after the wake; `Completed` comes last.
#[test]
fn loom_switch_reason_matches_the_task_fate() {
    model("switch reason", || {
        let disagreements = Arc::new(StdAtomicUsize::new(0));
        let mut hooks = Hooks::default();
        let seen = disagreements.clone();
        hooks.switch_out = Some(Arc::new(move |info, reason: SwitchReason| {
            if info.is_runnable() != reason.is_runnable() {
                seen.fetch_add(1, StdOrdering::SeqCst);
            }
        }));
        let rt = runtime(1, hooks);
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let recorder = Arc::new(Recorder {
            events: std::sync::Mutex::new(Vec::new()),
            woken: woken.clone(),
        });
        let gate = Gate::new();
        let counts = Arc::new(Counts::default());
        let mut a = spawn(&rt, watched(recorder.clone(), gate.clone(), counts));
        let opener = thread::spawn(move || {
            gate.open.store(true, Ordering::Release);
            woken.store(true, StdOrdering::SeqCst);
            let waker = lock(&gate.waker).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        drain(&rt, 0);
        opener.join().unwrap();
        drain(&rt, 0);
        assert_eq!(output(&mut a).unwrap(), 7);
        assert_eq!(disagreements.load(StdOrdering::SeqCst), 0);
        let events = recorder.events.lock().unwrap().clone();
        // The notifier was registered during the first poll: it hears that
        // poll's switch-out first.
        for pair in events.windows(2) {
            match pair {
                [Event::Out { reason, .. }, Event::In { woken }] => {
                    if *reason == SwitchReason::Blocked {
                        assert!(woken, "polled after Blocked without a wake: {events:?}");
                    }
                    assert_ne!(*reason, SwitchReason::Completed, "{events:?}");
                }
                [Event::In { .. }, Event::Out { .. }] => {}
                _ => panic!("switches do not alternate: {events:?}"),
            }
        }
        for e in &events {
            if let Event::Out { reason, woken } = e {
                if reason.is_runnable() {
                    assert!(woken, "runnable without a wake: {events:?}");
                }
            }
        }
        assert!(
            matches!(
                events.last(),
                Some(Event::Out {
                    reason: SwitchReason::Completed,
                    ..
                })
            ),
            "{events:?}"
        );
        drop(a);
        assert_no_leak(rt);
    });
}

/// Scenario 12: the run queue has no fixed capacity (it is an EEVDF tree, so
/// there is no overflow path to model); what remains is the accounting
/// across a steal with a delayed entry occupying the victim's queue while a
/// new task arrives. Every task runs exactly once, the delayed one stays put
/// until woken, nothing leaks.
#[test]
fn loom_steal_with_a_delayed_entry_accounts_for_every_task() {
    model("steal with delayed entry", || {
        let rt = runtime(2, Hooks::default());
        let Beside {
            gate,
            counts,
            mut a,
            others,
            b,
            c,
        } = delayed_beside_two(&rt);
        let stealer = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.steal_into(1);
                drain(&rt, 1);
            })
        };
        let d = spawn(&rt, Gate::open_now().wait(others.clone()));
        drain(&rt, 0);
        stealer.join().unwrap();
        drain_all(&rt, 2);
        assert_eq!(counts.polls(), 1, "the delayed task ran without a wake");
        assert_eq!(others.polls(), 3, "B, C and D each polled exactly once");
        assert!(!a.is_finished());
        gate.open();
        drain_all(&rt, 2);
        assert_eq!(output(&mut a).unwrap(), 7);
        drop((a, b, c, d));
        assert_no_leak(rt);
    });
}

/// The vCPU of the KVM regression: takes a pending interrupt if there is
/// one, else halts (`Pending`, waker left for the device). Done after one
/// interrupt.
struct Vcpu {
    posted: Arc<AtomicUsize>,
    taken: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Vcpu {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let take = |me: &Vcpu| {
            if me.posted.load(Ordering::Acquire) > me.taken.load(Ordering::Relaxed) {
                me.taken.fetch_add(1, Ordering::Relaxed);
                true
            } else {
                false
            }
        };
        if take(&self) {
            return Poll::Ready(());
        }
        // HLT: leave the waker for the device, re-check, sleep.
        *lock(&self.waker) = Some(cx.waker().clone());
        if take(&self) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// Marks the vCPU preempted while it is switched out but still runnable.
struct KvmNotifier {
    preempted: Arc<AtomicBool>,
    /// The bug: read "queued" from the task instead of the switch reason.
    buggy: Option<crate::task::AbortHandle>,
}

impl PreemptNotifier for KvmNotifier {
    fn sched_in(&self, _worker: usize) {
        self.preempted.store(false, Ordering::SeqCst);
    }
    fn sched_out(&self, reason: SwitchReason) {
        let preempted = match &self.buggy {
            None => reason.is_runnable(),
            Some(me) => me.info().is_queued(),
        };
        self.preempted.store(preempted, Ordering::SeqCst);
    }
}

/// The KVM model. The vCPU runs first beside a CPU-bound task, so when it
/// halts it owes service and stays queued as delayed. A device thread posts
/// an interrupt and wakes the vCPU only if it is not marked preempted (a
/// preempted vCPU is runnable and will see the interrupt when it runs).
/// Checks that the interrupt is taken.
fn kvm(buggy: bool) {
    let rt = runtime(1, Hooks::default());
    let posted = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(AtomicUsize::new(0));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let preempted = Arc::new(AtomicBool::new(false));
    let abort_slot: Arc<std::sync::Mutex<Option<crate::task::AbortHandle>>> = Arc::default();
    let vcpu = {
        let (posted, taken, waker) = (posted.clone(), taken.clone(), waker.clone());
        let (preempted, abort_slot) = (preempted.clone(), abort_slot.clone());
        async move {
            let buggy = buggy.then(|| abort_slot.lock().unwrap().take().unwrap());
            let _guard = register_preempt_notifier(Arc::new(KvmNotifier { preempted, buggy }));
            Vcpu {
                posted,
                taken,
                waker,
            }
            .await
        }
    };
    let vcpu = spawn(&rt, vcpu);
    *abort_slot.lock().unwrap() = Some(vcpu.abort_handle());
    let hog = spawn(&rt, async {});
    // The vCPU halts with no interrupt pending: delayed.
    assert!(rt.run_once(0));
    assert!(
        vcpu.info().is_delayed(),
        "setup: the vCPU should be delayed"
    );
    let device = {
        let (posted, waker, preempted) = (posted.clone(), waker.clone(), preempted.clone());
        thread::spawn(move || {
            posted.fetch_add(1, Ordering::Release);
            if !preempted.load(Ordering::SeqCst) {
                let waker = lock(&waker).take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        })
    };
    drain(&rt, 0);
    device.join().unwrap();
    drain(&rt, 0);
    assert_eq!(
        taken.load(Ordering::SeqCst),
        posted.load(Ordering::SeqCst),
        "lost interrupt: the vCPU sleeps with an interrupt pending"
    );
    assert!(vcpu.is_finished() && hog.is_finished());
}

/// The regression from Linux, fixed: the notifier uses
/// `SwitchReason::is_runnable`, and every interrupt is taken.
#[test]
fn loom_kvm_vcpu_takes_every_interrupt() {
    model("kvm vcpu (reason)", || kvm(false));
}

/// The same model with the notifier reading `is_queued()`: a halted,
/// delayed vCPU looks preempted, the device skips the wake, and the
/// interrupt is lost. Loom must find it.
#[test]
#[should_panic(expected = "lost interrupt")]
fn loom_kvm_with_is_queued_loses_an_interrupt() {
    model("kvm vcpu (is_queued, must fail)", || kvm(true));
}

/// A timer is registered while the only worker, out of work, goes to park.
/// The worker must either see the new deadline (and park with a timeout,
/// which ends by itself) or be unparked by the registration: a worker that
/// read "no timer" before announcing its park and then parked for good would
/// be a deadlock here. (The timer driver's own clock is real time; only the
/// order of the two threads' steps matters.)
#[test]
fn loom_timer_registered_while_a_worker_parks() {
    model("timer vs park", || {
        let rt = runtime(1, Hooks::default());
        let worker = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.become_worker(0);
                rt.park_worker(0, 0);
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let key = rt.driver.register(deadline, Waker::noop());
        assert!(
            matches!(key, Ok(Some(_))),
            "an hour ahead is not due, and the driver runs"
        );
        worker.join().unwrap();
    });
}

/// A busy worker with tasks to spare notifies an idle one just as that one
/// leaves its park on its own. The one-wake-in-flight gate of
/// `notify_idle` must end open either way: left closed, no idle worker would
/// ever be woken for spare work again.
#[test]
fn loom_notify_against_a_worker_leaving_its_park() {
    model("notify vs leaving park", || {
        let rt = runtime(2, Hooks::default());
        // A pending timer makes the idle worker's park a timed one, which
        // returns at once under loom: it leaves its park on its own.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        assert!(matches!(
            rt.driver.register(deadline, Waker::noop()),
            Ok(Some(_))
        ));
        let idle = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.become_worker(1);
                rt.park_worker(1, 0);
                rt.run_once(1);
            })
        };
        let _a = spawn(&rt, async {});
        let _b = spawn(&rt, async {});
        // Two runnable tasks on worker 0: its turn has one to spare and
        // notifies an idle worker.
        rt.run_once(0);
        idle.join().unwrap();
        assert!(rt.gate_is_open(), "the wake gate stayed closed");
    });
}

/// A busy worker takes the wake of a task whose owner is stuck in a long poll
/// (`take_woken`), while the wake arrives and the owner itself runs turns.
/// The task is polled exactly once more, wherever it lands, and nothing
/// leaks.
#[test]
fn loom_wake_taken_by_a_busy_worker() {
    model("wake taken by a busy worker", || {
        let rt = runtime(2, Hooks::default());
        let gate = Gate::new();
        let counts = Arc::new(Counts::default());
        let mut a = spawn(&rt, gate.wait(counts.clone()));
        // Polled once alone, A blocks while eligible: it leaves the queue.
        assert!(rt.run_once(0));
        assert!(!a.info().is_queued(), "setup: A should have left the queue");
        let taker = {
            let rt = rt.clone();
            thread::spawn(move || {
                if rt.take_woken(1, 0) {
                    drain(&rt, 1);
                }
            })
        };
        let opener = thread::spawn(move || gate.open());
        drain(&rt, 0);
        taker.join().unwrap();
        opener.join().unwrap();
        drain_all(&rt, 2);
        assert_eq!(output(&mut a).unwrap(), 7);
        assert_eq!(counts.polls(), 2, "A polled once after its wake");
        drop(a);
        assert_no_leak(rt);
    });
}
