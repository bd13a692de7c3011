//! Queue-wide policy ([`Config`], [`WakeLag`]) and per-entity requests
//! ([`Params`]).

use std::num::NonZeroU32;
use std::time::Duration;

use super::{Error, Weight};

/// Smallest per-entity custom slice (custom slices are clamped to this range).
pub const MIN_SLICE: Duration = Duration::from_micros(100);
/// Largest per-entity custom slice.
pub const MAX_SLICE: Duration = Duration::from_millis(100);

/// Nanoseconds in `d`, saturating.
pub(super) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn clamp_slice(d: Duration) -> u32 {
    ns(d).clamp(ns(MIN_SLICE), ns(MAX_SLICE)) as u32
}

/// What a waking entity keeps from the lag it had when it blocked.
///
/// The rule applies only to an entity that really left the queue (it was
/// sleeping). A *delayed* entity is re-armed in place on its wake, debt and
/// all, whatever this says; and with delayed dequeue on, an entity leaves only
/// once it is eligible, i.e. owes nothing, so [`WakeLag::Reset`] can then only
/// forfeit credit. Debt is forgiven by a sleep only with **both** delayed
/// dequeue off and `Reset`.
///
/// Measured in the simulator (a task that runs one 300 µs slice and sleeps
/// 1 µs, against three CPU-bound tasks of equal weight, 2 s, 100 µs quantum),
/// its share is 0.25005 with delayed dequeue on (under `Keep` and `Reset`
/// alike), 0.24975 with delayed dequeue off and `Keep`, and 0.64970 with
/// delayed dequeue off and `Reset`.
///
/// # Examples
///
/// ```
/// use runtime::sched::{Config, WakeLag};
///
/// // Only this combination lets a micro-sleeping task gain share.
/// let gameable = Config::new().wake_lag(WakeLag::Reset).delayed_dequeue(false);
/// assert_eq!(gameable.get_wake_lag(), WakeLag::Reset);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WakeLag {
    /// Keep the (clamped) lag: debt follows the entity through a sleep. The
    /// default. On its own (even with delayed dequeue off) it makes
    /// micro-sleeps pointless.
    #[default]
    Keep,
    /// Join at the average (lag 0). Offered for comparison. With delayed
    /// dequeue off a sleep forgives debt, and a task that sleeps briefly at the
    /// end of each slice gains share; with delayed dequeue on it gains nothing,
    /// since an entity that owes service stays queued and never reaches this
    /// rule.
    Reset,
}

/// Queue-wide policy settings. Validated by [`RunQueue::new`](super::RunQueue::new).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runtime::sched::{Config, RunQueue};
///
/// let config = Config::new()
///     .base_slice(Duration::from_micros(700))
///     .delayed_dequeue(true)
///     .run_to_parity(true);
/// let queue: RunQueue<()> = RunQueue::new(config)?;
/// assert!(queue.is_empty());
///
/// let bad = Config::new().base_slice(Duration::from_secs(1));
/// assert!(RunQueue::<()>::new(bad).is_err());
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub(super) base_slice: Duration,
    pub(super) tick: Duration,
    pub(super) delayed_dequeue: bool,
    pub(super) wake_lag: WakeLag,
    pub(super) run_to_parity: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: base slice 700 µs, tick 1 ms, delayed dequeue on, lag kept on
    /// wake, run to parity on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::sched::Config;
    ///
    /// assert_eq!(Config::new().get_base_slice(), Duration::from_micros(700));
    /// ```
    pub const fn new() -> Config {
        Config {
            base_slice: Duration::from_micros(700),
            tick: Duration::from_millis(1),
            delayed_dequeue: true,
            wake_lag: WakeLag::Keep,
            run_to_parity: true,
        }
    }

    /// The request size of entities without a custom slice: how long an entity
    /// may run before its deadline is renewed. Must lie in `0.1 ms..=100 ms`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::sched::Config;
    ///
    /// let c = Config::new().base_slice(Duration::from_millis(3));
    /// assert_eq!(c.get_base_slice(), Duration::from_millis(3));
    /// ```
    pub const fn base_slice(mut self, slice: Duration) -> Config {
        self.base_slice = slice;
        self
    }

    /// The scheduling granularity: the longest a single run (poll) is expected to
    /// last. A dequeued entity keeps at most `largest queued slice + tick` of lag.
    /// Must lie in `1 ns..=1 s`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::sched::Config;
    ///
    /// let c = Config::new().tick(Duration::from_micros(100));
    /// assert_eq!(c.get_tick(), Duration::from_micros(100));
    /// ```
    pub const fn tick(mut self, tick: Duration) -> Config {
        self.tick = tick;
        self
    }

    /// Whether an entity that blocks while ineligible stays queued as *delayed*
    /// until picked (the default) instead of leaving at once. While it is on,
    /// a sleep cannot forgive debt under either [`WakeLag`] rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Config;
    ///
    /// assert!(!Config::new().delayed_dequeue(false).get_delayed_dequeue());
    /// ```
    pub const fn delayed_dequeue(mut self, on: bool) -> Config {
        self.delayed_dequeue = on;
        self
    }

    /// What a waking (dequeued) entity keeps of its lag; see [`WakeLag`].
    /// A delayed entity's wake ignores it, so [`WakeLag::Reset`] forgives debt
    /// only together with `delayed_dequeue(false)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::{Config, WakeLag};
    ///
    /// assert_eq!(Config::new().get_wake_lag(), WakeLag::Keep);
    /// ```
    pub const fn wake_lag(mut self, policy: WakeLag) -> Config {
        self.wake_lag = policy;
        self
    }

    /// Whether a picked entity keeps running until it has used its request (or
    /// the smallest slice on the queue, if shorter), as Linux does between ticks.
    /// Fewer switches; the lag bound loosens from the paper's to `r_max + q`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Config;
    ///
    /// assert!(Config::new().get_run_to_parity());
    /// ```
    pub const fn run_to_parity(mut self, on: bool) -> Config {
        self.run_to_parity = on;
        self
    }

    /// See [`Config::base_slice`].
    ///
    /// ```
    /// # use runtime::sched::Config;
    /// let _ = Config::new().get_base_slice();
    /// ```
    pub const fn get_base_slice(&self) -> Duration {
        self.base_slice
    }

    /// See [`Config::tick`].
    ///
    /// ```
    /// # use runtime::sched::Config;
    /// let _ = Config::new().get_tick();
    /// ```
    pub const fn get_tick(&self) -> Duration {
        self.tick
    }

    /// See [`Config::delayed_dequeue`].
    ///
    /// ```
    /// # use runtime::sched::Config;
    /// assert!(Config::new().get_delayed_dequeue());
    /// ```
    pub const fn get_delayed_dequeue(&self) -> bool {
        self.delayed_dequeue
    }

    /// See [`Config::wake_lag`].
    ///
    /// ```
    /// # use runtime::sched::Config;
    /// let _ = Config::new().get_wake_lag();
    /// ```
    pub const fn get_wake_lag(&self) -> WakeLag {
        self.wake_lag
    }

    /// See [`Config::run_to_parity`].
    ///
    /// ```
    /// # use runtime::sched::Config;
    /// let _ = Config::new().get_run_to_parity();
    /// ```
    pub const fn get_run_to_parity(&self) -> bool {
        self.run_to_parity
    }

    pub(super) fn validate(&self) -> Result<(), Error> {
        if self.base_slice < MIN_SLICE || self.base_slice > MAX_SLICE {
            return Err(Error::BaseSliceOutOfRange(self.base_slice));
        }
        if self.tick.is_zero() || self.tick > Duration::from_secs(1) {
            return Err(Error::TickOutOfRange(self.tick));
        }
        Ok(())
    }
}

// ===== Params =====

/// How a new entity asks to be scheduled: its weight (throughput share) and an
/// optional custom slice (latency request).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runtime::sched::{Params, Weight};
///
/// let latency_sensitive = Params::new()
///     .weight(Weight::from_nice(-5)?)
///     .slice(Duration::from_micros(200));
/// assert_eq!(latency_sensitive.get_slice(), Some(Duration::from_micros(200)));
///
/// // Custom slices are clamped to 0.1 ms..=100 ms, as in Linux.
/// let tiny = Params::new().slice(Duration::from_nanos(5));
/// assert_eq!(tiny.get_slice(), Some(Duration::from_micros(100)));
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    pub(super) weight: Weight,
    /// Custom slice in nanoseconds, already clamped (so never zero: the
    /// niche keeps `Params` at 8 bytes in every task header).
    pub(super) slice: Option<NonZeroU32>,
}

impl Params {
    /// Nice 0 with the queue's base slice.
    ///
    /// ```
    /// # use runtime::sched::{Params, Weight};
    /// assert_eq!(Params::new().get_weight(), Weight::NICE_0);
    /// ```
    pub fn new() -> Params {
        Params::default()
    }

    /// Sets the weight.
    ///
    /// ```
    /// # use runtime::sched::{Params, Weight};
    /// let p = Params::new().weight(Weight::from_nice(3)?);
    /// assert_eq!(p.get_weight().get(), 526);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn weight(mut self, weight: Weight) -> Params {
        self.weight = weight;
        self
    }

    /// Sets a custom slice, clamped to [`MIN_SLICE`]`..=`[`MAX_SLICE`]. A shorter
    /// slice gives earlier deadlines (lower latency) without a larger share.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::Params;
    /// let p = Params::new().slice(Duration::from_secs(5));
    /// assert_eq!(p.get_slice(), Some(Duration::from_millis(100)));
    /// ```
    pub fn slice(mut self, slice: Duration) -> Params {
        self.slice = NonZeroU32::new(clamp_slice(slice));
        self
    }

    /// The weight.
    ///
    /// ```
    /// # use runtime::sched::{Params, Weight};
    /// assert_eq!(Params::new().get_weight(), Weight::NICE_0);
    /// ```
    pub fn get_weight(&self) -> Weight {
        self.weight
    }

    /// The custom slice, if any.
    ///
    /// ```
    /// # use runtime::sched::Params;
    /// assert_eq!(Params::new().get_slice(), None);
    /// ```
    pub fn get_slice(&self) -> Option<Duration> {
        self.slice.map(|s| Duration::from_nanos(u64::from(s.get())))
    }
}
