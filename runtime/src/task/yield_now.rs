//! [`yield_now`]: let other tasks run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets other tasks run before this one continues.
///
/// The rule: the task steps aside without forfeiting anything. It is not
/// polled next while another eligible task waits on its worker, and it is
/// charged only the time it actually ran, so a loop that yields often keeps
/// its full weighted share. (Linux's `sched_yield` instead forfeits the rest of
/// the current request; here a yield is never a penalty.) With no other task
/// waiting, it continues at once.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let other = runtime::spawn(async { "ran" });
///     runtime::task::yield_now().await;
///     assert!(other.is_finished());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await;
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken during its own poll: the worker requeues it behind the others.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
