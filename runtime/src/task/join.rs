//! Handles to a spawned task: [`JoinHandle`] and [`AbortHandle`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::core::{JoinRef, TaskRef, dispatch};
use super::{Id, JoinError, TaskInfo};

/// An owned permission to await a spawned task's output. Awaiting it gives
/// `Ok(output)`, or a [`JoinError`] if the task panicked or was aborted.
/// Dropping it detaches the task: it keeps running, its output is dropped.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let sum = rt.block_on(async {
///     let handle = runtime::spawn(async { 40 + 2 });
///     handle.await.unwrap()
/// });
/// assert_eq!(sum, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JoinHandle<T> {
    raw: JoinRef<T>,
}

impl<T> Unpin for JoinHandle<T> {}

impl<T: Send + 'static> JoinHandle<T> {
    pub(crate) fn from_raw(raw: JoinRef<T>) -> JoinHandle<T> {
        JoinHandle { raw }
    }

    /// Cancels the task: if it has not finished, its future is dropped at the
    /// next point a worker reaches it (never during a poll), and awaiting this
    /// handle gives a cancelled [`JoinError`].
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(rt.block_on(handle).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort(&self) {
        abort(&self.raw.task());
    }

    /// A handle that can abort the task but not await it.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// let abort = handle.abort_handle();
    /// abort.abort();
    /// assert!(rt.block_on(handle).unwrap_err().is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            task: self.raw.task(),
        }
    }

    /// Whether the task has finished (with an output, a panic or a
    /// cancellation).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(async {});
    /// assert!(!handle.is_finished());
    /// rt.block_on(runtime::task::yield_now());
    /// assert!(handle.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }

    /// The task's id.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(async {});
    /// let _id: runtime::task::Id = handle.id();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> Id {
        self.raw.header().id
    }

    /// A snapshot of the task's scheduling state and schedstats.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(async {});
    /// assert_eq!(handle.info().polls(), 0);
    /// rt.block_on(runtime::task::yield_now());
    /// assert!(handle.info().is_finished());
    /// assert_eq!(handle.info().polls(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn info(&self) -> TaskInfo {
        self.raw.header().info()
    }
}

impl<T: Send + 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.raw.poll(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.raw.header();
        f.debug_struct("JoinHandle")
            .field("id", &header.id)
            .field("name", &header.name)
            .finish()
    }
}

/// Aborts a task without owning its output; cheap to clone.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let handle = rt.spawn(std::future::pending::<()>());
/// let abort = handle.abort_handle();
/// assert!(!abort.is_finished());
/// abort.abort();
/// assert!(rt.block_on(handle).is_err());
/// assert!(abort.is_finished());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    task: TaskRef,
}

impl AbortHandle {
    /// Cancels the task; see [`JoinHandle::abort`].
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let abort = rt.spawn(std::future::pending::<()>()).abort_handle();
    /// abort.abort();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort(&self) {
        abort(&self.task);
    }

    /// Whether the task has finished.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let abort = rt.spawn(async {}).abort_handle();
    /// rt.block_on(runtime::task::yield_now());
    /// assert!(abort.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.header().state.load().is_complete()
    }

    /// The task's id.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(async {});
    /// assert_eq!(handle.abort_handle().id(), handle.id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> Id {
        self.task.header().id
    }

    /// A snapshot of the task's scheduling state and schedstats.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let abort = rt.spawn(std::future::pending::<()>()).abort_handle();
    /// assert!(abort.info().is_runnable());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn info(&self) -> TaskInfo {
        self.task.header().info()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("name", &self.task.header().name)
            .finish()
    }
}

fn abort(task: &TaskRef) {
    dispatch(task.header().state.cancel(), task);
}
