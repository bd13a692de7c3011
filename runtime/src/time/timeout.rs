//! [`timeout`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Sleep;
use super::error::Elapsed;

/// Runs `future` for at most `duration`: `Ok(output)` if it completes first,
/// `Err(Elapsed)` otherwise. The future is polled before the deadline is
/// checked, so a future that is ready at once always succeeds, even with a
/// zero duration; a duration too large for the clock means no limit.
///
/// # Panics
///
/// Outside a runtime (not inside `block_on` or a task).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let quick = runtime::time::timeout(Duration::ZERO, async { 1 }).await;
///     assert_eq!(quick, Ok(1));
///     let never = runtime::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
///     assert!(never.is_err());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: Sleep::new(super::deadline_after(duration), "timeout"),
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let t: runtime::time::Timeout<_> = rt.block_on(async {
    ///     runtime::time::timeout(Duration::from_secs(1), async { 2 })
    /// });
    /// assert_eq!(rt.block_on(t), Ok(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let t = runtime::time::timeout(Duration::from_secs(1), async { 3 });
    ///     let _inner = t.into_inner();
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new())),
            Poll::Pending => Poll::Pending,
        }
    }
}
