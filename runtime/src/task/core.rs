//! A task's single allocation: header, future and output, in one `Arc`.
//!
//! # Access rules
//!
//! - `header.state`: any thread, through the transitions of [`State`].
//! - `future`: only the thread holding `RUNNING` (the owner worker polling or
//!   cancelling it), or the runtime at shutdown once no worker runs. The mutex
//!   is therefore never contended; it makes the exclusivity checkable.
//! - `join`: the output and the `JoinHandle`'s waker, under one lock, so a
//!   completion can never slip between the handle's check and its waker
//!   registration.
//! - `header.entity`: only the owner worker (its run-queue handle).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use super::state::{State, WakeAction};
use super::{Id, JoinError};
use crate::loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::loom::sync::{Mutex, MutexGuard};
use crate::sched::{EntityId, Params};

/// Where a task's wakes go: its owner worker's inbox.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// A new entry for an off-queue task (a spawn, or a wake of a blocked task).
    fn submit(&self, task: TaskRef);
    /// A re-arm message for a delayed task.
    fn rearm(&self, task: TaskRef);
}

/// A type-erased task.
pub(crate) type TaskRef = Arc<dyn RawTask>;

/// What the scheduler needs from a task, whatever its future's type.
pub(crate) trait RawTask: Send + Sync + 'static {
    fn header(&self) -> &Header;
    /// Polls the future once; the caller holds `RUNNING`. `Ready` once the task
    /// is finished: its output is stored and its joiner woken.
    fn poll(self: Arc<Self>) -> Poll<()>;
    /// Drops the future (if still there) and stores `Cancelled` as the output.
    /// The caller holds `RUNNING`, or the runtime is shutting down.
    fn cancel(&self);
}

/// The part of a task every owner of a reference may read.
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) id: Id,
    pub(crate) name: Option<Box<str>>,
    pub(crate) params: Params,
    /// The owner's run-queue handle, packed; `NO_ENTITY` before the first admit.
    entity: AtomicU64,
    /// The worker whose run queue holds the task (written by that worker, or by
    /// the one that adopts it); wakes are sent there.
    owner: AtomicUsize,
    scheduler: Arc<dyn Schedule>,
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
        self.owner.load(Ordering::Acquire)
    }

    /// Records the worker whose run queue holds the task.
    pub(crate) fn set_owner(&self, worker: usize) {
        self.owner.store(worker, Ordering::Release);
    }
}

struct Task<F: Future> {
    header: Header,
    future: Mutex<Option<F>>,
    join: Mutex<JoinSlot<F::Output>>,
}

struct JoinSlot<T> {
    output: Option<Result<T, JoinError>>,
    waker: Option<Waker>,
    finished: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Polls run under catch_unwind, so a poisoned lock only means a panic in
    // a destructor; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Allocates a task (queued, with its first entry to be submitted by the
/// caller) and its join side.
pub(crate) fn new_task<F>(
    future: F,
    params: Params,
    name: Option<Box<str>>,
    scheduler: Arc<dyn Schedule>,
) -> (TaskRef, Arc<dyn Joinable<F::Output>>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = Arc::new(Task {
        header: Header {
            state: State::new(),
            id: Id::next(),
            name,
            params,
            entity: AtomicU64::new(NO_ENTITY),
            owner: AtomicUsize::new(0),
            scheduler,
        },
        future: Mutex::new(Some(future)),
        join: Mutex::new(JoinSlot {
            output: None,
            waker: None,
            finished: false,
        }),
    });
    (task.clone(), task)
}

impl<F> Task<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Stores the output and wakes the joiner.
    fn finish(&self, output: Result<F::Output, JoinError>) {
        let waker = {
            let mut join = lock(&self.join);
            join.output = Some(output);
            join.finished = true;
            join.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Drops the future in place; a panic in its destructor is returned.
    fn drop_future(&self, slot: &mut Option<F>) -> Result<(), JoinError> {
        catch_unwind(AssertUnwindSafe(|| *slot = None))
            .map_err(|payload| JoinError::panic(self.header.id, payload))
    }
}

impl<F> RawTask for Task<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll(self: Arc<Self>) -> Poll<()> {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = lock(&self.future);
        let Some(future) = slot.as_mut() else {
            return Poll::Ready(());
        };
        // SAFETY: the future lives inside this task's `Arc` allocation and is
        // never moved out of it: it is only ever dropped in place (`*slot =
        // None`), so pinning it here upholds the pinning guarantee.
        let future = unsafe { Pin::new_unchecked(future) };
        let output = match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(value)) => Ok(value),
            Err(payload) => Err(JoinError::panic(self.header.id, payload)),
        };
        let dropped = self.drop_future(&mut slot);
        drop(slot);
        self.finish(dropped.and(output));
        Poll::Ready(())
    }

    fn cancel(&self) {
        let mut slot = lock(&self.future);
        if slot.is_none() {
            return;
        }
        let dropped = self.drop_future(&mut slot);
        drop(slot);
        let cancelled = JoinError::cancelled(self.header.id);
        self.finish(Err(dropped.err().unwrap_or(cancelled)));
    }
}

impl<F> Wake for Task<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        dispatch(self.header.state.wake(), self.clone());
    }
}

/// Sends what a wake (or abort) decided to the task's owner.
pub(crate) fn dispatch(action: WakeAction, task: TaskRef) {
    match action {
        WakeAction::None => {}
        WakeAction::Submit => task.header().scheduler.clone().submit(task),
        WakeAction::Rearm => task.header().scheduler.clone().rearm(task),
    }
}

/// The join side of a task, typed by its output only.
pub(crate) trait Joinable<T>: Send + Sync + 'static {
    fn id(&self) -> Id;
    fn name(&self) -> Option<&str>;
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    fn is_finished(&self) -> bool;
    fn task(self: Arc<Self>) -> TaskRef;
}

impl<F> Joinable<F::Output> for Task<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn id(&self) -> Id {
        self.header.id
    }

    fn name(&self) -> Option<&str> {
        self.header.name.as_deref()
    }

    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        let mut join = lock(&self.join);
        if let Some(output) = join.output.take() {
            return Poll::Ready(output);
        }
        assert!(
            !join.finished,
            "JoinHandle polled again after it returned the task's output"
        );
        if !join.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            join.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    fn is_finished(&self) -> bool {
        lock(&self.join).finished
    }

    fn task(self: Arc<Self>) -> TaskRef {
        self
    }
}
