//! The thread's current runtime, set while inside `block_on`.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::time::Duration;

use super::Handle;
use crate::sched::Weight;
use crate::task::core::Header;

// loom's `thread_local!` takes no `const` initializers; std's is faster with them.
#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static POLL: Cell<Option<PollContext>> = const { Cell::new(None) };
}

#[cfg(loom)]
loom::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = RefCell::new(None);
    static POLL: Cell<Option<PollContext>> = Cell::new(None);
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
