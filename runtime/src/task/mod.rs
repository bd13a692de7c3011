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
mod join;
mod resched;
pub(crate) mod state;
mod yield_now;

pub use builder::Builder;
pub use error::JoinError;
pub use id::Id;
pub use join::{AbortHandle, JoinHandle};
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
