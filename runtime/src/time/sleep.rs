//! [`sleep`] and [`sleep_until`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Instant;
use super::driver::{Driver, ShutDown};
use super::wheel::Key;

/// Waits until `duration` has elapsed. A zero duration completes at once; a
/// duration too large for the clock means "never".
///
/// # Panics
///
/// Outside a runtime (not inside `block_on` or a task): create it inside the
/// future you pass to `block_on`, as tokio requires too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async { runtime::time::sleep(Duration::from_millis(5)).await });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(super::deadline_after(duration), "sleep")
}

/// Waits until `deadline`. A deadline in the past completes at once.
///
/// # Panics
///
/// Outside a runtime (not inside `block_on` or a task).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runtime::time::Instant;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let deadline = Instant::now() + Duration::from_millis(5);
/// rt.block_on(async { runtime::time::sleep_until(deadline).await });
/// assert!(Instant::now() >= deadline);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, "sleep_until")
}

/// The future returned by [`sleep`] and [`sleep_until`]. Dropping it cancels
/// the timer.
///
/// # Panics
///
/// Polling it after the runtime it was created in has shut down (dropped, or
/// [`shutdown_timeout`](crate::Runtime::shutdown_timeout)): its timer would
/// never fire. A sleep pending at that moment is woken, so its owner learns
/// of it on its next poll instead of hanging.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let mut sleep = runtime::time::sleep(Duration::from_secs(3600));
///     sleep.reset(runtime::time::Instant::now());
///     sleep.await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Sleep {
    deadline: Instant,
    driver: Arc<Driver>,
    key: Option<Key>,
}

impl Sleep {
    /// A sleep until `deadline` on the current runtime's timers; outside a
    /// runtime, panics naming `caller`, the `runtime::time` function the user
    /// called.
    #[track_caller]
    pub(super) fn new(deadline: Instant, caller: &str) -> Sleep {
        let driver = match crate::rt::current_driver() {
            Some(driver) => driver,
            None => panic!(
                "runtime::time::{caller} called outside a runtime: \
                 call it from inside Runtime::block_on or a task"
            ),
        };
        Sleep {
            deadline,
            driver,
            key: None,
        }
    }

    /// The instant this sleep completes at.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let s = runtime::time::sleep(Duration::from_secs(1));
    ///     assert!(s.deadline() > runtime::time::Instant::now());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     assert!(runtime::time::sleep(Duration::ZERO).is_elapsed());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (the sleep can then be awaited again).
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::time::Instant;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut s = runtime::time::sleep(Duration::from_secs(60));
    ///     s.reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        if let Some(key) = self.key.take() {
            self.driver.cancel(key);
        }
        self.deadline = deadline;
    }
}

/// The panic message of a sleep polled after its runtime shut down.
const SHUT_DOWN: &str = "runtime::time: a Sleep was polled after its runtime shut down \
     (the runtime it was created in has been dropped or shut down, so its timers no longer fire)";

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.driver.is_shut_down() {
            panic!("{SHUT_DOWN}");
        }
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                self.driver.cancel(key);
            }
            return Poll::Ready(());
        }
        let registered = match self.key {
            Some(key) => self.driver.update(key, cx.waker()),
            None => false,
        };
        if !registered {
            self.key = match self.driver.register(self.deadline, cx.waker()) {
                Ok(key) => key,
                // Shut down since the check above.
                Err(ShutDown) => panic!("{SHUT_DOWN}"),
            };
            if self.key.is_none() {
                // Due by the time it was registered: try again at once.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.driver.cancel(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}
