//! The scheduler's clock: monotonic nanoseconds since a process-wide epoch.
//!
//! Every poll is timed (its run time is charged as virtual runtime), so this
//! clock is read once per poll and must be cheap. Outside loom it is
//! [`quanta`]'s, which reads the CPU's time stamp counter where that counter
//! is invariant (about half the cost of `Instant::now` on the development
//! machine) and the OS's monotonic clock elsewhere. Schedstats' wait times and
//! the poll budget of [`need_resched`](crate::task::need_resched) use it
//! too, so all the scheduler's times share one clock.

use std::sync::OnceLock;

/// Nanoseconds since the epoch (the first call in the process).
#[cfg(not(loom))]
#[inline]
pub(crate) fn now() -> u64 {
    // One calibrated clock and its raw reading at the epoch. A raw reading
    // is the bare counter (the TSC where quanta trusts it); scaling the
    // distance from the epoch is one multiply and shift. That skips what
    // `quanta::Instant::now` adds per call (its global clock lookup and
    // mock check) and any `Duration` round trip.
    static CLOCK: OnceLock<(quanta::Clock, u64)> = OnceLock::new();
    let (clock, epoch) = CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let epoch = clock.raw();
        (clock, epoch)
    });
    clock.delta_as_nanos(*epoch, clock.raw())
}

/// Nanoseconds since the epoch (the first call in the process).
#[cfg(loom)]
pub(crate) fn now() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    epoch.elapsed().as_nanos() as u64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn advances_with_real_time() {
        let (a, start) = (super::now(), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (b, real) = (super::now(), start.elapsed());
        let measured = Duration::from_nanos(b - a);
        assert!(
            measured >= Duration::from_millis(19),
            "{measured:?} for a 20 ms sleep"
        );
        // Generous upper bound: the two clocks are read a few µs apart.
        assert!(
            measured <= real + Duration::from_millis(5),
            "{measured:?} vs {real:?}"
        );
    }
}
