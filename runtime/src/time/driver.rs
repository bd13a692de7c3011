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

use std::fmt;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::{Key, Wheel};
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Mutex, lock};

/// No timer pending.
const NONE: u64 = u64::MAX;

struct Inner {
    wheel: Wheel<Waker>,
    fired: Vec<Waker>,
}

pub(crate) struct Driver {
    origin: Instant,
    inner: Mutex<Inner>,
    next: AtomicU64,
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

    /// Registers a timer; `None` if it is already due (the caller completes).
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> Option<Key> {
        let tick = self.tick_of(deadline);
        let mut inner = lock(&self.inner);
        let key = inner.wheel.insert(tick, waker.clone()).ok()?;
        let next = inner.wheel.next_expiration().unwrap_or(NONE);
        let before = self.next.swap(next, Ordering::AcqRel);
        drop(inner);
        if next < before {
            // A parked worker may be sleeping past this deadline.
            (self.unpark)();
        }
        Some(key)
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
