//! Tasks: spawning, joining, aborting and yielding.
//!
//! A task is a future the runtime polls on one of its workers. Each lives in
//! one allocation (header, future, output); its lifecycle runs through one
//! atomic state word (`state.rs`) whose transitions are model-checked under
//! loom, including the delayed state that EEVDF's delayed dequeue adds.
//!
//! # Examples
//!
//! ```
//! use runtime::task;
//!
//! let rt = runtime::Builder::new_current_thread().build()?;
//! let out = rt.block_on(async {
//!     let a = task::spawn(async { 1 });
//!     let b = task::spawn(async { task::yield_now().await; 2 });
//!     a.await.unwrap() + b.await.unwrap()
//! });
//! assert_eq!(out, 3);
//! # Ok::<(), std::io::Error>(())
//! ```

mod builder;
pub(crate) mod core;
mod error;
mod id;
pub(crate) mod info;
mod join;
pub(crate) mod notifier;
mod resched;
pub(crate) mod state;
mod yield_now;

pub use builder::Builder;
pub use error::JoinError;
pub use id::Id;
pub use info::{SwitchReason, TaskInfo};
pub use join::{AbortHandle, JoinHandle};
pub(crate) use notifier::guarded;
pub use notifier::{NotifierGuard, PreemptNotifier, register_preempt_notifier};
pub use resched::{cond_resched, need_resched, set_nice};
pub use yield_now::yield_now;

pub use crate::rt::spawn;

/// Runs a closure that blocks (file I/O, a long computation, a synchronous
/// library) on the runtime's blocking pool, a set of threads apart from the
/// workers, so the scheduler's tasks keep running. The pool starts up to
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads)
/// threads (default 512); more jobs wait their turn. A panic in the closure
/// becomes a [`JoinError`]. At shutdown, jobs not yet started are cancelled
/// and running ones are waited for (up to the shutdown timeout).
///
/// The closure runs inside its runtime's context: [`Handle::current`](crate::Handle::current),
/// [`spawn`] and `Handle::current().block_on(..)` work there, so a blocking
/// job can hand results back to async code.
///
/// # Panics
///
/// Outside a runtime; use [`Runtime::spawn_blocking`](crate::Runtime::spawn_blocking)
/// or [`Handle::spawn_blocking`](crate::Handle::spawn_blocking) there.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let sum = rt.block_on(async {
///     runtime::task::spawn_blocking(|| (1..=100u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 5050);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match crate::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f),
        Err(e) => panic!("runtime::task::spawn_blocking {e}"),
    }
}

/// A snapshot of the calling task's scheduling state and schedstats, as of
/// the start of its current poll (the queue flags as of now).
///
/// # Panics
///
/// Outside a task of this runtime, with a message saying so; see
/// [`try_current`] for a version that returns `None` instead.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let polls = rt.block_on(rt.spawn(async {
///     runtime::task::yield_now().await;
///     runtime::task::current().polls()
/// }))
/// .unwrap();
/// assert_eq!(polls, 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn current() -> TaskInfo {
    match try_current() {
        Some(info) => info,
        None => panic!(
            "runtime::task::current called outside a task: \
             it describes the calling task, so call it from inside a spawned task"
        ),
    }
}

/// Like [`current`], but `None` outside a task.
///
/// ```
/// assert!(runtime::task::try_current().is_none());
/// ```
pub fn try_current() -> Option<TaskInfo> {
    let ctx = crate::rt::context::poll_context()?;
    // SAFETY: the poll context names the task this thread is polling, alive
    // for the whole poll.
    Some(unsafe { ctx.task.as_ref() }.info())
}
