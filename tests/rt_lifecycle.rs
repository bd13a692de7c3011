//! Task lifecycle, checked with counting futures that record EXACT poll and
//! drop counts.
//!
//! The matrix test `matrix_*` covers every combination of
//!
//! - how the task ends: it completes, or it panics (the payload must round-trip
//!   through `JoinError::into_panic`);
//! - what happens to its `JoinHandle`: awaited, dropped before the task first
//!   runs, or dropped after it finished;
//! - when it is aborted: never, before its first poll, during a poll (the task
//!   aborts itself through an `AbortHandle`, then returns `Pending`), while it is
//!   blocked (`Pending`, not woken), or after completion (no effect);
//!
//! and checks for each that the future is dropped exactly once, polled exactly
//! the expected number of times and never after the abort, that the output (or
//! panic payload) reaches the `JoinHandle` or is dropped exactly once, that the
//! `JoinHandle` resolves to `Ok` / cancelled / panic as it should, and that
//! `is_finished` is right before and after.
//!
//! Other tests cover: dropping (or shutting down) the runtime with tasks still
//! pending (never woken, woken but not run, spawned but never run, runnable,
//! aborted but not yet reaped), after which every future is dropped exactly once
//! and the `JoinHandle`s, polled once with a no-op waker, are cancelled; a spawn
//! through a `Handle` after the runtime is gone; a spawn from a future's
//! destructor during shutdown; panicking tasks (and a panicking `block_on`
//! future) not taking the runtime down; aborting or waking a task that blocked
//! while owing service (EEVDF's delayed dequeue); joining from another task.
//!
//! Every test takes its runtimes from [`runtimes`], the one place to add a
//! flavor. The cases that hold a task "not yet polled" or "woken but not yet
//! run" (abort before the first poll; shutdown with such tasks) rely on no task
//! running outside `block_on`, and run only for flavors where
//! [`idle_outside_block_on`] says so (the current-thread ones); everything else
//! is written to hold on worker threads too.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use runtime::task::{AbortHandle, JoinError, JoinHandle, yield_now};
use runtime::{Handle, Runtime};
use tests::all_runtimes as runtimes;

// ===== runtimes =====

/// Whether the flavor runs tasks only inside `block_on`, so that a task can be
/// held "spawned but not yet polled" or "woken but not yet run" between
/// `block_on` calls. True of the current-thread flavor; a multi-thread runtime
/// runs tasks on its workers at any time, so the cases that need those states
/// are skipped for it.
fn idle_outside_block_on(flavor: &str) -> bool {
    flavor.starts_with("current_thread")
}

// ===== helpers =====

const PATIENCE: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drives the runtime (inside `block_on`) until `done` holds; fails after
/// [`PATIENCE`] with `what`.
fn drive_until(rt: &Runtime, what: &str, mut done: impl FnMut() -> bool) {
    rt.block_on(async {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < PATIENCE,
                "gave up after {PATIENCE:?} waiting for {what}"
            );
            yield_now().await;
        }
    });
}

/// Lets the runtime run `turns` scheduling rounds, to give any unexpected poll
/// or drop the chance to happen.
fn drive_for(rt: &Runtime, turns: usize) {
    rt.block_on(async {
        for _ in 0..turns {
            yield_now().await;
        }
    });
}

/// Drives the runtime until the task finishes (failing after [`PATIENCE`]
/// rather than hanging), then takes its result.
fn join<T: Send + 'static>(rt: &Runtime, handle: JoinHandle<T>) -> Result<T, JoinError> {
    drive_until(rt, "the task to finish", || handle.is_finished());
    rt.block_on(handle)
}

/// A tiny executor for futures that must already be ready: polls once with a
/// no-op waker.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Silences the default panic message for the tests' own [`Boom`] panics
/// (other panics, such as failed assertions, still print).
fn quiet_booms() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Boom>().is_none() {
                prev(info);
            }
        }));
    });
}

// ===== the counting future =====

/// What a [`Counting`] future and its output went through.
#[derive(Debug, Default)]
struct Counters {
    polls: AtomicUsize,
    drops: AtomicUsize,
    /// Set as soon as `abort` (by the test or the task itself) returned.
    aborted: AtomicBool,
    /// Polls that started once `aborted` was set.
    polls_after_abort: AtomicUsize,
    /// Polls that returned `Pending` (finished polls, unlike `polls`).
    pendings: AtomicUsize,
    /// Drops of the output value or of the panic payload.
    out_drops: AtomicUsize,
}

impl Counters {
    fn polls(&self) -> usize {
        self.polls.load(SeqCst)
    }
    fn pendings(&self) -> usize {
        self.pendings.load(SeqCst)
    }
    fn drops(&self) -> usize {
        self.drops.load(SeqCst)
    }
    fn out_drops(&self) -> usize {
        self.out_drops.load(SeqCst)
    }
}

/// The output of a [`Counting`] future; counts its own drop.
#[derive(Debug)]
struct Output {
    value: u32,
    c: Arc<Counters>,
}

impl Drop for Output {
    fn drop(&mut self) {
        self.c.out_drops.fetch_add(1, SeqCst);
    }
}

/// The panic payload of a [`Counting`] future; counts its own drop.
#[derive(Debug)]
struct Boom {
    value: u32,
    c: Arc<Counters>,
}

impl Drop for Boom {
    fn drop(&mut self) {
        self.c.out_drops.fetch_add(1, SeqCst);
    }
}

/// How a [`Counting`] future gets woken after returning `Pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WakeBy {
    /// It wakes itself before returning `Pending` (a yield).
    Itself,
    /// It stores its waker in its [`WakerSlot`]; someone outside wakes it.
    Outside,
}

type WakerSlot = Arc<Mutex<Option<Waker>>>;
type AbortSlot = Arc<Mutex<Option<AbortHandle>>>;

/// Wakes the waker stored in `slot`, if any; returns whether there was one.
fn ring(slot: &WakerSlot) -> bool {
    let waker = lock(slot).take();
    waker.map(Waker::wake).is_some()
}

/// A future that counts its polls and drops, returns `Pending` a set number of
/// times, and then completes with an [`Output`] or panics with a [`Boom`].
struct Counting {
    c: Arc<Counters>,
    value: u32,
    pendings: usize,
    wake: WakeBy,
    waker: WakerSlot,
    /// 1-based poll on which to panic.
    panic_on: Option<usize>,
    /// 1-based poll on which to abort itself through the handle in the slot.
    abort_self_on: Option<(usize, AbortSlot)>,
    /// Busy time spent in the first poll.
    burn_first_poll: Duration,
}

impl Counting {
    /// Completes with `value` on its first poll.
    fn new(c: &Arc<Counters>, value: u32) -> Counting {
        Counting {
            c: c.clone(),
            value,
            pendings: 0,
            wake: WakeBy::Itself,
            waker: WakerSlot::default(),
            panic_on: None,
            abort_self_on: None,
            burn_first_poll: Duration::ZERO,
        }
    }

    /// Returns `Pending` on its first `n` polls, woken as `wake` says (with
    /// `Outside`, through `slot`).
    fn pending(mut self, n: usize, wake: WakeBy, slot: &WakerSlot) -> Counting {
        self.pendings = n;
        self.wake = wake;
        self.waker = slot.clone();
        self
    }

    fn panic_on(mut self, poll: usize) -> Counting {
        self.panic_on = Some(poll);
        self
    }

    fn abort_self_on(mut self, poll: usize, slot: &AbortSlot) -> Counting {
        self.abort_self_on = Some((poll, slot.clone()));
        self
    }

    fn burn_first_poll(mut self, d: Duration) -> Counting {
        self.burn_first_poll = d;
        self
    }
}

impl Future for Counting {
    type Output = Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        let this = self.get_mut();
        let n = this.c.polls.fetch_add(1, SeqCst) + 1;
        if this.c.aborted.load(SeqCst) {
            this.c.polls_after_abort.fetch_add(1, SeqCst);
        }
        if n == 1 && !this.burn_first_poll.is_zero() {
            let start = Instant::now();
            while start.elapsed() < this.burn_first_poll {
                std::hint::spin_loop();
            }
        }
        if let Some((at, slot)) = &this.abort_self_on {
            if n == *at {
                // The test installs the handle right after spawning; a worker
                // thread may get here first.
                let start = Instant::now();
                loop {
                    if let Some(abort) = lock(slot).as_ref() {
                        abort.abort();
                        break;
                    }
                    assert!(start.elapsed() < PATIENCE, "no abort handle installed");
                    std::thread::yield_now();
                }
                this.c.aborted.store(true, SeqCst);
            }
        }
        if this.panic_on == Some(n) {
            panic::panic_any(Boom {
                value: this.value,
                c: this.c.clone(),
            });
        }
        if n <= this.pendings {
            match this.wake {
                WakeBy::Itself => cx.waker().wake_by_ref(),
                WakeBy::Outside => *lock(&this.waker) = Some(cx.waker().clone()),
            }
            this.c.pendings.fetch_add(1, SeqCst);
            return Poll::Pending;
        }
        Poll::Ready(Output {
            value: this.value,
            c: this.c.clone(),
        })
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.c.drops.fetch_add(1, SeqCst);
    }
}

/// Checks that `result` is a cancellation of task `id`.
fn assert_cancelled(ctx: &str, result: Result<Output, JoinError>, id: runtime::task::Id) {
    match result {
        Ok(out) => panic!("{ctx}: expected cancelled, got Ok({})", out.value),
        Err(e) => {
            assert!(e.is_cancelled(), "{ctx}: expected cancelled, got {e:?}");
            assert!(!e.is_panic(), "{ctx}: cancelled and panic at once: {e:?}");
            assert_eq!(e.id(), id, "{ctx}: JoinError::id");
        }
    }
}

/// Checks that `result` is the panic of task `id` with a [`Boom`] of `value`.
fn assert_boom(ctx: &str, result: Result<Output, JoinError>, id: runtime::task::Id, value: u32) {
    let err = match result {
        Ok(out) => panic!("{ctx}: expected a panic, got Ok({})", out.value),
        Err(e) => e,
    };
    assert!(err.is_panic(), "{ctx}: expected a panic, got {err:?}");
    assert!(!err.is_cancelled(), "{ctx}: {err:?}");
    assert_eq!(err.id(), id, "{ctx}: JoinError::id");
    let payload: Box<dyn Any + Send> = err.into_panic();
    match payload.downcast::<Boom>() {
        Ok(boom) => assert_eq!(boom.value, value, "{ctx}: panic payload"),
        Err(_) => panic!("{ctx}: the panic payload is not the Boom the task panicked with"),
    }
}

// ===== the matrix =====

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    Completes,
    Panics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Awaited,
    DroppedBeforeRun,
    DroppedAfterFinish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    Never,
    BeforeFirstPoll,
    /// The task aborts itself in its first poll, then returns `Pending`.
    DuringPoll,
    /// After its first poll returned `Pending`, before anyone wakes it.
    WhileBlocked,
    AfterCompletion,
}

/// One cell of the matrix. The future returns `Pending` once (waker stored
/// for the test to ring), then completes with 7 or panics with `Boom(7)` on its
/// second poll.
fn lifecycle(ends: Ends, join: Join, abort: Abort) {
    quiet_booms();
    for (flavor, rt) in runtimes() {
        if abort == Abort::BeforeFirstPoll && !idle_outside_block_on(flavor) {
            continue; // a worker may poll the task before the abort
        }
        let ctx = format!("{flavor}, {ends:?}, {join:?}, abort {abort:?}");
        let ctx = ctx.as_str();
        let c = Arc::new(Counters::default());
        let waker = WakerSlot::default();
        let abort_slot = AbortSlot::default();
        let mut future = Counting::new(&c, 7).pending(1, WakeBy::Outside, &waker);
        if ends == Ends::Panics {
            future = future.panic_on(2);
        }
        if abort == Abort::DuringPoll {
            future = future.abort_self_on(1, &abort_slot);
        }

        let mut handle = Some(rt.spawn(future));
        let id = handle.as_ref().unwrap().id();
        let abort_handle = handle.as_ref().unwrap().abort_handle();
        assert_eq!(abort_handle.id(), id, "{ctx}: AbortHandle::id");
        *lock(&abort_slot) = Some(abort_handle.clone());
        assert!(
            !handle.as_ref().unwrap().is_finished(),
            "{ctx}: finished at spawn"
        );
        assert!(!abort_handle.is_finished(), "{ctx}: finished at spawn");

        if abort == Abort::BeforeFirstPoll {
            handle.as_ref().unwrap().abort();
            c.aborted.store(true, SeqCst);
        }
        if join == Join::DroppedBeforeRun {
            drop(handle.take());
        }
        let finished = |h: &Option<JoinHandle<Output>>| {
            let f = abort_handle.is_finished();
            if let Some(h) = h {
                assert_eq!(
                    h.is_finished(),
                    f,
                    "{ctx}: JoinHandle and AbortHandle disagree"
                );
            }
            f
        };

        // Phase 1: the first poll (or the reaping of a task aborted before it).
        drive_until(&rt, "the first poll", || {
            c.polls() >= 1 || abort_handle.is_finished()
        });
        match abort {
            Abort::BeforeFirstPoll | Abort::DuringPoll => {
                drive_until(&rt, "the aborted task to finish", || {
                    abort_handle.is_finished()
                });
                let expected = usize::from(abort == Abort::DuringPoll);
                assert_eq!(
                    c.polls(),
                    expected,
                    "{ctx}: polls before the abort took effect"
                );
            }
            Abort::Never | Abort::WhileBlocked | Abort::AfterCompletion => {
                // Pending and not woken: it must stay blocked.
                drive_until(&rt, "the first poll to return", || c.pendings() == 1);
                drive_for(&rt, 50);
                assert_eq!(c.polls(), 1, "{ctx}: a blocked task was polled");
                assert!(!finished(&handle), "{ctx}: blocked task is finished");
                assert_eq!(c.drops(), 0, "{ctx}: a blocked task's future was dropped");
                assert!(lock(&waker).is_some(), "{ctx}: no waker stored");
            }
        }

        // Phase 2: the abort of a blocked task, or its wake.
        if abort == Abort::WhileBlocked {
            match &handle {
                Some(h) => h.abort(),
                None => abort_handle.abort(),
            }
            abort_handle.abort(); // idempotent
            c.aborted.store(true, SeqCst);
            drive_until(&rt, "the aborted blocked task to finish", || {
                abort_handle.is_finished()
            });
        } else if !abort_handle.is_finished() {
            assert!(ring(&waker), "{ctx}: no waker to ring");
            drive_until(&rt, "the woken task to finish", || {
                abort_handle.is_finished()
            });
        }
        assert!(finished(&handle), "{ctx}: not finished");
        assert_eq!(c.drops(), 1, "{ctx}: future drops once finished");

        // Phase 3: late abort and late wake change nothing.
        if abort == Abort::AfterCompletion {
            if let Some(h) = &handle {
                h.abort();
            }
            abort_handle.abort();
            c.aborted.store(true, SeqCst);
        }
        ring(&waker);
        drive_for(&rt, 20);

        let expected_polls = match abort {
            Abort::BeforeFirstPoll => 0,
            Abort::DuringPoll | Abort::WhileBlocked => 1,
            Abort::Never | Abort::AfterCompletion => 2,
        };
        let cancelled = matches!(
            abort,
            Abort::BeforeFirstPoll | Abort::DuringPoll | Abort::WhileBlocked
        );
        assert_eq!(c.polls(), expected_polls, "{ctx}: polls");
        assert_eq!(
            c.pendings(),
            expected_polls.min(1),
            "{ctx}: Pending returns"
        );
        assert_eq!(c.drops(), 1, "{ctx}: future drops");
        assert_eq!(
            c.polls_after_abort.load(SeqCst),
            0,
            "{ctx}: polled after abort"
        );
        assert!(finished(&handle), "{ctx}: not finished at the end");

        // The JoinHandle's result; the output (or payload) is kept for it.
        if let Some(h) = handle.take() {
            assert_eq!(
                c.out_drops(),
                0,
                "{ctx}: output dropped before it was joined"
            );
            match join {
                Join::Awaited => {
                    let result = rt.block_on(h);
                    match (cancelled, ends) {
                        (true, _) => assert_cancelled(ctx, result, id),
                        (false, Ends::Completes) => {
                            let out = result.unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                            assert_eq!(out.value, 7, "{ctx}: output");
                        }
                        (false, Ends::Panics) => assert_boom(ctx, result, id, 7),
                    }
                }
                Join::DroppedAfterFinish => drop(h),
                Join::DroppedBeforeRun => unreachable!(),
            }
        }
        drop(abort_handle);
        lock(&abort_slot).take();
        let produced = usize::from(!cancelled);
        assert_eq!(c.out_drops(), produced, "{ctx}: output/payload drops");

        drop(rt);
        assert_eq!(c.drops(), 1, "{ctx}: future drops after runtime drop");
        assert_eq!(c.polls(), expected_polls, "{ctx}: polls after runtime drop");
        assert_eq!(
            c.out_drops(),
            produced,
            "{ctx}: output drops after runtime drop"
        );
    }
}

macro_rules! matrix {
    ($($name:ident: $ends:ident, $join:ident, $abort:ident;)*) => {
        $(
            #[test]
            fn $name() {
                lifecycle(Ends::$ends, Join::$join, Abort::$abort);
            }
        )*
    };
}

matrix! {
    matrix_completes_awaited_never: Completes, Awaited, Never;
    matrix_completes_awaited_before_first_poll: Completes, Awaited, BeforeFirstPoll;
    matrix_completes_awaited_during_poll: Completes, Awaited, DuringPoll;
    matrix_completes_awaited_while_blocked: Completes, Awaited, WhileBlocked;
    matrix_completes_awaited_after_completion: Completes, Awaited, AfterCompletion;
    matrix_completes_dropped_early_never: Completes, DroppedBeforeRun, Never;
    matrix_completes_dropped_early_before_first_poll: Completes, DroppedBeforeRun, BeforeFirstPoll;
    matrix_completes_dropped_early_during_poll: Completes, DroppedBeforeRun, DuringPoll;
    matrix_completes_dropped_early_while_blocked: Completes, DroppedBeforeRun, WhileBlocked;
    matrix_completes_dropped_early_after_completion: Completes, DroppedBeforeRun, AfterCompletion;
    matrix_completes_dropped_late_never: Completes, DroppedAfterFinish, Never;
    matrix_completes_dropped_late_before_first_poll: Completes, DroppedAfterFinish, BeforeFirstPoll;
    matrix_completes_dropped_late_during_poll: Completes, DroppedAfterFinish, DuringPoll;
    matrix_completes_dropped_late_while_blocked: Completes, DroppedAfterFinish, WhileBlocked;
    matrix_completes_dropped_late_after_completion: Completes, DroppedAfterFinish, AfterCompletion;
    matrix_panics_awaited_never: Panics, Awaited, Never;
    matrix_panics_awaited_before_first_poll: Panics, Awaited, BeforeFirstPoll;
    matrix_panics_awaited_during_poll: Panics, Awaited, DuringPoll;
    matrix_panics_awaited_while_blocked: Panics, Awaited, WhileBlocked;
    matrix_panics_awaited_after_completion: Panics, Awaited, AfterCompletion;
    matrix_panics_dropped_early_never: Panics, DroppedBeforeRun, Never;
    matrix_panics_dropped_early_before_first_poll: Panics, DroppedBeforeRun, BeforeFirstPoll;
    matrix_panics_dropped_early_during_poll: Panics, DroppedBeforeRun, DuringPoll;
    matrix_panics_dropped_early_while_blocked: Panics, DroppedBeforeRun, WhileBlocked;
    matrix_panics_dropped_early_after_completion: Panics, DroppedBeforeRun, AfterCompletion;
    matrix_panics_dropped_late_never: Panics, DroppedAfterFinish, Never;
    matrix_panics_dropped_late_before_first_poll: Panics, DroppedAfterFinish, BeforeFirstPoll;
    matrix_panics_dropped_late_during_poll: Panics, DroppedAfterFinish, DuringPoll;
    matrix_panics_dropped_late_while_blocked: Panics, DroppedAfterFinish, WhileBlocked;
    matrix_panics_dropped_late_after_completion: Panics, DroppedAfterFinish, AfterCompletion;
}

// ===== abort during the poll that finishes =====

/// A task that aborts itself in the poll that then completes (or panics)
/// keeps that result: the abort takes effect only at the next point a worker
/// reaches the task, and there is none.
#[test]
fn abort_during_the_final_poll_keeps_its_result() {
    quiet_booms();
    for (flavor, rt) in runtimes() {
        for ends in [Ends::Completes, Ends::Panics] {
            let ctx = format!("{flavor}, {ends:?}");
            let ctx = ctx.as_str();
            let c = Arc::new(Counters::default());
            let abort_slot = AbortSlot::default();
            let mut future = Counting::new(&c, 11).abort_self_on(1, &abort_slot);
            if ends == Ends::Panics {
                future = future.panic_on(1);
            }
            let handle = rt.spawn(future);
            let id = handle.id();
            *lock(&abort_slot) = Some(handle.abort_handle());
            let result = join(&rt, handle);
            match ends {
                Ends::Completes => {
                    let out = result.unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                    assert_eq!(out.value, 11, "{ctx}");
                }
                Ends::Panics => assert_boom(ctx, result, id, 11),
            }
            assert_eq!(c.polls(), 1, "{ctx}: polls");
            assert_eq!(c.drops(), 1, "{ctx}: drops");
            lock(&abort_slot).take();
            assert_eq!(c.out_drops(), 1, "{ctx}: output drops");
        }
    }
}

// ===== exact poll counts =====

/// A task that returns `Pending` n times is polled exactly n + 1 times, whether
/// it wakes itself (a yield) or is woken from outside once per `Pending`; no
/// spurious polls and no missed ones.
#[test]
fn pending_n_times_is_polled_n_plus_one_times() {
    for (flavor, rt) in runtimes() {
        for n in [0, 1, 5, 40] {
            // Woken by itself.
            let c = Arc::new(Counters::default());
            let slot = WakerSlot::default();
            let handle = rt.spawn(Counting::new(&c, 1).pending(n, WakeBy::Itself, &slot));
            let out = join(&rt, handle).unwrap();
            assert_eq!(out.value, 1);
            assert_eq!(c.polls(), n + 1, "{flavor}: self-woken, n = {n}");
            assert_eq!(c.drops(), 1, "{flavor}: self-woken, n = {n}");

            // Woken from outside, one wake per Pending, from the test thread
            // between block_on calls.
            let c = Arc::new(Counters::default());
            let slot = WakerSlot::default();
            let handle = rt.spawn(Counting::new(&c, 2).pending(n, WakeBy::Outside, &slot));
            for i in 1..=n {
                drive_until(&rt, "the next poll", || c.pendings() == i);
                drive_for(&rt, 10);
                assert_eq!(c.polls(), i, "{flavor}: polled without a wake, n = {n}");
                assert!(!handle.is_finished());
                assert!(ring(&slot), "{flavor}: no waker after poll {i}");
            }
            let out = join(&rt, handle).unwrap();
            assert_eq!(out.value, 2);
            assert_eq!(c.polls(), n + 1, "{flavor}: woken from outside, n = {n}");
            assert_eq!(c.drops(), 1, "{flavor}: woken from outside, n = {n}");
        }
    }
}

/// Wakes from another thread while the runtime sits in `block_on` (parked):
/// each one gets the task polled once more.
#[test]
fn wakes_from_another_thread_reach_a_parked_runtime() {
    for (flavor, rt) in runtimes() {
        let n = 25;
        let c = Arc::new(Counters::default());
        let slot = WakerSlot::default();
        let handle = rt.spawn(Counting::new(&c, 3).pending(n, WakeBy::Outside, &slot));
        let waker_thread = {
            let (c, slot) = (c.clone(), slot.clone());
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut rung = 0;
                while rung < n {
                    assert!(
                        start.elapsed() < PATIENCE,
                        "task stuck at {} polls",
                        c.polls()
                    );
                    // Ring only once the task has stored the waker of poll rung+1.
                    if c.polls() == rung + 1 && ring(&slot) {
                        rung += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            })
        };
        // The runtime parks inside block_on between wakes; it runs on its
        // own thread so that a lost wake fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let runner = std::thread::spawn(move || {
            let _ = tx.send(rt.block_on(handle));
        });
        let out = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| {
                panic!(
                    "{flavor}: task never finished: stuck at {} polls",
                    c.polls()
                )
            })
            .unwrap();
        runner.join().unwrap();
        waker_thread.join().unwrap();
        assert_eq!(out.value, 3);
        assert_eq!(c.polls(), n + 1, "{flavor}: polls");
        assert_eq!(c.drops(), 1, "{flavor}: drops");
    }
}

// ===== delayed dequeue =====

/// A task that blocks right after a long first poll, beside a busy sibling,
/// owes service: with delayed dequeue it stays queued as delayed. Aborting it
/// or waking it then (at once, or after the scheduler met its delayed entry)
/// still cancels or polls it exactly once.
#[test]
fn abort_or_wake_a_task_that_blocked_while_owing_service() {
    for (flavor, rt) in runtimes() {
        for abort in [false, true] {
            // Abort or wake at once (the victim still delayed), or after the
            // sibling ran long enough for the victim's delayed entry to be
            // picked and its dequeue finished.
            for settle in [Duration::ZERO, Duration::from_millis(5)] {
                let ctx = format!("{flavor}, abort {abort}, settle {settle:?}");
                let ctx = ctx.as_str();
                let sib = Arc::new(Counters::default());
                let sib_slot = WakerSlot::default();
                let sibling =
                    rt.spawn(Counting::new(&sib, 0).pending(usize::MAX, WakeBy::Itself, &sib_slot));
                let c = Arc::new(Counters::default());
                let slot = WakerSlot::default();
                let victim = rt.spawn(
                    Counting::new(&c, 5)
                        .pending(1, WakeBy::Outside, &slot)
                        .burn_first_poll(Duration::from_micros(500)),
                );
                drive_until(&rt, "the first polls", || {
                    c.pendings() == 1 && sib.polls() >= 1
                });
                let start = Instant::now();
                drive_until(&rt, "the settle time", || start.elapsed() >= settle);
                assert_eq!(c.polls(), 1, "{ctx}: blocked victim polled again");
                assert!(!victim.is_finished(), "{ctx}: blocked victim finished");
                let id = victim.id();
                if abort {
                    victim.abort();
                    c.aborted.store(true, SeqCst);
                    assert_cancelled(ctx, join(&rt, victim), id);
                    assert_eq!(c.polls(), 1, "{ctx}: polls");
                } else {
                    assert!(ring(&slot), "{ctx}: no waker");
                    assert_eq!(join(&rt, victim).unwrap().value, 5, "{ctx}");
                    assert_eq!(c.polls(), 2, "{ctx}: polls");
                }
                assert_eq!(c.drops(), 1, "{ctx}: victim drops");
                assert_eq!(c.polls_after_abort.load(SeqCst), 0, "{ctx}");

                // The sibling is runnable (it keeps yielding): abort it there.
                let sid = sibling.id();
                sibling.abort();
                sib.aborted.store(true, SeqCst);
                assert_cancelled(ctx, join(&rt, sibling), sid);
                let polls = sib.polls();
                drive_for(&rt, 10);
                assert_eq!(sib.polls(), polls, "{ctx}: sibling polled after abort");
                if idle_outside_block_on(flavor) {
                    // (On worker threads a poll that began before the abort
                    // may only reach the future after `aborted` is set.)
                    assert_eq!(sib.polls_after_abort.load(SeqCst), 0, "{ctx}");
                }
                assert_eq!(sib.drops(), 1, "{ctx}: sibling drops");
            }
        }
    }
}

// ===== joining from a task =====

/// A `JoinHandle` awaited inside another task delivers the output, or the
/// cancellation when the awaited task is aborted while blocked.
#[test]
fn join_handle_awaited_by_another_task() {
    for (flavor, rt) in runtimes() {
        for abort in [false, true] {
            let ctx = format!("{flavor}, abort {abort}");
            let c = Arc::new(Counters::default());
            let slot = WakerSlot::default();
            let target = rt.spawn(Counting::new(&c, 9).pending(1, WakeBy::Outside, &slot));
            let id = target.id();
            let abort_handle = target.abort_handle();
            let joiner = rt.spawn(async move { target.await.map(|out| out.value) });
            drive_until(&rt, "the target's first poll", || c.pendings() == 1);
            drive_for(&rt, 10);
            assert!(!joiner.is_finished(), "{ctx}: joiner finished early");
            if abort {
                abort_handle.abort();
            } else {
                assert!(ring(&slot));
            }
            let result = join(&rt, joiner).expect("the joiner itself succeeds");
            match (abort, result) {
                (false, Ok(v)) => assert_eq!(v, 9, "{ctx}"),
                (true, Err(e)) => {
                    assert!(e.is_cancelled(), "{ctx}: {e:?}");
                    assert_eq!(e.id(), id, "{ctx}");
                }
                (_, other) => panic!("{ctx}: unexpected {other:?}"),
            }
            assert_eq!(c.polls(), if abort { 1 } else { 2 }, "{ctx}: polls");
            assert_eq!(c.drops(), 1, "{ctx}: drops");
        }
    }
}

// ===== runtime shutdown =====

#[derive(Debug, Clone, Copy)]
enum Shutdown {
    Drop,
    Timeout,
    Background,
}

fn shut_down(rt: Runtime, how: Shutdown) {
    match how {
        Shutdown::Drop => drop(rt),
        Shutdown::Timeout => rt.shutdown_timeout(Duration::from_millis(100)),
        Shutdown::Background => rt.shutdown_background(),
    }
}

/// A task of the shutdown test: its counters, handle and waker slot.
struct Case {
    name: &'static str,
    c: Arc<Counters>,
    slot: WakerSlot,
    handle: JoinHandle<Output>,
}

/// Shutting the runtime down with tasks in every unfinished state drops each
/// future exactly once, without polling it, and resolves each `JoinHandle`
/// (polled once afterwards: no runtime is left to wake it) to cancelled;
/// finished tasks keep their output. Wakes after the shutdown do nothing.
#[test]
fn shutdown_drops_every_pending_future_once() {
    quiet_booms();
    for how in [Shutdown::Drop, Shutdown::Timeout, Shutdown::Background] {
        for (flavor, rt) in runtimes() {
            let ctx = format!("{flavor}, {how:?}");
            let ctx = ctx.as_str();
            let spawn = |name, f: &dyn Fn(Counting) -> Counting| {
                let c = Arc::new(Counters::default());
                let slot = WakerSlot::default();
                let handle = rt.spawn(f(Counting::new(&c, 1).pending(1, WakeBy::Outside, &slot)));
                Case {
                    name,
                    c,
                    slot,
                    handle,
                }
            };
            // The states that need a runtime idle outside block_on.
            let held = idle_outside_block_on(flavor);
            let never_woken = spawn("never woken", &|f| f);
            let woken_not_run = held.then(|| spawn("woken, not run", &|f| f));
            let aborted_not_reaped = held.then(|| spawn("aborted, not reaped", &|f| f));
            let runnable = spawn("runnable", &|f| {
                let slot = f.waker.clone();
                f.pending(usize::MAX, WakeBy::Itself, &slot)
            });
            let completed = spawn("completed", &|f| {
                let slot = f.waker.clone();
                f.pending(0, WakeBy::Itself, &slot)
            });
            let panicked = spawn("panicked", &|f| f.panic_on(1));

            drive_until(&rt, "every task's first poll", || {
                [Some(&never_woken), woken_not_run.as_ref()]
                    .into_iter()
                    .chain([aborted_not_reaped.as_ref(), Some(&runnable)])
                    .flatten()
                    .all(|t| t.c.pendings() >= 1)
                    && completed.handle.is_finished()
                    && panicked.handle.is_finished()
            });
            if let Some(t) = &woken_not_run {
                assert!(ring(&t.slot), "{ctx}: no waker to ring");
            }
            if let Some(t) = &aborted_not_reaped {
                t.handle.abort();
                t.c.aborted.store(true, SeqCst);
            }
            // Spawned (from outside and from inside block_on) but never run.
            let never_run = held.then(|| spawn("never run", &|f| f));
            let spawned_inside = held.then(|| {
                let c = Arc::new(Counters::default());
                let mut handle = None;
                rt.block_on(async {
                    handle = Some(Handle::current().spawn(Counting::new(&c, 1)));
                });
                let handle = handle.unwrap();
                Case {
                    name: "spawned inside block_on, never run",
                    c,
                    slot: WakerSlot::default(),
                    handle,
                }
            });
            let runnable_polls = runnable.c.polls();
            let pending: Vec<Case> = [Some(never_woken), woken_not_run, aborted_not_reaped]
                .into_iter()
                .chain([Some(runnable), never_run, spawned_inside])
                .flatten()
                .collect();
            if held {
                assert_eq!(pending.len(), 6, "{ctx}: every pending state is covered");
            }
            for t in &pending {
                if !held && t.name == "runnable" {
                    continue; // it runs on a worker meanwhile
                }
                assert_eq!(t.c.drops(), 0, "{ctx}: {}: dropped before shutdown", t.name);
                assert!(
                    !t.handle.is_finished(),
                    "{ctx}: {}: finished before shutdown",
                    t.name
                );
            }

            shut_down(rt, how);

            if !held {
                // Workers may still be finishing a poll (shutdown_background
                // does not wait for them): give them time to cancel.
                let start = Instant::now();
                while !pending.iter().all(|t| t.handle.is_finished()) {
                    assert!(start.elapsed() < PATIENCE, "{ctx}: tasks not cancelled");
                    std::thread::yield_now();
                }
            }
            let runnable_polls_after = match pending.iter().find(|t| t.name == "runnable") {
                Some(t) if !held => t.c.polls(),
                _ => runnable_polls,
            };
            for t in &pending {
                let name = t.name;
                assert_eq!(t.c.drops(), 1, "{ctx}: {name}: future drops");
                let expected_polls = match name {
                    "runnable" => runnable_polls_after,
                    "never run" | "spawned inside block_on, never run" => 0,
                    _ => 1,
                };
                assert_eq!(t.c.polls(), expected_polls, "{ctx}: {name}: polls");
                assert!(t.handle.is_finished(), "{ctx}: {name}: not finished");
            }
            // Late wakes of the stored wakers reach nothing.
            for t in &pending {
                ring(&t.slot);
            }
            for t in pending {
                let id = t.handle.id();
                let ctx = format!("{ctx}: {}", t.name);
                let result = poll_once(t.handle)
                    .unwrap_or_else(|| panic!("{ctx}: JoinHandle pending after shutdown"));
                assert_cancelled(&ctx, result, id);
                assert_eq!(t.c.drops(), 1, "{ctx}: future drops");
                assert_eq!(t.c.polls_after_abort.load(SeqCst), 0, "{ctx}");
                assert_eq!(t.c.out_drops(), 0, "{ctx}: output of a cancelled task");
            }

            // Finished tasks keep their results across the shutdown.
            let out = poll_once(completed.handle)
                .expect("a completed task's JoinHandle is ready")
                .unwrap_or_else(|e| panic!("{ctx}: completed: {e:?}"));
            assert_eq!(out.value, 1);
            assert_eq!(completed.c.drops(), 1, "{ctx}: completed: drops");
            assert_eq!(completed.c.polls(), 1, "{ctx}: completed: polls");
            drop(out);
            assert_eq!(completed.c.out_drops(), 1, "{ctx}: completed: output drops");
            let id = panicked.handle.id();
            let result = poll_once(panicked.handle).expect("a panicked task's JoinHandle is ready");
            assert_boom(ctx, result, id, 1);
            assert_eq!(panicked.c.drops(), 1, "{ctx}: panicked: drops");
            assert_eq!(panicked.c.out_drops(), 1, "{ctx}: panicked: payload drops");
        }
    }
}

/// A spawn through a `Handle` (or `task::Builder::spawn_on`) after the runtime
/// was dropped, from this thread or another: the future is dropped exactly
/// once, never polled, and the `JoinHandle` is cancelled and finished.
#[test]
fn spawn_after_runtime_dropped_is_cancelled() {
    for (flavor, rt) in runtimes() {
        let handle = rt.handle().clone();
        drop(rt);
        let check = |how: &str, spawn: &dyn Fn(Counting) -> JoinHandle<Output>| {
            let ctx = format!("{flavor}: {how}");
            let c = Arc::new(Counters::default());
            let join = spawn(Counting::new(&c, 1));
            assert_eq!(c.drops(), 1, "{ctx}: future drops at spawn");
            assert!(join.is_finished(), "{ctx}: not finished");
            assert!(join.abort_handle().is_finished(), "{ctx}: not finished");
            let id = join.id();
            let result = poll_once(join).unwrap_or_else(|| panic!("{ctx}: JoinHandle pending"));
            assert_cancelled(&ctx, result, id);
            assert_eq!(c.polls(), 0, "{ctx}: polls");
            assert_eq!(c.drops(), 1, "{ctx}: future drops");
        };
        check("Handle::spawn", &|f| handle.spawn(f));
        check("task::Builder::spawn_on", &|f| {
            runtime::task::Builder::new()
                .name("late")
                .spawn_on(f, &handle)
                .unwrap()
        });
        check("Handle::spawn from another thread", &|f| {
            let handle = handle.clone();
            std::thread::spawn(move || handle.spawn(f)).join().unwrap()
        });
    }
}

/// A future whose destructor spawns another task, dropped by the runtime's
/// shutdown: the new task is cancelled at once, its future dropped exactly once.
#[test]
fn spawn_from_a_destructor_during_shutdown() {
    struct SpawnOnDrop {
        inner: Arc<Counters>,
        spawned: Arc<Mutex<Option<JoinHandle<Output>>>>,
    }
    impl Future for SpawnOnDrop {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Pending
        }
    }
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let h = runtime::spawn(Counting::new(&self.inner, 1));
            *lock(&self.spawned) = Some(h);
        }
    }

    for polled_first in [false, true] {
        for (flavor, rt) in runtimes() {
            let ctx = format!("{flavor}, polled before shutdown {polled_first}");
            let inner = Arc::new(Counters::default());
            let spawned = Arc::new(Mutex::new(None));
            let outer = rt.spawn(SpawnOnDrop {
                inner: inner.clone(),
                spawned: spawned.clone(),
            });
            if polled_first {
                drive_for(&rt, 5);
            }
            drop(rt);
            let outer_id = outer.id();
            let outer_result = poll_once(outer).expect("outer JoinHandle ready after shutdown");
            match outer_result {
                Err(e) if e.is_cancelled() => assert_eq!(e.id(), outer_id),
                other => panic!("{ctx}: outer task: expected cancelled, got {other:?}"),
            }
            let join = lock(&spawned)
                .take()
                .unwrap_or_else(|| panic!("{ctx}: the destructor did not spawn"));
            let id = join.id();
            assert_eq!(inner.drops(), 1, "{ctx}: inner future drops");
            assert_eq!(inner.polls(), 0, "{ctx}: inner future polls");
            let result =
                poll_once(join).unwrap_or_else(|| panic!("{ctx}: inner JoinHandle pending"));
            assert_cancelled(&ctx, result, id);
        }
    }
}

// ===== panics =====

/// Panicking tasks fail only their own `JoinHandle`: the others complete, with
/// exact poll counts, and the runtime keeps working.
#[test]
fn panicking_tasks_do_not_take_the_runtime_down() {
    quiet_booms();
    for (flavor, rt) in runtimes() {
        let slot = WakerSlot::default();
        let tasks: Vec<_> = (0..12u32)
            .map(|i| {
                let c = Arc::new(Counters::default());
                let pendings = (i % 3) as usize;
                let mut f = Counting::new(&c, i).pending(pendings, WakeBy::Itself, &slot);
                let panics = i % 4 == 1;
                if panics {
                    f = f.panic_on(pendings + 1);
                }
                (i, panics, pendings, c, rt.spawn(f))
            })
            .collect();
        drive_until(&rt, "every task to finish", || {
            tasks.iter().all(|t| t.4.is_finished())
        });
        let results = rt.block_on(async {
            let mut results = Vec::new();
            for (i, panics, pendings, c, handle) in tasks {
                let id = handle.id();
                results.push((i, panics, pendings, c, id, handle.await));
            }
            results
        });
        for (i, panics, pendings, c, id, result) in results {
            let ctx = format!("{flavor}, task {i}");
            if panics {
                assert_boom(&ctx, result, id, i);
            } else {
                let out = result.unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
                assert_eq!(out.value, i, "{ctx}");
            }
            assert_eq!(c.polls(), pendings + 1, "{ctx}: polls");
            assert_eq!(c.drops(), 1, "{ctx}: drops");
        }
        let after = join(&rt, rt.spawn(async { 40 + 2 }));
        assert_eq!(after.unwrap(), 42, "{flavor}: runtime broken after panics");
    }
}

/// A panic of `block_on`'s own future propagates to its caller, but the
/// runtime survives it: a task spawned before (and blocked) is still there, and
/// runs when woken.
#[test]
fn block_on_panic_leaves_the_runtime_usable() {
    for (flavor, rt) in runtimes() {
        let c = Arc::new(Counters::default());
        let slot = WakerSlot::default();
        let task = rt.spawn(Counting::new(&c, 4).pending(1, WakeBy::Outside, &slot));
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                yield_now().await;
                panic::panic_any(17u64);
            })
        }));
        let payload = caught.expect_err("block_on must re-raise its future's panic");
        assert_eq!(
            payload.downcast_ref::<u64>(),
            Some(&17),
            "{flavor}: payload"
        );
        drive_until(&rt, "the first poll", || c.pendings() == 1);
        assert_eq!(c.drops(), 0, "{flavor}: task dropped by the block_on panic");
        assert!(!task.is_finished(), "{flavor}: blocked task finished");
        assert!(ring(&slot), "{flavor}: no waker stored");
        let out = join(&rt, task).unwrap_or_else(|e| panic!("{flavor}: {e:?}"));
        assert_eq!(out.value, 4, "{flavor}");
        assert_eq!(c.polls(), 2, "{flavor}: polls");
        assert_eq!(c.drops(), 1, "{flavor}: drops");
    }
}
