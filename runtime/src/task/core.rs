//! A task's single allocation: header (join-waker slot included) and stage
//! (future, then output), with its memory managed by the reference count in
//! the state word.
//!
//! # Access rules
//!
//! - `header.state`: any thread, through the transitions of [`State`].
//! - `stage`: the future is touched only by the thread holding `RUNNING` (the
//!   owner worker polling or cancelling it, or the runtime at shutdown after
//!   taking `RUNNING` with `to_shutdown`); it stores the output before giving
//!   `RUNNING` up for `COMPLETE`. After that the output belongs to the
//!   `JoinHandle` if `JOIN_INTEREST` was set at completion, else to the
//!   completer, which drops it at once. A handle dropped after completion
//!   drops the output itself.
//! - `header.join_waker`: written by the `JoinHandle` only while `JOIN_WAKER` is
//!   clear and the task not complete; read (woken by reference) by the
//!   completer if `JOIN_WAKER` was set at completion; dropped with the cell.
//! - `header.entity`: only the owner worker (its run-queue handle).
//!
//! References: the run queue's entry (one `TaskRef`), each in-flight message
//! (a `TaskRef`), each `Waker` clone, the `JoinHandle` and each `AbortHandle`.
//! The last one to go frees the cell.

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::info::Stats;
use super::notifier::Notifiers;
use super::state::{Snapshot, State, WakeAction};
use super::{Id, JoinError, TaskInfo};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sched::{EntityId, Params};

/// Where a task's wakes go: its owner worker's inbox.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// A new entry for an off-queue task (a spawn, or a wake of a blocked task).
    fn submit(&self, task: TaskRef);
    /// A re-arm message for a delayed task.
    fn rearm(&self, task: TaskRef);
    /// The task finished (completed, panicked or cancelled): for the
    /// runtime's `on_task_terminate` hook.
    fn terminated(&self, _task: &Header) {}
    /// The runtime's register of live tasks, which the task leaves when freed.
    fn registry(&self) -> Option<&crate::rt::registry::Registry> {
        None
    }
}

/// A runtime's scheduler as its tasks hold it: a thin pointer (one word in
/// every header) to the fat one, shared by all the runtime's tasks.
pub(crate) type SchedRef = Arc<Arc<dyn Schedule>>;

/// Wraps a scheduler for [`new_task`].
pub(crate) fn sched_ref(scheduler: Arc<dyn Schedule>) -> SchedRef {
    Arc::new(scheduler)
}

/// The part of a task every owner of a reference may read. First in the
/// cell, so a pointer to the cell is a pointer to its header.
///
/// Laid out in order (`repr(C)`): first 48 bytes that no poll touches (the
/// register links, id, name and join-waker slot), then what polls read and
/// write. Cells are packed by the allocator, and the line holding a cell's
/// start also holds the end of its neighbour (its future, written at every
/// poll), which may be polled on another worker: only the cold head of the
/// cell shares that line, so the two workers' writes never meet in it.
#[repr(C)]
pub(crate) struct Header {
    /// The task's place in its runtime's register of live tasks.
    pub(crate) links: crate::rt::registry::Links,
    pub(crate) id: Id,
    /// Boxed (named tasks are the exception): one pointer in every header.
    pub(crate) name: Option<Box<Arc<str>>>,
    /// The `JoinHandle`'s waker (see the module docs).
    join_waker: UnsafeCell<Option<Waker>>,
    pub(crate) state: State,
    vtable: &'static Vtable,
    pub(crate) params: Params,
    /// Schedstats, written by the owner worker.
    pub(crate) stats: Stats,
    /// Preempt notifiers (only while holding `RUNNING`).
    pub(crate) notifiers: Notifiers,
    /// The owner's run-queue handle, packed; `NO_ENTITY` before the first admit.
    entity: AtomicU64,
    /// The worker whose run queue holds the task (written by that worker, or by
    /// the one that adopts it); wakes are sent there.
    owner: AtomicU32,
    /// The weight the owner last published (part of the schedstats).
    weight: AtomicU32,
    scheduler: SchedRef,
}

const NO_ENTITY: u64 = u64::MAX;

impl Header {
    /// The task's handle on its owner's run queue (owner only).
    pub(crate) fn entity(&self) -> Option<EntityId> {
        match self.entity.load(Ordering::Relaxed) {
            NO_ENTITY => None,
            bits => Some(EntityId::from_bits(bits)),
        }
    }

    /// Records the task's handle on its owner's run queue (owner only).
    pub(crate) fn set_entity(&self, id: EntityId) {
        self.entity.store(id.to_bits(), Ordering::Relaxed);
    }

    /// The worker whose run queue holds the task.
    pub(crate) fn owner(&self) -> usize {
        self.owner.load(Ordering::Acquire) as usize
    }

    /// Records the worker whose run queue holds the task.
    pub(crate) fn set_owner(&self, worker: usize) {
        let worker = u32::try_from(worker).expect("fewer than 2^32 workers");
        self.owner.store(worker, Ordering::Release);
    }

    /// Records the run queue's view of the task (owner only): vruntime,
    /// deadline, lag and weight.
    pub(crate) fn publish(&self, (vruntime, deadline, lag, weight): (u64, u64, i64, u32)) {
        self.weight.store(weight, Ordering::Relaxed);
        self.stats.publish(vruntime, deadline, lag);
    }

    /// A snapshot of the task with the given state word.
    pub(crate) fn info_with(&self, state: Snapshot) -> TaskInfo {
        let weight = self.weight.load(Ordering::Relaxed);
        self.stats
            .snapshot(self.id, self.name.as_deref(), state, weight)
    }

    /// A snapshot of the task now.
    pub(crate) fn info(&self) -> TaskInfo {
        self.info_with(self.state.load())
    }

    /// Where the task's wakes go.
    pub(crate) fn scheduler(&self) -> &dyn Schedule {
        &**self.scheduler
    }
}

/// The operations that depend on the future's type.
struct Vtable {
    /// Polls the future; the caller holds `RUNNING`. `Ready(true)` when the
    /// task completed and its join waker is to be woken.
    poll: unsafe fn(NonNull<Header>) -> Poll<bool>,
    /// Drops the future and completes the task as cancelled; the caller holds
    /// `RUNNING`.
    cancel: unsafe fn(NonNull<Header>) -> bool,
    /// Wakes the join waker of a completed task by reference.
    wake_join: unsafe fn(NonNull<Header>),
    /// For the `JoinHandle`: writes `Poll<Result<T, JoinError>>` to `dst`.
    poll_join: unsafe fn(NonNull<Header>, dst: *mut (), cx: &mut Context<'_>),
    /// For the `JoinHandle`'s drop.
    drop_join: unsafe fn(NonNull<Header>),
    /// Frees the cell; the caller held the last reference.
    dealloc: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// A scheduler that drops everything: for tests that drive tasks by hand.
#[cfg(test)]
pub(crate) struct Nowhere;

#[cfg(test)]
impl Schedule for Nowhere {
    fn submit(&self, _: TaskRef) {}
    fn rearm(&self, _: TaskRef) {}
}

/// A counted reference to a task, whatever its future's type.
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
}

// The header's register links are the one exception to the rule below: the
// lock of the task's register shard guards them (see `rt::registry`).
//
// SAFETY: threads share a task only through its atomic state word, which
// guards its cells (module docs); its future and output are `Send`.
unsafe impl Send for TaskRef {}
// SAFETY: as above; `&TaskRef` only exposes the header and vtable calls that
// follow the same rules.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the pointer came from a live cell, which this reference keeps
        // alive; the header is never mutated except through atomics.
        unsafe { self.ptr.as_ref() }
    }

    /// Polls the future once; the caller holds `RUNNING`. `Ready` once the
    /// task is complete (output stored, joiner woken).
    ///
    /// The `JoinHandle` is woken when the returned [`JoinWake`] drops, so the
    /// worker can finish its switch-out calls first.
    pub(crate) fn poll(&self) -> Poll<JoinWake> {
        // SAFETY: the vtable matches the cell's type, the cell is alive (we
        // hold a reference) and the caller holds `RUNNING`, as `poll` requires.
        match unsafe { (self.header().vtable.poll)(self.ptr) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(wake) => Poll::Ready(JoinWake::new(self, wake)),
        }
    }

    /// Drops the future (if still there) and completes the task as cancelled;
    /// the caller holds `RUNNING` (from `to_running`, `after_poll` or
    /// `to_shutdown`).
    pub(crate) fn cancel(&self) -> JoinWake {
        // SAFETY: as for `poll`.
        let wake = unsafe { (self.header().vtable.cancel)(self.ptr) };
        JoinWake::new(self, wake)
    }

    /// A waker borrowing this reference (no count traffic): valid while `self`.
    fn waker_ref(&self) -> ManuallyDrop<Waker> {
        // SAFETY: the raw waker points at a live task and its vtable follows
        // the `RawWaker` contract; `ManuallyDrop` keeps it from releasing a
        // reference it never took.
        ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(self.ptr)) })
    }
}

/// A completed task's pending join wake-up, delivered on drop.
#[must_use = "dropping it wakes the JoinHandle at once"]
pub(crate) struct JoinWake(Option<TaskRef>);

impl JoinWake {
    fn new(task: &TaskRef, wake: bool) -> JoinWake {
        JoinWake(wake.then(|| task.clone()))
    }
}

impl Drop for JoinWake {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            // SAFETY: the vtable matches the cell, which `task` keeps alive,
            // and the task is complete with `JOIN_WAKER` set (else `wake`
            // would have been false), so the slot is shared read-only.
            unsafe { (task.header().vtable.wake_join)(task.ptr) }
        }
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef { ptr: self.ptr }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference, so nothing else can reach
            // the cell; the vtable matches its type.
            unsafe { (self.header().vtable.dealloc)(self.ptr) }
        }
    }
}

/// Allocates a task (queued, with its first entry to be submitted by the
/// caller) and returns the entry's reference and the join handle's.
pub(crate) fn new_task<F>(
    future: F,
    params: Params,
    name: Option<Arc<str>>,
    scheduler: SchedRef,
) -> (TaskRef, super::JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cell = Box::new(Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<F>(),
            id: Id::next(),
            name: name.map(Box::new),
            params,
            stats: Stats::new(),
            notifiers: Notifiers::new(),
            entity: AtomicU64::new(NO_ENTITY),
            owner: AtomicU32::new(0),
            weight: AtomicU32::new(params.get_weight().get()),
            scheduler,
            links: crate::rt::registry::Links::new(),
            join_waker: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    // `State::new` counts these two references.
    let join = JoinRef {
        ptr,
        _output: PhantomData,
    };
    (TaskRef { ptr }, super::JoinHandle::from_raw(join))
}

fn vtable<F>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    &Vtable {
        poll: poll::<F>,
        cancel: cancel::<F>,
        wake_join: wake_join::<F>,
        poll_join: poll_join::<F>,
        drop_join: drop_join::<F>,
        dealloc: dealloc::<F>,
    }
}

/// # Safety
///
/// `ptr` must point at a live `Cell<F>`.
unsafe fn cell<'a, F: Future>(ptr: NonNull<Header>) -> &'a Cell<F> {
    // SAFETY: the header is the first field of the `repr(C)` cell, and the
    // caller promises the cell is a live `Cell<F>`.
    unsafe { ptr.cast::<Cell<F>>().as_ref() }
}

/// # Safety
///
/// `ptr` must point at a live `Cell<F>` whose `RUNNING` the caller holds.
unsafe fn poll<F>(ptr: NonNull<Header>) -> Poll<bool>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<F>(ptr) };
    // Borrowed: the caller's reference keeps the task alive during the poll.
    let task = ManuallyDrop::new(TaskRef { ptr });
    let waker = task.waker_ref();
    let mut cx = Context::from_waker(&waker);
    let output = cell.stage.with_mut(|stage| {
        // SAFETY: holding `RUNNING` gives this thread exclusive access to the
        // stage.
        let stage = unsafe { &mut *stage };
        let Stage::Running(future) = stage else {
            unreachable!("a task is polled only while its future is there");
        };
        // SAFETY: the future lives inside the task's heap cell and is never
        // moved: it is dropped in place when the stage is overwritten.
        let future = unsafe { Pin::new_unchecked(future) };
        match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(value)) => Some(Ok(value)),
            Err(payload) => Some(Err(JoinError::panic(cell.header.id, payload))),
        }
    });
    match output {
        None => Poll::Pending,
        Some(output) => {
            // SAFETY: still holding `RUNNING`.
            Poll::Ready(unsafe { complete::<F>(cell, output) })
        }
    }
}

/// Drops the future, stores the output and completes the task. Returns
/// whether the `JoinHandle`'s waker is to be woken (see [`JoinWake`]).
///
/// # Safety
///
/// The caller holds `RUNNING` on `cell`.
unsafe fn complete<F>(cell: &Cell<F>, output: Result<F::Output, JoinError>) -> bool
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = cell.header.id;
    // Drop the future in place first (a panic there becomes the outcome),
    // then store the output: both under `RUNNING`.
    let dropped = cell.stage.with_mut(|stage| {
        // SAFETY: exclusive while `RUNNING` (the caller's promise).
        let stage = unsafe { &mut *stage };
        catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed))
    });
    let output = match dropped {
        Ok(()) => output,
        Err(payload) => Err(JoinError::panic(id, payload)),
    };
    cell.stage.with_mut(|stage| {
        // SAFETY: as above.
        unsafe { *stage = Stage::Finished(output) };
    });
    let before = cell.header.state.to_complete();
    cell.header.scheduler.terminated(&cell.header);
    if !before.has_join_interest() {
        // No handle will read it: drop the output now. The stage is ours: the
        // handle is gone and nobody else touches it.
        let output = cell.stage.with_mut(|stage| {
            // SAFETY: see the comment above.
            unsafe { std::mem::replace(&mut *stage, Stage::Consumed) }
        });
        let _ = catch_unwind(AssertUnwindSafe(|| drop(output)));
        false
    } else {
        before.has_join_waker()
    }
}

/// # Safety
///
/// `ptr` must point at a live `Cell<F>` whose `RUNNING` the caller holds.
unsafe fn cancel<F>(ptr: NonNull<Header>) -> bool
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<F>(ptr) };
    let running = cell.stage.with(|stage| {
        // SAFETY: exclusive while `RUNNING`.
        matches!(unsafe { &*stage }, Stage::Running(_))
    });
    // SAFETY: the caller holds `RUNNING`.
    running && unsafe { complete::<F>(cell, Err(JoinError::cancelled(cell.header.id))) }
}

/// # Safety
///
/// `ptr` must point at a live, complete `Cell<F>` whose completion found
/// `JOIN_WAKER` set.
unsafe fn wake_join<F>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<F>(ptr) };
    cell.header.join_waker.with(|slot| {
        // SAFETY: `JOIN_WAKER` was set when the task completed, so the slot
        // is shared read-only and its waker stays until the cell is freed.
        if let Some(waker) = unsafe { &*slot } {
            waker.wake_by_ref();
        }
    });
}

/// # Safety
///
/// `ptr` must point at a live `Cell<F>`, called by its `JoinHandle`; `dst`
/// must point at a `Poll<Result<F::Output, JoinError>>`.
unsafe fn poll_join<F>(ptr: NonNull<Header>, dst: *mut (), cx: &mut Context<'_>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<F>(ptr) };
    let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
    let state = &cell.header.state;
    let take = || {
        cell.stage.with_mut(|stage| {
            // SAFETY: complete with `JOIN_INTEREST` (we are the handle): the
            // output is the handle's.
            match std::mem::replace(unsafe { &mut *stage }, Stage::Consumed) {
                Stage::Finished(output) => output,
                _ => panic!("JoinHandle polled again after it returned the task's output"),
            }
        })
    };
    let now = state.load();
    let ready = if now.is_complete() {
        true
    } else if !now.has_join_waker() {
        cell.header.join_waker.with_mut(|slot| {
            // SAFETY: `JOIN_WAKER` is clear and the task not complete: the slot
            // is the handle's alone.
            unsafe { *slot = Some(cx.waker().clone()) };
        });
        state.set_join_waker().is_err()
    } else {
        let same = cell.header.join_waker.with(|slot| {
            // SAFETY: `JOIN_WAKER` is set: the slot is shared read-only.
            unsafe { &*slot }
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
        });
        if same {
            false
        } else if state.unset_join_waker().is_err() {
            true
        } else {
            cell.header.join_waker.with_mut(|slot| {
                // SAFETY: we just cleared `JOIN_WAKER` before completion: the
                // slot is the handle's again.
                unsafe { *slot = Some(cx.waker().clone()) };
            });
            state.set_join_waker().is_err()
        }
    };
    let result = if ready {
        Poll::Ready(take())
    } else {
        Poll::Pending
    };
    // SAFETY: the caller promises `dst` points at a value of this type.
    unsafe { *dst = result };
}

/// # Safety
///
/// `ptr` must point at a live `Cell<F>`, called once by its `JoinHandle`'s drop.
unsafe fn drop_join<F>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: forwarded from the caller.
    let cell = unsafe { cell::<F>(ptr) };
    let before = cell.header.state.drop_join_interest();
    if before.is_complete() {
        // The completer left the output to us.
        let output = cell.stage.with_mut(|stage| {
            // SAFETY: complete, and the handle (us) owned the output.
            unsafe { std::mem::replace(&mut *stage, Stage::Consumed) }
        });
        let _ = catch_unwind(AssertUnwindSafe(|| drop(output)));
    } else if before.has_join_waker() {
        let waker = cell.header.join_waker.with_mut(|slot| {
            // SAFETY: our CAS cleared `JOIN_WAKER` before completion, so the
            // slot is ours and the completer will not read it.
            unsafe { (*slot).take() }
        });
        drop(waker);
    }
    drop(TaskRef { ptr });
}

/// # Safety
///
/// `ptr` must point at a `Cell<F>` made by `new_task`, with no references left.
unsafe fn dealloc<F>(ptr: NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: the cell is alive until freed below.
    let header = unsafe { ptr.as_ref() };
    if let Some(registry) = header.scheduler.registry() {
        // Waits for any reader of the register to be done with the task.
        registry.remove(header);
    }
    // SAFETY: the cell came from `Box::leak` in `new_task` and nothing refers
    // to it any more (the register no longer lists it).
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F>>().as_ptr()) };
    let _ = catch_unwind(AssertUnwindSafe(|| drop(cell)));
}

// ===== wakers =====

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// # Safety
///
/// `data` is a task header pointer from `raw_waker`, alive while the waker is.
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    let ptr = header_ptr(data);
    // SAFETY: the `RawWaker` contract keeps the task alive while the waker
    // exists, so the header is live.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

/// # Safety
///
/// As `waker_clone`; consumes the waker's reference.
unsafe fn waker_wake(data: *const ()) {
    // The waker's reference moves into `task`.
    let task = TaskRef {
        ptr: header_ptr(data),
    };
    wake_by_ref(&task);
}

/// # Safety
///
/// As `waker_clone`.
unsafe fn waker_wake_by_ref(data: *const ()) {
    // Borrowed, so not dropped.
    let task = ManuallyDrop::new(TaskRef {
        ptr: header_ptr(data),
    });
    wake_by_ref(&task);
}

/// # Safety
///
/// As `waker_clone`; releases the waker's reference.
unsafe fn waker_drop(data: *const ()) {
    drop(TaskRef {
        ptr: header_ptr(data),
    });
}

/// The task behind a waker's data pointer.
fn header_ptr(data: *const ()) -> NonNull<Header> {
    // SAFETY: wakers are made only by `raw_waker`, from a `NonNull` header.
    unsafe { NonNull::new_unchecked(data as *mut Header) }
}

fn wake_by_ref(task: &TaskRef) {
    if !crate::rt::context::wake_running(task.ptr) {
        dispatch(task.header().state.wake(), task);
    }
}

/// Sends what a wake (or abort) decided to the task's owner, with a new
/// reference for the message.
pub(crate) fn dispatch(action: WakeAction, task: &TaskRef) {
    match action {
        WakeAction::None => {}
        WakeAction::Submit => task.header().scheduler.submit(task.clone()),
        WakeAction::Rearm => task.header().scheduler.rearm(task.clone()),
    }
}

// ===== the join side =====

/// The `JoinHandle`'s counted reference.
pub(crate) struct JoinRef<T> {
    ptr: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: see `TaskRef`; the output `T` is `Send`.
unsafe impl<T: Send> Send for JoinRef<T> {}
// SAFETY: a shared `JoinRef` only reads the header.
unsafe impl<T: Send> Sync for JoinRef<T> {}

impl<T> JoinRef<T> {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the cell alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut out = Poll::Pending;
        // SAFETY: the vtable matches the cell, whose output type is `T`; `out`
        // has the type `poll_join` writes; we are its `JoinHandle`.
        unsafe { (self.header().vtable.poll_join)(self.ptr, (&raw mut out).cast(), cx) };
        out
    }

    /// A counted reference for aborting.
    pub(crate) fn task(&self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef { ptr: self.ptr }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.header().state.load().is_complete()
    }
}

impl<T> Drop for JoinRef<T> {
    fn drop(&mut self) {
        // SAFETY: called once, by the handle's drop; the cell is alive.
        unsafe { (self.header().vtable.drop_join)(self.ptr) }
    }
}

/// Model checks of the join protocol on real task cells. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
    use std::task::Wake;

    use super::*;
    use crate::task::state::ToRunning;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    /// Records a wake.
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::Release);
        }
    }

    /// Scenario 7: the handle polls while the worker completes the task. If it
    /// was told `Pending`, the completion wakes it and the output is there.
    #[test]
    fn join_poll_against_completion_never_misses_the_output() {
        loom::model(|| {
            let (task, mut join) = new_task(
                async { 7 },
                Params::new(),
                None,
                sched_ref(Arc::new(Nowhere)),
            );
            let worker = thread::spawn(move || {
                assert_eq!(task.header().state.to_running(), ToRunning::Poll);
                assert!(task.poll().is_ready());
            });
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let mut cx = Context::from_waker(&waker);
            let first = Pin::new(&mut join).poll(&mut cx);
            worker.join().unwrap();
            match first {
                Poll::Ready(out) => assert_eq!(out.unwrap(), 7),
                Poll::Pending => {
                    // Told to wait, so the completion must have woken it...
                    assert!(flag.0.load(Ordering::Acquire), "lost join wake");
                    // ...and the output is there.
                    match Pin::new(&mut join).poll(&mut cx) {
                        Poll::Ready(out) => assert_eq!(out.unwrap(), 7),
                        Poll::Pending => panic!("woken, but the output is missing"),
                    }
                }
            }
        });
    }

    /// Scenario 6: the handle is dropped while the worker completes the task.
    /// The output is dropped exactly once, by whichever the CAS order picks.
    #[test]
    fn join_drop_against_completion_drops_the_output_once() {
        loom::model(|| {
            let drops = Arc::new(StdAtomicUsize::new(0));
            struct Counted(Arc<StdAtomicUsize>);
            impl Drop for Counted {
                fn drop(&mut self) {
                    self.0.fetch_add(1, StdOrdering::SeqCst);
                }
            }
            let output = Counted(drops.clone());
            let (task, join) = new_task(
                async move { output },
                Params::new(),
                None,
                sched_ref(Arc::new(Nowhere)),
            );
            let worker = thread::spawn(move || {
                assert_eq!(task.header().state.to_running(), ToRunning::Poll);
                assert!(task.poll().is_ready());
            });
            drop(join);
            worker.join().unwrap();
            assert_eq!(drops.load(StdOrdering::SeqCst), 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A pending task is one allocation; with a small future (here 16 bytes,
    /// the size of an `async` block holding an `Arc` and awaiting a leaf
    /// future) its cell must fit a 208-byte allocator chunk (200 bytes of
    /// request plus the allocator's 8-byte tag). Each field added to the
    /// header costs every pending task 16 bytes once that limit is passed.
    #[test]
    fn a_small_pending_task_fits_in_200_bytes() {
        struct Small(#[allow(dead_code)] [u64; 2]);
        impl Future for Small {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                Poll::Pending
            }
        }
        assert_eq!(std::mem::size_of::<Small>(), 16);
        assert_eq!(std::mem::size_of::<Params>(), 8);
        assert_eq!(std::mem::size_of::<JoinError>(), 16);
        assert!(
            std::mem::size_of::<Cell<Small>>() <= 200,
            "header {} (join waker included) + stage {}",
            std::mem::size_of::<Header>(),
            std::mem::size_of::<UnsafeCell<Stage<Small>>>(),
        );
    }

    /// The allocator packs cells 16-byte aligned, so the cache line holding
    /// a cell's start holds up to 48 bytes of it, the rest being the end of
    /// the cell before (whose future its worker writes at every poll).
    #[test]
    fn a_header_starts_with_48_bytes_that_polls_never_touch() {
        use std::mem::offset_of;
        let hot = [
            offset_of!(Header, state),
            offset_of!(Header, vtable),
            offset_of!(Header, params),
            offset_of!(Header, stats),
            offset_of!(Header, notifiers),
            offset_of!(Header, entity),
            offset_of!(Header, owner),
            offset_of!(Header, weight),
            offset_of!(Header, scheduler),
        ];
        assert!(hot.iter().all(|&at| at >= 48), "{hot:?}");
    }
}
