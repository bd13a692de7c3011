//! [`interval`] and [`interval_at`].

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep, far_future};

/// What an [`Interval`] does after a missed tick: one taken more than 5 ms
/// after its instant (the task was busy, or the machine slow). A tick taken
/// within 5 ms of its instant is on time, and the next one follows one period
/// after it whatever the behavior. These are tokio's rules.
///
/// ```
/// use runtime::time::MissedTickBehavior;
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Keep the original schedule: the next tick is one period after the
    /// missed one, so ticks missed meanwhile fire back to back.
    #[default]
    Burst,
    /// Restart the schedule: the next tick is one period after the missed
    /// tick was taken.
    Delay,
    /// Skip the missed ticks: the next tick is the first one on the original
    /// schedule after the missed tick was taken.
    Skip,
}

/// How late a tick may be taken and still count as on time.
const ON_TIME: Duration = Duration::from_millis(5);

impl MissedTickBehavior {
    /// The instant of the tick after one scheduled at `scheduled` and taken
    /// at `now`; too far away for the clock means [`far_future`].
    fn next(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        let late = now.saturating_duration_since(scheduled);
        let next = match self {
            _ if late <= ON_TIME => scheduled.checked_add(period),
            MissedTickBehavior::Burst => scheduled.checked_add(period),
            MissedTickBehavior::Delay => now.checked_add(period),
            MissedTickBehavior::Skip => {
                // How far `now` is into its period of the schedule; less than
                // `period`, so its seconds fit a u64.
                let into = late.as_nanos() % period.as_nanos();
                let into =
                    Duration::new((into / 1_000_000_000) as u64, (into % 1_000_000_000) as u32);
                now.checked_add(period - into)
            }
        };
        next.unwrap_or_else(far_future)
    }
}

/// Ticks every `period`; the first tick completes at once. A period too long
/// for the clock means the second tick never comes.
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
    new_interval(Instant::now(), period, "interval")
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
    new_interval(start, period, "interval_at")
}

/// An interval ticking at `start`, then every `period`; panics name `caller`,
/// the function the user called.
#[track_caller]
fn new_interval(start: Instant, period: Duration, caller: &str) -> Interval {
    assert!(
        !period.is_zero(),
        "runtime::time::{caller}: the period must be greater than zero, got {period:?}"
    );
    Interval {
        sleep: Sleep::new(start, caller),
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
        let next = self.missed.next(scheduled, Instant::now(), self.period);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::MissedTickBehavior::{self, Burst, Delay, Skip};
    use super::*;

    const ALL: [MissedTickBehavior; 3] = [Burst, Delay, Skip];

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Taken within 5 ms of its instant (inclusive), a tick is on time for
    /// every behavior, even when that is more than a period late.
    #[test]
    fn up_to_five_ms_late_is_on_time() {
        let t0 = Instant::now();
        for b in ALL {
            assert_eq!(b.next(t0, t0, ms(10)), t0 + ms(10), "{b:?}");
            assert_eq!(b.next(t0, t0 + ms(3), ms(1)), t0 + ms(1), "{b:?}");
            assert_eq!(b.next(t0, t0 + ms(5), ms(2)), t0 + ms(2), "{b:?}");
        }
    }

    /// Missed by less than a period: Burst and Skip keep the schedule, Delay
    /// restarts it from when the tick was taken.
    #[test]
    fn missed_by_less_than_a_period() {
        let t0 = Instant::now();
        let now = t0 + ms(20);
        assert_eq!(Burst.next(t0, now, ms(50)), t0 + ms(50));
        assert_eq!(Delay.next(t0, now, ms(50)), now + ms(50));
        assert_eq!(Skip.next(t0, now, ms(50)), t0 + ms(50));
    }

    /// Missed by several periods: Burst fires the missed ticks, Delay
    /// restarts, Skip jumps to the first scheduled tick after now (strictly
    /// after, when now is on the schedule).
    #[test]
    fn missed_by_several_periods() {
        let t0 = Instant::now();
        let now = t0 + ms(125);
        assert_eq!(Burst.next(t0, now, ms(50)), t0 + ms(50));
        assert_eq!(Delay.next(t0, now, ms(50)), now + ms(50));
        assert_eq!(Skip.next(t0, now, ms(50)), t0 + ms(150));
        assert_eq!(Skip.next(t0, t0 + ms(100), ms(50)), t0 + ms(150));
    }

    /// Extreme periods neither panic nor give up: a period too long for the
    /// clock means never, and Skip with a tiny period far behind stays on its
    /// schedule.
    #[test]
    fn extreme_periods() {
        let t0 = Instant::now();
        for b in ALL {
            for now in [t0, t0 + ms(100)] {
                let next = b.next(t0, now, Duration::MAX);
                assert!(next >= now + Duration::from_secs(86_400 * 365), "{b:?}");
            }
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(
            Skip.next(t0, now, Duration::from_nanos(1)),
            now + Duration::from_nanos(1)
        );
        assert_eq!(
            Skip.next(t0, now, Duration::from_nanos(3)),
            now + Duration::from_nanos(2)
        );
    }
}
