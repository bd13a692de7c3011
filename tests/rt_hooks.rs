//! Switch hooks, preempt notifiers, schedstats (`TaskInfo`) and
//! `Handle::metrics`, checked through real runtimes.
//!
//! Most tests install a [`Recorder`] on the runtime's `Builder`: it logs every
//! `on_switch_in`/`on_switch_out` call with a snapshot of the `TaskInfo` it was
//! given, and every `on_task_spawn`/`on_task_terminate`. A hook's panic is
//! caught by the runtime, so nothing is asserted inside a hook: the logs are
//! checked afterwards, usually once the runtime is dropped (which waits for
//! the workers, so every hook call has finished).
//!
//! [`Recorder::check`] holds every task's log to the invariants the API
//! documents: switch-ins and switch-outs alternate; the poll counter counts
//! them; `voluntary_switches`/`involuntary_switches` count the `Blocked` and
//! `Preempted` reasons so far; `info.is_runnable() == reason.is_runnable()`;
//! a runnable reason leaves the task queued and not delayed, a `Blocked` one
//! leaves it queued only if delayed; nothing follows `Completed`, whose info
//! is finished.
//!
//! - Reasons and counters, on multi-thread runtimes: `yield_now` (`Yielded`),
//!   `cond_resched` beside a CPU-bound task (`Preempted`), a channel woken
//!   from a plain thread (`Blocked`), blocking while owing service (delayed),
//!   completion, spawn and terminate hooks, and when a `JoinHandle` is woken.
//! - Panicking hooks and notifiers are contained, on both flavors.
//! - `Handle::metrics`: live tasks, polls, steals, parks.
//! - A stress test: 2000 tasks' notifier event sequences under a wake storm.
//!
//! No assertion is about wall time: the tests wait for conditions (with a
//! generous deadline that only turns a hang into a failure) and count polls
//! and reasons.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use runtime::task::{self, Id, PreemptNotifier, SwitchReason, TaskInfo};
use runtime::{Builder, Handle};
use tests::spin;

use SwitchReason::{Blocked, Completed, Preempted, Yielded};

/// How long a wait for a condition may take before the test fails (a hang,
/// not a slow machine).
const PATIENCE: Duration = Duration::from_secs(20);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until `cond` holds; fails the test after [`PATIENCE`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

fn multi(workers: usize) -> Builder {
    let mut b = Builder::new_multi_thread();
    b.worker_threads(workers);
    b
}

// ===== the recorder =====

/// The parts of a `TaskInfo` the checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snap {
    runnable: bool,
    queued: bool,
    delayed: bool,
    finished: bool,
    polls: u64,
    voluntary: u64,
    involuntary: u64,
}

impl From<&TaskInfo> for Snap {
    fn from(i: &TaskInfo) -> Snap {
        Snap {
            runnable: i.is_runnable(),
            queued: i.is_queued(),
            delayed: i.is_delayed(),
            finished: i.is_finished(),
            polls: i.polls(),
            voluntary: i.voluntary_switches(),
            involuntary: i.involuntary_switches(),
        }
    }
}

/// One hook call about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    In { worker: usize, info: Snap },
    Out { reason: SwitchReason, info: Snap },
}

#[derive(Default)]
struct Logs {
    switches: Mutex<HashMap<Id, Vec<Switch>>>,
    spawned: Mutex<Vec<Id>>,
    terminated: Mutex<Vec<(Id, Snap)>>,
    /// Switch-outs whose `info.is_runnable()` disagreed with the reason's.
    mismatches: Mutex<Vec<(Id, SwitchReason, Snap)>>,
    ins: AtomicU64,
    outs: AtomicU64,
}

/// Logs of the runtime's task hooks; see the module docs.
#[derive(Clone, Default)]
struct Recorder(Arc<Logs>);

impl Recorder {
    /// A recorder installed as `b`'s four task hooks.
    fn install(b: &mut Builder) -> Recorder {
        let rec = Recorder::default();
        let (r1, r2, r3, r4) = (rec.clone(), rec.clone(), rec.clone(), rec.clone());
        b.on_switch_in(move |info, worker| r1.switch_in(info, worker))
            .on_switch_out(move |info, reason| r2.switch_out(info, reason))
            .on_task_spawn(move |info| r3.spawned(info))
            .on_task_terminate(move |info| r4.terminated(info));
        rec
    }

    fn switch_in(&self, info: &TaskInfo, worker: usize) {
        self.0.ins.fetch_add(1, SeqCst);
        let sw = Switch::In {
            worker,
            info: info.into(),
        };
        lock(&self.0.switches)
            .entry(info.id())
            .or_default()
            .push(sw);
    }

    fn switch_out(&self, info: &TaskInfo, reason: SwitchReason) {
        self.0.outs.fetch_add(1, SeqCst);
        let snap = Snap::from(info);
        if snap.runnable != reason.is_runnable() {
            lock(&self.0.mismatches).push((info.id(), reason, snap));
        }
        let sw = Switch::Out { reason, info: snap };
        lock(&self.0.switches)
            .entry(info.id())
            .or_default()
            .push(sw);
    }

    fn spawned(&self, info: &TaskInfo) {
        lock(&self.0.spawned).push(info.id());
    }

    fn terminated(&self, info: &TaskInfo) {
        lock(&self.0.terminated).push((info.id(), info.into()));
    }

    fn switches(&self, id: Id) -> Vec<Switch> {
        lock(&self.0.switches).get(&id).cloned().unwrap_or_default()
    }

    fn reasons(&self, id: Id) -> Vec<SwitchReason> {
        self.switches(id)
            .into_iter()
            .filter_map(|s| match s {
                Switch::Out { reason, .. } => Some(reason),
                Switch::In { .. } => None,
            })
            .collect()
    }

    fn count(&self, id: Id, reason: SwitchReason) -> usize {
        self.reasons(id)
            .into_iter()
            .filter(|&r| r == reason)
            .count()
    }

    fn ids(&self) -> Vec<Id> {
        let mut ids: Vec<Id> = lock(&self.0.switches).keys().copied().collect();
        ids.sort();
        ids
    }

    /// Checks one task's log against the documented invariants (see the module
    /// docs) and returns its switch-out reasons. Call it when the task is not
    /// being polled (after the runtime is dropped, typically).
    fn check(&self, id: Id, workers: usize) -> Vec<SwitchReason> {
        let log = self.switches(id);
        let mut reasons = Vec::new();
        let (mut blocked, mut preempted) = (0u64, 0u64);
        for (i, &sw) in log.iter().enumerate() {
            let around = &log[i.saturating_sub(3)..(i + 2).min(log.len())];
            let at = format!("task {id:?}, hook call {i} ({sw:?}); calls {around:?}");
            // The poll this call is about: the n-th, counted from 1.
            let nth = (i / 2 + 1) as u64;
            match sw {
                Switch::In { worker, info } => {
                    assert!(i % 2 == 0, "{at}: switch-in out of turn");
                    assert!(worker < workers, "{at}: no worker {worker}");
                    assert!(
                        info.runnable && info.queued && !info.delayed && !info.finished,
                        "{at}: a task being polled is runnable"
                    );
                    assert_eq!(
                        info.polls, nth,
                        "{at}: polls() counts each poll as it starts"
                    );
                }
                Switch::Out { reason, info } => {
                    assert!(i % 2 == 1, "{at}: switch-out out of turn");
                    assert!(
                        reasons.last() != Some(&Completed),
                        "{at}: a switch after Completed"
                    );
                    match reason {
                        Blocked => blocked += 1,
                        Preempted => preempted += 1,
                        Yielded | Completed => {}
                    }
                    assert_eq!(info.polls, nth, "{at}: polls()");
                    assert_eq!(info.voluntary, blocked, "{at}: voluntary_switches()");
                    assert_eq!(info.involuntary, preempted, "{at}: involuntary_switches()");
                    assert_eq!(info.runnable, reason.is_runnable(), "{at}: is_runnable()");
                    match reason {
                        Completed => assert!(
                            info.finished && !info.queued && !info.delayed,
                            "{at}: a completed task is finished and off the queue"
                        ),
                        Blocked => assert!(
                            !info.finished && info.queued == info.delayed,
                            "{at}: a blocked task stays queued only as delayed"
                        ),
                        Yielded | Preempted => assert!(
                            !info.finished && info.queued && !info.delayed,
                            "{at}: a runnable task is queued, not delayed"
                        ),
                    }
                    reasons.push(reason);
                }
            }
        }
        assert!(
            log.len().is_multiple_of(2),
            "task {id:?}: a switch-in without its switch-out: {log:?}"
        );
        reasons
    }

    /// [`check`](Self::check) for every task seen, and no switch-out in the
    /// whole run with `info.is_runnable() != reason.is_runnable()`.
    fn check_all(&self, workers: usize) {
        for id in self.ids() {
            self.check(id, workers);
        }
        let mismatches = lock(&self.0.mismatches);
        assert!(
            mismatches.is_empty(),
            "switch-outs with info.is_runnable() != reason.is_runnable(): {:?}",
            *mismatches
        );
        assert_eq!(
            self.0.ins.load(SeqCst),
            self.0.outs.load(SeqCst),
            "every switch-in has its switch-out"
        );
    }
}

// ===== a notifier that logs =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    In(usize),
    Out(SwitchReason),
}

/// A preempt notifier that logs its calls.
#[derive(Default)]
struct EventLog(Mutex<Vec<Event>>);

impl PreemptNotifier for EventLog {
    fn sched_in(&self, worker: usize) {
        lock(&self.0).push(Event::In(worker));
    }
    fn sched_out(&self, reason: SwitchReason) {
        lock(&self.0).push(Event::Out(reason));
    }
}

impl EventLog {
    fn events(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }
}

/// What a notifier registered in a task's first poll must have seen, given
/// the hooks' log of that task: every switch-out, and every switch-in but
/// the first (it was registered during that poll).
fn notifier_view(switches: &[Switch]) -> Vec<Event> {
    switches
        .iter()
        .skip(1)
        .map(|s| match *s {
            Switch::In { worker, .. } => Event::In(worker),
            Switch::Out { reason, .. } => Event::Out(reason),
        })
        .collect()
}

// ===== a small channel that works on any executor =====

/// An unbounded multi-producer channel: a queue and the receiver's waker.
struct Chan<T> {
    inner: Mutex<(VecDeque<T>, Option<Waker>)>,
}

impl<T> Chan<T> {
    fn new() -> Arc<Chan<T>> {
        Arc::new(Chan {
            inner: Mutex::new((VecDeque::new(), None)),
        })
    }

    fn send(&self, value: T) {
        let waker = {
            let mut inner = lock(&self.inner);
            inner.0.push_back(value);
            inner.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    async fn recv(&self) -> T {
        poll_fn(|cx| {
            let mut inner = lock(&self.inner);
            match inner.0.pop_front() {
                Some(v) => Poll::Ready(v),
                None => {
                    inner.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

// ===== 1. reasons and counters =====

/// A task that yields `N` times: `N` × `Yielded`, then `Completed`; `N + 1`
/// polls, no voluntary or involuntary switch. A notifier registered in its
/// first poll sees the same switches as the hooks (but the first switch-in).
#[test]
fn yield_now_is_yielded_then_completed() {
    const N: u64 = 10;
    // The longest slice: a poll stretched by the OS cannot use up the request,
    // which would make a yield `Preempted`.
    let mut b = multi(2);
    b.base_slice(Duration::from_millis(100));
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    let log = Arc::new(EventLog::default());
    let mut task = {
        let log = log.clone();
        rt.spawn(async move {
            let _guard = task::register_preempt_notifier(log);
            for _ in 0..N {
                task::yield_now().await;
            }
            "done"
        })
    };
    assert_eq!(rt.block_on(&mut task).unwrap(), "done");
    drop(rt);
    let id = task.id();
    let reasons = rec.check(id, 2);
    let mut want = vec![Yielded; N as usize];
    want.push(Completed);
    assert_eq!(reasons, want);
    let info = task.info();
    assert!(info.is_finished());
    assert_eq!(info.polls(), N + 1);
    assert_eq!(info.voluntary_switches(), 0);
    assert_eq!(info.involuntary_switches(), 0);
    assert_eq!(log.events(), notifier_view(&rec.switches(id)));
    rec.check_all(2);
}

/// Installs `hook` as thread hook `i`: start, stop, park, unpark.
fn thread_hook(b: &mut runtime::Builder, i: usize, hook: impl Fn() + Send + Sync + 'static) {
    match i {
        0 => b.on_thread_start(hook),
        1 => b.on_thread_stop(hook),
        2 => b.on_thread_park(hook),
        _ => b.on_thread_unpark(hook),
    };
}

/// A CPU-bound task that works 50 µs between yields until `done`, counting
/// its polls.
async fn yielding_hog(done: Arc<AtomicBool>, polls: Arc<AtomicU64>) {
    while !done.load(SeqCst) {
        polls.fetch_add(1, SeqCst);
        spin(Duration::from_micros(50));
        task::yield_now().await;
    }
}

/// A CPU-bound task that calls `cond_resched` every few µs, for ~20 ms of
/// spinning, beside another CPU-bound task on one worker: it is asked to step
/// aside (need_resched) at least once, each time it is `Preempted` (never
/// `Yielded`: it yields only through `cond_resched`), and
/// `involuntary_switches()` is the number of those.
#[test]
fn cond_resched_is_preempted_and_counted() {
    let mut b = multi(1);
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let other_polls = Arc::new(AtomicU64::new(0));
    let other = rt.spawn(yielding_hog(done.clone(), other_polls.clone()));
    // The other task is on the run queue before the burner's first poll.
    wait_for("the other task's first poll", || {
        other_polls.load(SeqCst) > 0
    });
    let log = Arc::new(EventLog::default());
    let mut burner = {
        let (done, log) = (done.clone(), log.clone());
        rt.spawn(async move {
            let _guard = task::register_preempt_notifier(log);
            let mut spun = Duration::ZERO;
            let mut steps = 0u64;
            while spun < Duration::from_millis(20) {
                let start = Instant::now();
                spin(Duration::from_micros(5));
                spun += start.elapsed();
                steps += 1;
                task::cond_resched().await;
            }
            done.store(true, SeqCst);
            steps
        })
    };
    assert!(rt.block_on(&mut burner).unwrap() > 0);
    rt.block_on(other).unwrap();
    drop(rt);
    let id = burner.id();
    let reasons = rec.check(id, 1);
    let preempted = reasons.iter().filter(|&&r| r == Preempted).count();
    assert!(preempted >= 1, "never preempted: {reasons:?}");
    assert_eq!(reasons.last(), Some(&Completed));
    assert!(
        reasons[..reasons.len() - 1].iter().all(|&r| r == Preempted),
        "a cond_resched yield is Preempted: {reasons:?}"
    );
    let info = burner.info();
    assert_eq!(info.involuntary_switches(), preempted as u64);
    assert_eq!(info.voluntary_switches(), 0);
    assert_eq!(info.polls(), reasons.len() as u64);
    assert_eq!(log.events(), notifier_view(&rec.switches(id)));
    rec.check_all(1);
}

/// A task receiving `K` messages, each sent from a plain thread only once the
/// task has been reported `Blocked` waiting for it: `K` × `Blocked` (each
/// followed by a poll), then `Completed`; `voluntary_switches() == K`.
#[test]
fn blocked_on_a_channel_then_woken_from_a_thread() {
    const K: usize = 8;
    let mut b = multi(2);
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    let chan = Chan::<u64>::new();
    let mut receiver = {
        let chan = chan.clone();
        rt.spawn(async move {
            let mut sum = 0;
            for _ in 0..K {
                sum += chan.recv().await;
            }
            sum
        })
    };
    let id = receiver.id();
    let sender = {
        let rec = rec.clone();
        thread::spawn(move || {
            for i in 0..K {
                wait_for("the receiver to block", || rec.count(id, Blocked) > i);
                chan.send(i as u64 + 1);
            }
        })
    };
    assert_eq!(
        rt.block_on(&mut receiver).unwrap(),
        (1..=K as u64).sum::<u64>()
    );
    sender.join().unwrap();
    drop(rt);
    let reasons = rec.check(id, 2);
    let mut want = vec![Blocked; K];
    want.push(Completed);
    assert_eq!(reasons, want);
    let info = receiver.info();
    assert_eq!(info.voluntary_switches(), K as u64);
    assert_eq!(info.involuntary_switches(), 0);
    assert_eq!(info.polls(), K as u64 + 1);
    rec.check_all(2);
}

/// A future that runs one long first poll, then blocks without waking itself,
/// leaving its waker for the test; ready on its next poll.
struct Burst {
    first: Duration,
    polled: bool,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Burst {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        spin(self.first);
        *lock(&self.waker) = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// What the runtime showed while a task was delayed: its worker's delayed
/// count and the task's entry in `metrics().tasks()`, read inside the
/// switch-out hook of its `Blocked` switch.
#[derive(Debug, Clone, Copy)]
struct SeenDelayed {
    worker_delayed: u64,
    listed: Option<Snap>,
}

/// A task that blocks while it owes service (a 5 ms first poll beside a
/// CPU-bound task on one worker, delayed dequeue on by default): its
/// `Blocked` switch-out shows it queued, delayed and not runnable, as do
/// `Handle::metrics` read at that moment. In every switch-out of the run,
/// `info.is_runnable() == reason.is_runnable()`.
#[test]
fn blocking_while_ineligible_is_delayed() {
    let mut b = multi(1);
    let rec = Recorder::install(&mut b);
    let seen: Arc<Mutex<Vec<SeenDelayed>>> = Arc::default();
    {
        let (rec, seen) = (rec.clone(), seen.clone());
        b.on_switch_out(move |info, reason| {
            rec.switch_out(info, reason);
            if reason == Blocked && info.is_delayed() {
                // The worker is in this hook: nothing can pick the task, so
                // it is still delayed.
                let m = Handle::current().metrics();
                lock(&seen).push(SeenDelayed {
                    worker_delayed: m.workers()[0].delayed(),
                    listed: m
                        .tasks()
                        .iter()
                        .find(|t| t.id() == info.id())
                        .map(Snap::from),
                });
            }
        });
    }
    let rt = b.build().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let other_polls = Arc::new(AtomicU64::new(0));
    let other = rt.spawn(yielding_hog(done.clone(), other_polls.clone()));
    wait_for("the other task's first poll", || {
        other_polls.load(SeqCst) > 0
    });
    let waker = Arc::new(Mutex::new(None::<Waker>));
    let mut burst = rt.spawn(Burst {
        first: Duration::from_millis(5),
        polled: false,
        waker: waker.clone(),
    });
    let id = burst.id();
    wait_for("the burst to block", || rec.count(id, Blocked) == 1);
    lock(&waker)
        .take()
        .expect("the burst left its waker")
        .wake();
    rt.block_on(&mut burst).unwrap();
    done.store(true, SeqCst);
    rt.block_on(other).unwrap();
    drop(rt);

    assert_eq!(rec.check(id, 1), [Blocked, Completed]);
    let Switch::Out { info, .. } = rec.switches(id)[1] else {
        unreachable!("checked above")
    };
    assert!(
        info.queued && info.delayed && !info.runnable,
        "blocked while owing service: queued, delayed, not runnable: {info:?}"
    );
    let seen = lock(&seen).clone();
    assert_eq!(seen.len(), 1, "one delayed block: {seen:?}");
    assert_eq!(seen[0].worker_delayed, 1, "{seen:?}");
    let listed = seen[0].listed.expect("a live task is listed");
    assert!(
        listed.queued && listed.delayed && !listed.runnable && !listed.finished,
        "{listed:?}"
    );
    rec.check_all(1);
}

/// Tasks that complete (at once, after yields, by panicking, by aborting
/// themselves during a poll, spawned from inside a task), and one aborted
/// while blocked: `on_task_spawn` sees each spawn once; `on_task_terminate`
/// sees each task once, finished; each that was polled to its end is switched
/// out `Completed` last, finished; the one aborted while blocked is never
/// polled again.
#[test]
fn completion_spawn_and_terminate_hooks() {
    let mut b = multi(2);
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    let (ids, aborted) = rt.block_on({
        let rec = rec.clone();
        async move {
            let mut ids = Vec::new();
            let mut handles = Vec::new();
            for i in 0..10u64 {
                handles.push(runtime::spawn(async move {
                    for _ in 0..i % 3 {
                        task::yield_now().await;
                    }
                    i
                }));
            }
            // A task that spawns two more and joins them.
            handles.push(runtime::spawn(async {
                let a = runtime::spawn(async { 100 });
                let b = runtime::spawn(async {
                    task::yield_now().await;
                    1000
                });
                a.await.unwrap() + b.await.unwrap()
            }));
            for (i, h) in handles.into_iter().enumerate() {
                ids.push(h.id());
                let out = h.await.unwrap();
                assert_eq!(out, if i < 10 { i as u64 } else { 1100 });
            }
            let panicker = runtime::spawn(async {
                task::yield_now().await;
                panic!("this task panics on purpose")
            });
            ids.push(panicker.id());
            assert!(panicker.await.unwrap_err().is_panic());
            // Aborted by itself during its poll: the poll ends `Completed`.
            let me: Arc<Mutex<Option<task::AbortHandle>>> = Arc::default();
            let selfish = runtime::spawn({
                let me = me.clone();
                async move {
                    loop {
                        let handle = lock(&me).take();
                        if let Some(handle) = handle {
                            handle.abort();
                            break;
                        }
                        task::yield_now().await;
                    }
                    // Pending, woken, but cancelled: never resumed.
                    task::yield_now().await;
                }
            });
            *lock(&me) = Some(selfish.abort_handle());
            ids.push(selfish.id());
            assert!(selfish.await.unwrap_err().is_cancelled());
            // Blocked forever, then aborted.
            let chan = Chan::<()>::new();
            let stuck = {
                let chan = chan.clone();
                runtime::spawn(async move { chan.recv().await })
            };
            let stuck_id = stuck.id();
            ids.push(stuck_id);
            while rec.count(stuck_id, Blocked) == 0 {
                task::yield_now().await;
            }
            stuck.abort();
            assert!(stuck.await.unwrap_err().is_cancelled());
            (ids, stuck_id)
        }
    });
    drop(rt);

    let spawned = lock(&rec.0.spawned).clone();
    // The two spawned from inside a task are not in `ids`: 10 + 1 + 2 + 3.
    assert_eq!(spawned.len(), 16, "{spawned:?}");
    let unique: HashSet<Id> = spawned.iter().copied().collect();
    assert_eq!(unique.len(), spawned.len(), "a spawn reported twice");
    assert!(ids.iter().all(|id| unique.contains(id)));
    let terminated = lock(&rec.0.terminated).clone();
    let ended: HashSet<Id> = terminated.iter().map(|(id, _)| *id).collect();
    assert_eq!(ended.len(), terminated.len(), "a task terminated twice");
    assert_eq!(ended, unique, "every spawned task terminated, once");
    for (id, info) in &terminated {
        assert!(
            info.finished,
            "task {id:?} not finished in on_task_terminate"
        );
    }
    for &id in &spawned {
        let reasons = rec.check(id, 2);
        if id == aborted {
            assert_eq!(
                reasons,
                [Blocked],
                "aborted while blocked, never polled again"
            );
        } else {
            assert_eq!(reasons.last(), Some(&Completed), "task {id:?}: {reasons:?}");
        }
    }
    rec.check_all(2);
}

/// A `JoinHandle` waker that notes, when woken, which of the task's final
/// calls had already been made.
struct JoinWatch {
    id: Id,
    rec: Recorder,
    log: Arc<EventLog>,
    /// (on_task_terminate, on_switch_out(Completed), sched_out(Completed)),
    /// as seen at the first wake.
    seen: Mutex<Option<[bool; 3]>>,
}

impl std::task::Wake for JoinWatch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let terminated = lock(&self.rec.0.terminated)
            .iter()
            .any(|(id, _)| *id == self.id);
        let switched_out = self.rec.reasons(self.id).last() == Some(&Completed);
        let notified = self.log.events().last() == Some(&Event::Out(Completed));
        lock(&self.seen).get_or_insert([terminated, switched_out, notified]);
    }
}

/// A task's `JoinHandle` is woken only after `on_task_terminate`, the
/// `Completed` switch-out hook and the notifier's `sched_out(Completed)` have
/// run, whether the task returns or aborts itself during its last poll. (The
/// handle is polled once by hand, with a waker that looks, before the task
/// can finish; a handle polled without a wake may see the task complete
/// before those calls, which nothing promises otherwise.)
#[test]
fn join_handle_is_woken_after_the_final_calls() {
    let mut b = multi(2);
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    for i in 0..20u64 {
        let chan = Chan::<u64>::new();
        let log = Arc::new(EventLog::default());
        let me: Arc<Mutex<Option<task::AbortHandle>>> = Arc::default();
        let mut handle = {
            let (chan, log, me) = (chan.clone(), log.clone(), me.clone());
            rt.spawn(async move {
                let _guard = task::register_preempt_notifier(log);
                let got = chan.recv().await;
                if got % 2 == 1 {
                    // Aborted during its poll: switched out `Completed`.
                    lock(&me).take().expect("the abort handle").abort();
                    task::yield_now().await;
                }
                got * 2
            })
        };
        *lock(&me) = Some(handle.abort_handle());
        let watch = Arc::new(JoinWatch {
            id: handle.id(),
            rec: rec.clone(),
            log,
            seen: Mutex::new(None),
        });
        let waker = Waker::from(watch.clone());
        let mut cx = Context::from_waker(&waker);
        // The task cannot finish before it receives: the waker is in place.
        assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
        chan.send(i);
        wait_for("the join wake", || lock(&watch.seen).is_some());
        let seen = lock(&watch.seen).unwrap();
        assert_eq!(
            seen, [true; 3],
            "task {i}: (terminate hook, Completed switch-out hook, notifier's \
             sched_out(Completed)) when the JoinHandle was woken"
        );
        match Pin::new(&mut handle).poll(&mut cx) {
            Poll::Ready(Ok(out)) => assert!(i % 2 == 0 && out == 2 * i, "task {i}: {out}"),
            Poll::Ready(Err(e)) => assert!(i % 2 == 1 && e.is_cancelled(), "task {i}: {e}"),
            Poll::Pending => panic!("task {i}: woken but not ready"),
        }
    }
    drop(rt);
    rec.check_all(2);
}

// ===== 2. panicking hooks and notifiers =====

/// Panics on every call, after counting it.
#[derive(Default)]
struct Panicky(AtomicU64);

impl PreemptNotifier for Panicky {
    fn sched_in(&self, _: usize) {
        self.0.fetch_add(1, SeqCst);
        panic!("sched_in panics on purpose");
    }
    fn sched_out(&self, _: SwitchReason) {
        self.0.fetch_add(1, SeqCst);
        panic!("sched_out panics on purpose");
    }
}

/// Every hook panics on every call (after recording it), and each task has a
/// notifier that panics on every call registered before a logging one. The
/// tasks all complete with the right outputs, every switch still reaches the
/// hooks and both notifiers, and the runtime keeps working: a second batch of
/// tasks after the first.
#[test]
fn panicking_hooks_and_notifiers_are_contained() {
    let flavors: [(&str, Builder, usize); 2] = [
        ("current_thread", Builder::new_current_thread(), 1),
        ("multi_thread(2)", multi(2), 2),
    ];
    for (flavor, mut b, workers) in flavors {
        let rec = Recorder::default();
        let thread_calls = Arc::new(AtomicU64::new(0));
        {
            let (r1, r2, r3, r4) = (rec.clone(), rec.clone(), rec.clone(), rec.clone());
            b.on_switch_in(move |info, worker| {
                r1.switch_in(info, worker);
                panic!("on_switch_in panics on purpose");
            })
            .on_switch_out(move |info, reason| {
                r2.switch_out(info, reason);
                panic!("on_switch_out panics on purpose");
            })
            .on_task_spawn(move |info| {
                r3.spawned(info);
                panic!("on_task_spawn panics on purpose");
            })
            .on_task_terminate(move |info| {
                r4.terminated(info);
                panic!("on_task_terminate panics on purpose");
            });
            for i in 0..4 {
                let calls = thread_calls.clone();
                let hook = move || {
                    calls.fetch_add(1, SeqCst);
                    panic!("a thread hook panics on purpose");
                };
                thread_hook(&mut b, i, hook);
            }
        }
        let rt = b.build().unwrap();
        let mut notifiers = Vec::new();
        for batch in 0..2u64 {
            let mut handles = Vec::new();
            for i in 0..8u64 {
                let (bad, log) = (Arc::new(Panicky::default()), Arc::new(EventLog::default()));
                notifiers.push((bad.clone(), log.clone()));
                let chan = Chan::<u64>::new();
                let sender = chan.clone();
                handles.push(rt.spawn(async move {
                    let _bad = task::register_preempt_notifier(bad);
                    let _log = task::register_preempt_notifier(log);
                    task::yield_now().await;
                    // Blocked, woken by a task on the runtime.
                    runtime::spawn(async move { sender.send(i) });
                    let got = chan.recv().await;
                    task::yield_now().await;
                    batch * 100 + got * 2
                }));
            }
            let outs: Vec<u64> = rt.block_on(async {
                let mut outs = Vec::new();
                for h in handles {
                    outs.push(h.await.unwrap());
                }
                outs
            });
            let want: Vec<u64> = (0..8).map(|i| batch * 100 + i * 2).collect();
            assert_eq!(outs, want, "{flavor}: batch {batch}");
        }
        assert_eq!(rt.block_on(rt.spawn(async { 7 })).unwrap(), 7, "{flavor}");
        drop(rt);
        rec.check_all(workers);
        // Tasks with notifiers, plus the senders, plus the last one.
        assert_eq!(lock(&rec.0.spawned).len(), 16 + 16 + 1, "{flavor}");
        assert_eq!(lock(&rec.0.terminated).len(), 16 + 16 + 1, "{flavor}");
        for (bad, log) in &notifiers {
            let events = log.events();
            assert_eq!(
                events.last(),
                Some(&Event::Out(Completed)),
                "{flavor}: {events:?}"
            );
            assert!(
                events.iter().filter(|e| **e == Event::Out(Blocked)).count() <= 1,
                "{flavor}: {events:?}"
            );
            for pair in events.windows(2) {
                let alternate = matches!(
                    pair,
                    [Event::Out(_), Event::In(_)] | [Event::In(_), Event::Out(_)]
                );
                assert!(alternate, "{flavor}: {events:?}");
            }
            // The panicking notifier got the same calls as the logging one.
            assert_eq!(bad.0.load(SeqCst), events.len() as u64, "{flavor}");
        }
        if workers > 1 {
            // Start and stop of each worker, at least.
            assert!(thread_calls.load(SeqCst) >= 2 * workers as u64, "{flavor}");
        }
    }
}

// ===== 3. metrics =====

/// `Handle::metrics` on two workers: `tasks()` lists exactly the unfinished
/// tasks; the workers' polls add up to at least the polls the hooks saw; a
/// worker flooded with spawns while stuck in a long poll has them stolen;
/// that worker parks once idle (and the park/unpark/start/stop hooks agree
/// with the counters).
#[test]
fn metrics_list_live_tasks_and_count_polls_steals_parks() {
    let mut b = multi(2);
    let rec = Recorder::install(&mut b);
    let counters: Arc<[AtomicU64; 4]> = Arc::default();
    for i in 0..4 {
        let counters = counters.clone();
        let hook = move || {
            counters[i].fetch_add(1, SeqCst);
        };
        thread_hook(&mut b, i, hook);
    }
    let rt = b.build().unwrap();
    let handle = rt.handle().clone();

    // Live tasks: three that never finish, one finished, one aborted.
    let pending: Vec<_> = (0..3)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    let finished = rt.spawn(async { 5 });
    let finished_id = finished.id();
    assert_eq!(rt.block_on(finished).unwrap(), 5);
    let live =
        |m: &runtime::RuntimeMetrics| -> Vec<Id> { m.tasks().iter().map(|t| t.id()).collect() };
    let mut want: Vec<Id> = pending.iter().map(|h| h.id()).collect();
    assert_eq!(live(&handle.metrics()), want);
    assert!(!want.contains(&finished_id));
    let aborted = pending.last().unwrap();
    aborted.abort();
    wait_for("the abort", || aborted.is_finished());
    want.pop();
    assert_eq!(live(&handle.metrics()), want);
    for t in handle.metrics().tasks() {
        assert!(!t.is_finished());
    }

    // Steals: one task stays in a single poll, spawning a 1 ms CPU-bound task
    // every 200 µs, until some worker has stolen. A spawn that lands in the
    // inbox of the busy worker can only run if the other worker takes it, so
    // this ends as soon as one spawn goes there.
    let steals =
        |m: &runtime::RuntimeMetrics| -> u64 { m.workers().iter().map(|w| w.steals()).sum() };
    let spawner = rt.spawn(async move {
        // Earlier spawns (this task's own, too) may have been taken from
        // another worker's inbox: only count steals from here on.
        let before = steals(&Handle::current().metrics());
        let deadline = Instant::now() + PATIENCE;
        let mut spawned = Vec::new();
        loop {
            let m = Handle::current().metrics();
            let stolen = steals(&m) - before;
            if stolen > 0 || Instant::now() > deadline {
                // Each worker's parks while this one is busy in this poll.
                let parks: Vec<u64> = m.workers().iter().map(|w| w.parks()).collect();
                break (stolen, spawned, parks);
            }
            spawned.push(runtime::spawn(async { spin(Duration::from_millis(1)) }));
            thread::sleep(Duration::from_micros(200));
        }
    });
    let spawner_id = spawner.id();
    let (stolen, spawned, parks_while_busy) = rt.block_on(spawner).unwrap();
    assert!(stolen > 0, "no steal after {} spawns", spawned.len());
    let polls_of_spawned = rt.block_on(async {
        let mut polls = 0;
        for mut h in spawned {
            (&mut h).await.unwrap();
            polls += h.info().polls();
        }
        polls
    });
    assert!(polls_of_spawned > 0);

    // Polls: every switch-in the hooks saw was counted by a worker first.
    let hooked = rec.0.ins.load(SeqCst);
    let m = handle.metrics();
    let counted: u64 = m.workers().iter().map(|w| w.polls()).sum();
    assert!(hooked >= polls_of_spawned);
    assert!(
        counted >= hooked,
        "workers counted {counted} polls, hooks saw {hooked}"
    );

    // Parks: the spawner's worker, busy in that poll when its parks were
    // read, has parked since, once out of work.
    let Some(&Switch::In { worker, .. }) = rec.switches(spawner_id).first() else {
        panic!("the spawner was polled")
    };
    thread::sleep(Duration::from_millis(20));
    wait_for("the idle worker to park", || {
        handle.metrics().workers()[worker].parks() > parks_while_busy[worker]
    });
    let parks: u64 = handle.metrics().workers().iter().map(|w| w.parks()).sum();
    drop(pending);
    drop(rt);
    let [start, stop, park, unpark] = [0, 1, 2, 3].map(|i| counters[i].load(SeqCst));
    assert_eq!((start, stop), (2, 2));
    assert!(park >= parks, "{park} park hooks, {parks} parks counted");
    assert_eq!(park, unpark, "each park is followed by an unpark");
    rec.check_all(2);
}

// ===== 4. stress: notifier event sequences under wake storms =====

/// A task's wake slot: the waker it left, and how many wakes were issued to
/// it (incremented before each wake).
#[derive(Default)]
struct Slot {
    waker: Mutex<Option<Waker>>,
    wakes: AtomicU64,
    /// `wakes` as read by the last `Park` before it published its waker.
    armed: AtomicU64,
}

/// Pending once (publishing its waker in the slot, and the slot's index in
/// the list of armed slots), ready on the next poll.
struct Park {
    slot: Arc<Slot>,
    index: usize,
    armed: Arc<Mutex<Vec<usize>>>,
    parked: bool,
    linger: Duration,
}

impl Future for Park {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.parked {
            return Poll::Ready(());
        }
        self.parked = true;
        // Read before the waker is published: any wake through it counts after.
        self.slot.armed.store(self.slot.wakes.load(SeqCst), SeqCst);
        *lock(&self.slot.waker) = Some(cx.waker().clone());
        lock(&self.armed).push(self.index);
        // Linger, so that wakes often land during the poll.
        spin(self.linger);
        Poll::Pending
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stress {
    /// Switched in; `wakes` issued so far.
    In { worker: usize, wakes: u64 },
    /// Switched out; for `Blocked`, the wake count its `Park` was armed at.
    Out { reason: SwitchReason, armed: u64 },
}

struct StressLog {
    slot: Arc<Slot>,
    events: Mutex<Vec<Stress>>,
}

impl PreemptNotifier for StressLog {
    fn sched_in(&self, worker: usize) {
        let wakes = self.slot.wakes.load(SeqCst);
        lock(&self.events).push(Stress::In { worker, wakes });
    }
    fn sched_out(&self, reason: SwitchReason) {
        let armed = self.slot.armed.load(SeqCst);
        lock(&self.events).push(Stress::Out { reason, armed });
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// 2000 tasks on two workers, each waiting `K` times on a [`Park`] woken by
/// one of 4 plain threads that wake random slots; a third of the tasks also
/// yield after some waits, half linger in their `Pending` polls so that wakes
/// land during them. Each task's notifier log: switch-outs and switch-ins
/// alternate, starting with the switch-out of the first poll; a `Blocked` is
/// followed by a switch-in only after a new wake was issued to it; nothing
/// follows `Completed`, which is last. The logs agree with the hooks' and
/// with the task's own counters.
#[test]
fn stress_notifier_sequences_under_wake_storm() {
    const TASKS: usize = 2000;
    const K: usize = 20;
    const WAKERS: u64 = 4;
    let mut b = multi(2);
    let rec = Recorder::install(&mut b);
    let rt = b.build().unwrap();
    let slots: Arc<Vec<Arc<Slot>>> = Arc::new((0..TASKS).map(|_| Arc::default()).collect());
    let logs: Vec<Arc<StressLog>> = slots
        .iter()
        .map(|slot| {
            Arc::new(StressLog {
                slot: slot.clone(),
                events: Mutex::default(),
            })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let armed: Arc<Mutex<Vec<usize>>> = Arc::default();
    let wakers: Vec<_> = (0..WAKERS)
        .map(|t| {
            let (slots, armed, stop) = (slots.clone(), armed.clone(), stop.clone());
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (t + 1);
                let mut issued = 0u64;
                while !stop.load(SeqCst) {
                    // A random armed slot (often one armed moments ago, its
                    // task maybe still in the poll), or any random slot.
                    let r = xorshift(&mut rng);
                    let picked = if r.is_multiple_of(2) {
                        let mut armed = lock(&armed);
                        let n = armed.len() as u64;
                        (n > 0).then(|| armed.swap_remove((r / 2 % n) as usize))
                    } else {
                        None
                    };
                    let i = picked.unwrap_or((r / 2 % TASKS as u64) as usize);
                    let slot = &slots[i];
                    let waker = lock(&slot.waker).take();
                    if let Some(w) = waker {
                        slot.wakes.fetch_add(1, SeqCst);
                        w.wake();
                        issued += 1;
                    } else if xorshift(&mut rng).is_multiple_of(64) {
                        thread::yield_now();
                    }
                }
                issued
            })
        })
        .collect();
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let (slot, log, armed) = (slots[i].clone(), logs[i].clone(), armed.clone());
            rt.spawn(async move {
                let _guard = task::register_preempt_notifier(log);
                let mut rng = i as u64 + 1;
                for _ in 0..K {
                    Park {
                        slot: slot.clone(),
                        index: i,
                        armed: armed.clone(),
                        parked: false,
                        linger: Duration::from_micros(if i % 2 == 0 { 3 } else { 0 }),
                    }
                    .await;
                    // A third of the tasks also yield, at random.
                    if i % 3 == 0 && xorshift(&mut rng).is_multiple_of(2) {
                        task::yield_now().await;
                    }
                }
                i
            })
        })
        .collect();
    let ids: Vec<Id> = handles.iter().map(|h| h.id()).collect();
    // Joined on another thread, so that a lost wake fails the test instead of
    // hanging it.
    let (tx, rx) = mpsc::channel();
    let joiner = {
        let handle = rt.handle().clone();
        thread::spawn(move || {
            let infos = handle.block_on(async {
                let mut infos = Vec::new();
                for (i, mut h) in handles.into_iter().enumerate() {
                    assert_eq!((&mut h).await.unwrap(), i);
                    infos.push(h);
                }
                infos
            });
            let _ = tx.send(());
            infos
        })
    };
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let stuck: Vec<_> = logs
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                !matches!(
                    lock(&l.events).last(),
                    Some(Stress::Out {
                        reason: Completed,
                        ..
                    })
                )
            })
            .take(5)
            .map(|(i, l)| (i, lock(&l.events).clone()))
            .collect();
        panic!("tasks did not finish (a lost wake?); some of them: {stuck:?}");
    }
    let joined = joiner.join().unwrap();
    stop.store(true, SeqCst);
    let issued: u64 = wakers.into_iter().map(|w| w.join().unwrap()).sum();
    drop(rt);
    assert!(issued > 0);

    let (mut blocked, mut delayed) = (0usize, 0usize);
    for (i, log) in logs.iter().enumerate() {
        let events = lock(&log.events).clone();
        let id = ids[i];
        let hooked = rec.switches(id);
        rec.check(id, 2);
        let at = |j: usize| {
            format!(
                "task {i}, event {j}: {:?}",
                &events[j.saturating_sub(3)..(j + 2).min(events.len())]
            )
        };
        // Registered during the first poll: it sees everything after that
        // poll's switch-in, exactly as the hooks did (so `events[j]` is
        // `hooked[j + 1]`).
        let as_event = |s: &Stress| match *s {
            Stress::In { worker, .. } => Event::In(worker),
            Stress::Out { reason, .. } => Event::Out(reason),
        };
        assert_eq!(
            events.iter().map(as_event).collect::<Vec<_>>(),
            notifier_view(&hooked),
            "task {i}: the notifier and the hooks disagree"
        );
        assert!(
            matches!(
                events.last(),
                Some(Stress::Out {
                    reason: Completed,
                    ..
                })
            ),
            "{}",
            at(events.len() - 1)
        );
        for (j, pair) in events.windows(2).enumerate() {
            match (pair[0], pair[1]) {
                (Stress::Out { reason, armed }, Stress::In { wakes, .. }) => {
                    assert_ne!(reason, Completed, "{}", at(j));
                    // Polled again only after a wake issued since it blocked
                    // (a stale re-arm message from an earlier wake finds
                    // nothing to do).
                    assert!(
                        reason != Blocked || wakes > armed,
                        "{}: polled after Blocked without a wake",
                        at(j)
                    );
                }
                (Stress::In { .. }, Stress::Out { .. }) => {}
                _ => panic!("{}: events do not alternate", at(j)),
            }
        }
        let outs: Vec<(SwitchReason, usize)> = hooked
            .iter()
            .enumerate()
            .filter_map(|(k, s)| match s {
                Switch::Out { reason, info } => {
                    if *reason == Blocked {
                        blocked += 1;
                        delayed += usize::from(info.delayed);
                    }
                    Some((*reason, k))
                }
                Switch::In { .. } => None,
            })
            .collect();
        let info = joined[i].info();
        let count = |r| outs.iter().filter(|(x, _)| *x == r).count() as u64;
        assert_eq!(info.polls(), outs.len() as u64, "task {i}");
        assert_eq!(info.voluntary_switches(), count(Blocked), "task {i}");
        assert_eq!(info.involuntary_switches(), count(Preempted), "task {i}");
        assert!(
            count(Blocked) <= K as u64,
            "task {i}: more blocks than waits"
        );
    }
    rec.check_all(2);
    // Not vacuous: most waits blocked (the rest were woken during their poll).
    assert!(blocked >= TASKS * K / 10, "only {blocked} blocks");
    println!("{blocked} blocks ({delayed} delayed), {issued} wakes issued");
}
