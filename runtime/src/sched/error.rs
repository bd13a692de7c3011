//! Errors of the scheduling policy API.

use std::fmt;
use std::time::Duration;

/// What went wrong in a [`RunQueue`](super::RunQueue) call or while building its
/// inputs. A call that returns an error leaves the queue exactly as it was.
///
/// # Examples
///
/// ```
/// use runtime::sched::{Error, Weight};
///
/// let err = Weight::from_nice(25).unwrap_err();
/// assert_eq!(err, Error::NiceOutOfRange(25));
/// assert_eq!(err.to_string(), "nice 25 is out of range: expected -20..=19");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A nice level outside `-20..=19`.
    NiceOutOfRange(i32),
    /// A raw weight of 0 or above [`MAX_WEIGHT`](super::MAX_WEIGHT).
    WeightOutOfRange(u64),
    /// A queue-wide base slice outside `0.1 ms..=100 ms`.
    BaseSliceOutOfRange(Duration),
    /// A tick (the longest expected poll) of zero or above one second.
    TickOutOfRange(Duration),
    /// The entity handle does not name a live entity of this queue (it was never
    /// created here, was removed, or migrated away).
    UnknownEntity,
    /// The entity is already queued and runnable (a double enqueue or wake).
    AlreadyQueued,
    /// The operation needs a running entity and none is running.
    NothingRunning,
    /// The entity is delayed (blocked but still queued), which the operation does
    /// not accept: delayed entities are never migrated.
    Delayed,
    /// The operation does not apply to the running entity.
    Running,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NiceOutOfRange(n) => write!(f, "nice {n} is out of range: expected -20..=19"),
            Error::WeightOutOfRange(w) => write!(
                f,
                "weight {w} is out of range: expected 1..={}",
                super::MAX_WEIGHT
            ),
            Error::BaseSliceOutOfRange(d) => {
                write!(
                    f,
                    "base slice {d:?} is out of range: expected 100µs..=100ms"
                )
            }
            Error::TickOutOfRange(d) => {
                write!(f, "tick {d:?} is out of range: expected 1ns..=1s")
            }
            Error::UnknownEntity => f.write_str("unknown entity: not live on this run queue"),
            Error::AlreadyQueued => f.write_str("entity is already queued and runnable"),
            Error::NothingRunning => f.write_str("no entity is running on this run queue"),
            Error::Delayed => {
                f.write_str("entity is delayed (blocked but still queued) and cannot be moved")
            }
            Error::Running => f.write_str("entity is running; the operation needs it off the CPU"),
        }
    }
}

impl std::error::Error for Error {}
