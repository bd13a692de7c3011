//! Time: sleeping, timeouts and intervals, with tokio's semantics.
//!
//! Each runtime has one timer driver, a hierarchical timing wheel with
//! microsecond resolution (O(1) insert and cancel, no allocation per timer).
//! Workers fire due timers between polls and sleep until the next deadline
//! when idle. A sleeping task is a blocked task like any other: with delayed
//! dequeue it may stay queued while it owes service, and its wake goes through
//! the same path as any wake.
//!
//! A sleep never completes before its deadline. Deadlines too far away to be
//! represented saturate to "never" instead of panicking.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use runtime::time::{self, Instant};
//!
//! let rt = runtime::Builder::new_current_thread().build()?;
//! rt.block_on(async {
//!     let start = Instant::now();
//!     time::sleep(Duration::from_millis(20)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(20));
//!
//!     let slow = time::timeout(Duration::from_millis(10), std::future::pending::<()>()).await;
//!     assert!(slow.is_err());
//! });
//! # Ok::<(), std::io::Error>(())
//! ```

pub(crate) mod driver;
pub mod error;
mod interval;
mod sleep;
mod timeout;
mod wheel;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use std::time::Instant;
pub use timeout::{Timeout, timeout};

/// How far away "never" is: about 30 years.
const FAR: std::time::Duration = std::time::Duration::from_secs(86_400 * 365 * 30);

/// A deadline far enough away to mean "never" (about 30 years).
pub(crate) fn far_future() -> Instant {
    Instant::now() + FAR
}

/// `now + d`, saturating to [`far_future`] instead of overflowing (one clock
/// read).
pub(crate) fn deadline_after(d: std::time::Duration) -> Instant {
    let now = Instant::now();
    now + d.min(FAR)
}
