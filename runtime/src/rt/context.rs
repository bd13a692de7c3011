//! The thread's current runtime, set while inside `block_on`.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::time::Duration;

use super::Handle;
use super::inbox::Message;
use crate::sched::Weight;
use crate::task::core::Header;

// loom's `thread_local!` takes no `const` initializers; std's is faster with them.
#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static POLL: Cell<Option<PollContext>> = const { Cell::new(None) };
    static WORKER: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    static LOCAL: RefCell<Vec<Message>> = const { RefCell::new(Vec::new()) };
}

#[cfg(loom)]
loom::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = RefCell::new(None);
    static POLL: Cell<Option<PollContext>> = Cell::new(None);
    static WORKER: Cell<Option<(usize, usize)>> = Cell::new(None);
    static LOCAL: RefCell<Vec<Message>> = RefCell::new(Vec::new());
}

/// What a task may learn about (and ask of) its scheduler during its own poll,
/// published by the worker before the poll and read back after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollContext {
    /// The task being polled; alive, and its `RUNNING` held, for the poll.
    pub(crate) task: NonNull<Header>,
    /// When the poll started, on the scheduler's clock (`crate::clock`).
    pub(crate) start: u64,
    /// Run time left in the task's current request when the poll started.
    pub(crate) budget: Duration,
    /// Another task was runnable on this worker when the poll started.
    pub(crate) others: bool,
    /// A weight the task asked for with `set_nice`.
    pub(crate) reweight: Option<Weight>,
    /// `cond_resched` found the request used up and yielded.
    pub(crate) preempted: bool,
    /// The task woke itself during the poll (see [`wake_running`]).
    pub(crate) woken: bool,
}

/// Marks the calling thread as worker `index` of the multi-thread runtime
/// whose shared state lives at address `runtime` (`None`: no longer).
pub(crate) fn set_worker(worker: Option<(usize, usize)>) {
    WORKER.with(|w| w.set(worker));
}

/// The (runtime address, index) of the worker the calling thread is, if any.
pub(crate) fn worker() -> Option<(usize, usize)> {
    WORKER.with(|w| w.get())
}

/// Keeps a wake for worker `index` of the runtime at address `runtime` on
/// this thread, if this thread is that worker: the worker files it at its
/// next turn, before it could park, with no atomic operation or allocation
/// (a task woken by its neighbour on the same worker, as in a message
/// exchange). Gives the message back otherwise.
pub(crate) fn push_local(runtime: usize, index: usize, message: Message) -> Result<(), Message> {
    if worker() == Some((runtime, index)) {
        LOCAL.with(|l| l.borrow_mut().push(message));
        Ok(())
    } else {
        Err(message)
    }
}

/// Moves the wakes kept on this thread into `out` (empty), if this thread is
/// worker `index` of the runtime at address `runtime` (they are its wakes).
///
/// Each side keeps its own allocation (swapping them would leave whichever
/// was larger on the thread, outliving the runtime, depending on how many
/// turns it took); the thread's is given up after a burst of more than
/// [`LOCAL_KEPT`] wakes.
pub(crate) fn take_local(runtime: usize, index: usize, out: &mut Vec<Message>) {
    debug_assert!(out.is_empty());
    if worker() == Some((runtime, index)) {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            out.append(&mut l);
            if l.capacity() > LOCAL_KEPT {
                *l = Vec::new();
            }
        });
    }
}

/// How many wakes' worth of room a thread keeps for its local wakes.
const LOCAL_KEPT: usize = 1024;

/// Whether wakes are kept on this thread.
pub(crate) fn has_local() -> bool {
    LOCAL.with(|l| !l.borrow().is_empty())
}

/// Publishes the context of the poll about to start.
pub(crate) fn begin_poll(ctx: PollContext) {
    POLL.with(|p| p.set(Some(ctx)));
}

/// Withdraws the context after the poll and returns it.
pub(crate) fn end_poll() -> Option<PollContext> {
    POLL.with(|p| p.take())
}

/// The running task's poll context, if the caller is a task being polled.
pub(crate) fn poll_context() -> Option<PollContext> {
    POLL.with(|p| p.get())
}

/// A wake of `task` from the thread that is polling it: noted in the poll's
/// context, and true, instead of an atomic operation on the task's state
/// word (the worker reads it back after the poll, as if the wake had set
/// `NOTIFIED`). False for any other task or thread; the waker then goes the
/// usual way. Sound because the polling thread holds `RUNNING`: the task
/// cannot be filed before this thread's poll ends, and what the waker wrote
/// before waking is this thread's own write, visible to its next poll.
pub(crate) fn wake_running(task: NonNull<Header>) -> bool {
    POLL.with(|p| match p.get() {
        Some(mut ctx) if ctx.task == task => {
            ctx.woken = true;
            p.set(Some(ctx));
            true
        }
        _ => false,
    })
}

/// Updates the running task's poll context; false outside a task.
pub(crate) fn update_poll(f: impl FnOnce(&mut PollContext)) -> bool {
    POLL.with(|p| match p.get() {
        Some(mut ctx) => {
            f(&mut ctx);
            p.set(Some(ctx));
            true
        }
        None => false,
    })
}

/// Restores the previous current runtime when dropped.
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
}

/// Makes `handle` the thread's current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// The thread's current runtime, if any.
pub(crate) fn current() -> Option<Handle> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Calls `f` with the thread's current runtime, without cloning its handle.
pub(crate) fn with_current<R>(f: impl FnOnce(&Handle) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(f))
}
