//! [`interval`] and [`interval_at`].

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep, far_future, sleep_until};

/// What an [`Interval`] does when ticks were missed (the task was busy or
/// late by more than a period).
///
/// ```
/// use runtime::time::MissedTickBehavior;
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back, keeping the original schedule.
    #[default]
    Burst,
    /// Restart the schedule: the next tick is one period after now.
    Delay,
    /// Skip the missed ticks: the next tick is the next one on the original
    /// schedule that is still in the future.
    Skip,
}

/// Ticks every `period`; the first tick completes at once.
///
/// # Panics
///
/// If `period` is zero, or outside a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let mut every = runtime::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert_eq!(second - first, Duration::from_millis(2));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks at `start`, then every `period`.
///
/// # Panics
///
/// If `period` is zero, or outside a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runtime::time::Instant;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let start = Instant::now() + Duration::from_millis(3);
///     let mut every = runtime::time::interval_at(start, Duration::from_millis(1));
///     assert_eq!(every.tick().await, start);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "runtime::time::interval: the period must be greater than zero, got {period:?}"
    );
    Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A stream of ticks, from [`interval`] or [`interval_at`].
///
/// ```
/// use std::time::Duration;
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let mut i = runtime::time::interval(Duration::from_millis(1));
///     i.set_missed_tick_behavior(runtime::time::MissedTickBehavior::Skip);
///     i.tick().await;
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut i = runtime::time::interval(Duration::from_millis(1));
    ///     let t = i.tick().await;
    ///     assert!(t <= runtime::time::Instant::now());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for use inside a hand-written future).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut i = runtime::time::interval(Duration::from_millis(1));
    ///     std::future::poll_fn(|cx| i.poll_tick(cx)).await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let on_schedule = scheduled
            .checked_add(self.period)
            .unwrap_or_else(far_future);
        let next = if now < on_schedule {
            on_schedule
        } else {
            match self.missed {
                MissedTickBehavior::Burst => on_schedule,
                MissedTickBehavior::Delay => {
                    now.checked_add(self.period).unwrap_or_else(far_future)
                }
                MissedTickBehavior::Skip => {
                    let behind = now.duration_since(scheduled).as_nanos();
                    let periods = behind / self.period.as_nanos() + 1;
                    let skip = u32::try_from(periods)
                        .ok()
                        .and_then(|p| self.period.checked_mul(p));
                    skip.and_then(|d| scheduled.checked_add(d))
                        .unwrap_or_else(far_future)
                }
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// What to do about missed ticks (default [`MissedTickBehavior::Burst`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::time::MissedTickBehavior;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut i = runtime::time::interval(Duration::from_millis(1));
    ///     i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ///     assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Delay);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The current missed-tick behavior.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let i = runtime::time::interval(Duration::from_millis(1));
    ///     assert_eq!(i.missed_tick_behavior(), runtime::time::MissedTickBehavior::Burst);
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     assert_eq!(runtime::time::interval(Duration::from_millis(7)).period(), Duration::from_millis(7));
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async {
    ///     let mut i = runtime::time::interval(Duration::from_millis(1));
    ///     i.reset();
    ///     i.tick().await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&mut self) {
        let next = Instant::now()
            .checked_add(self.period)
            .unwrap_or_else(far_future);
        self.sleep.reset(next);
    }
}
