//! The timer driver: one per runtime, a timing wheel of wakers in
//! microsecond ticks since the runtime started.
//!
//! # Protocol
//!
//! - A deadline is rounded *up* to a tick, and timers fire when the clock has
//!   passed their tick rounded *down*, so a timer never fires before its
//!   deadline (and at most a microsecond after it, plus the time until a
//!   worker next looks: its current poll, or its wake-up from a timed park).
//! - `next` caches the earliest tick at which anything may fire, so workers
//!   check for due timers with one atomic load and no lock while none are due.
//! - Any worker fires due timers ([`Driver::fire_due`]) at each turn of its
//!   loop; a parking worker sleeps at most until `next`
//!   ([`Driver::park_timeout`]). A timer registered earlier than `next` calls
//!   the runtime's unpark hook, so a worker parked with a later timeout (or
//!   none) comes back to recompute it.
//! - A fired timer's waker is woken outside the lock; the woken task then takes
//!   the same path as any other wake (with delayed dequeue, a sleeper that
//!   owed service may still be queued as delayed, and is re-armed in place).
//! - When the runtime shuts down ([`Driver::shutdown`]), every pending timer
//!   is woken and the driver refuses new ones: a sleep polled after that
//!   panics (see `Sleep`) rather than waiting for a timer nothing will fire.
//!   The flag is set under the lock, so a registration either happens before
//!   the shutdown (and is woken by it) or is refused.

use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::{Key, Wheel};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::loom::sync::{Mutex, lock};

/// No timer pending.
const NONE: u64 = u64::MAX;

struct Inner {
    wheel: Wheel<Waker>,
    fired: Vec<Waker>,
}

/// Returned by [`Driver::register`] once the driver has shut down.
#[derive(Debug)]
pub(crate) struct ShutDown;

pub(crate) struct Driver {
    origin: Instant,
    inner: Mutex<Inner>,
    next: AtomicU64,
    /// Set (under the lock) by [`Driver::shutdown`]; never cleared.
    shut_down: AtomicBool,
    /// Unparks a parked worker (set by the runtime).
    unpark: Box<dyn Fn() + Send + Sync>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("next", &self.next.load(Ordering::Relaxed))
            .finish()
    }
}

impl Driver {
    pub(crate) fn new(unpark: Box<dyn Fn() + Send + Sync>) -> Driver {
        Driver {
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                wheel: Wheel::new(),
                fired: Vec::new(),
            }),
            next: AtomicU64::new(NONE),
            shut_down: AtomicBool::new(false),
            unpark,
        }
    }

    /// The tick of `deadline`, rounded up (saturating: far deadlines are never).
    fn tick_of(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.origin);
        let us = since.as_nanos().div_ceil(1_000);
        u64::try_from(us).unwrap_or(NONE - 1).min(NONE - 1)
    }

    /// The current tick, rounded down.
    fn now_tick(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_micros()).unwrap_or(NONE - 1)
    }

    /// Registers a timer; `Ok(None)` if it is already due (the caller
    /// completes), `Err` once the driver has shut down.
    pub(crate) fn register(
        &self,
        deadline: Instant,
        waker: &Waker,
    ) -> Result<Option<Key>, ShutDown> {
        let tick = self.tick_of(deadline);
        let mut inner = lock(&self.inner);
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ShutDown);
        }
        let Ok(key) = inner.wheel.insert(tick, waker.clone()) else {
            return Ok(None);
        };
        let next = inner.wheel.next_expiration().unwrap_or(NONE);
        let before = self.next.swap(next, Ordering::AcqRel);
        drop(inner);
        if next < before {
            // A parked worker may be sleeping past this deadline.
            (self.unpark)();
        }
        Ok(Some(key))
    }

    /// Whether the driver has shut down (its runtime is gone or going).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Shuts the driver down: wakes every pending timer (its owner then finds
    /// the driver shut down) and refuses new ones. Idempotent.
    pub(crate) fn shutdown(&self) {
        let woken = {
            let mut inner = lock(&self.inner);
            self.shut_down.store(true, Ordering::Release);
            let Inner { wheel, fired } = &mut *inner;
            wheel.drain(fired);
            self.next.store(NONE, Ordering::Release);
            std::mem::take(fired)
        };
        for waker in woken {
            waker.wake();
        }
    }

    /// Replaces a registered timer's waker; false if it already fired.
    pub(crate) fn update(&self, key: Key, waker: &Waker) -> bool {
        let mut inner = lock(&self.inner);
        match inner.wheel.get_mut(key) {
            Some(stored) => {
                if !stored.will_wake(waker) {
                    *stored = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Deregisters a timer (a no-op if it fired).
    pub(crate) fn cancel(&self, key: Key) {
        let waker = lock(&self.inner).wheel.remove(key);
        drop(waker);
    }

    /// Wakes every timer that is due. Cheap when none is: one atomic load.
    pub(crate) fn fire_due(&self) {
        if self.next.load(Ordering::Acquire) == NONE {
            return;
        }
        let now = self.now_tick(Instant::now());
        if self.next.load(Ordering::Acquire) > now {
            return;
        }
        let fired = {
            let mut inner = lock(&self.inner);
            let Inner { wheel, fired } = &mut *inner;
            wheel.advance(now, fired);
            self.next
                .store(wheel.next_expiration().unwrap_or(NONE), Ordering::Release);
            std::mem::take(fired)
        };
        for waker in fired {
            waker.wake();
        }
    }

    /// How long a parking worker may sleep before a timer is due; `None` when
    /// no timer is pending.
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        let next = self.next.load(Ordering::Acquire);
        if next == NONE {
            return None;
        }
        let at = self.origin + Duration::from_micros(next);
        Some(at.saturating_duration_since(Instant::now()))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Shutting down wakes each pending timer once and empties the driver;
    /// afterwards registrations are refused, keys are stale, and there is
    /// nothing to fire or wait for.
    #[test]
    fn shutdown_wakes_pending_timers_and_refuses_new_ones() {
        let driver = Driver::new(Box::new(|| {}));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let now = Instant::now();
        let keys: Vec<Key> = [1, 60, 3600]
            .map(|s| {
                driver
                    .register(now + Duration::from_secs(s), &waker)
                    .unwrap()
                    .expect("not due yet")
            })
            .into();
        assert!(!driver.is_shut_down());
        assert!(driver.park_timeout().is_some());

        driver.shutdown();
        assert!(driver.is_shut_down());
        assert_eq!(count.0.load(Ordering::SeqCst), 3, "each timer woken once");
        assert_eq!(driver.park_timeout(), None);
        for key in keys {
            assert!(!driver.update(key, &waker), "a key outlived the shutdown");
            driver.cancel(key);
        }
        let late = now + Duration::from_secs(5);
        assert!(driver.register(late, &waker).is_err());
        assert!(driver.register(now, &waker).is_err(), "even when due");

        // Idempotent, and nothing left to wake.
        driver.shutdown();
        driver.fire_due();
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
    }
}
