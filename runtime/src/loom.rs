//! The one place runtime code gets its synchronization primitives from.
//!
//! Under `--cfg loom` these are loom's model-checked versions; otherwise std's.
//! Runtime code takes its atomics, locks, thread-locals and parking from here,
//! so the loom build checks the very code that ships (see `task::state` and
//! `rt::inbox` and their loom tests).
//!
//! One deliberate exception: task and scheduler *handles* are `std::sync::Arc`.
//! `std::task::Wake`, `self: Arc<Self>` methods and `Arc<dyn Trait>` all need
//! std's `Arc`; it allocates and counts, it does not order anything the
//! protocols rely on. Everything that does is routed through here.

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Locks `m`, ignoring poison: runtime code runs user code under
    /// `catch_unwind` and never leaves shared data half-updated across a
    /// panic, so a poisoned lock still guards consistent data.
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) use super::spin::{SpinGuard, SpinMutex, spin_lock};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// Locks `m`, ignoring poison: runtime code runs user code under
    /// `catch_unwind` and never leaves shared data half-updated across a
    /// panic, so a poisoned lock still guards consistent data.
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Under loom the spin lock is loom's mutex: the models check what the
    /// lock protects, with a lock whose exclusion loom knows (a spinning
    /// lock would multiply the interleavings to explore).
    pub(crate) use loom::sync::{Mutex as SpinMutex, MutexGuard as SpinGuard};

    /// See the std build's `spin_lock`.
    pub(crate) fn spin_lock<T>(m: &SpinMutex<T>) -> SpinGuard<'_, T> {
        lock(m)
    }

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use std::thread::{Thread, current, park, park_timeout};
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};

    /// loom has no time: a timed park returns at once, as a spurious wake-up
    /// may (every caller parks in a loop that rechecks its condition). A
    /// model thus tells a park that will end by itself from one that needs
    /// an unpark: only the latter can deadlock.
    pub(crate) fn park_timeout(_: std::time::Duration) {}
}

/// `UnsafeCell` with loom's closure-based access, so cell accesses are checked
/// under loom and free otherwise.
#[cfg(not(loom))]
pub(crate) mod cell {
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(loom)]
pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

/// A lock for data that its owner takes briefly at every turn and others
/// only now and then, for short work: a compare-and-swap to take it and a
/// plain release store to give it back. Nobody sleeps on it: a taker that
/// finds it held spins a little, then yields its thread until it is free.
/// (std's mutex puts a contended taker to sleep in the kernel, and its
/// holder then pays a system call to wake it: tens of microseconds for a
/// wait of a few.) Poison-free: a panic unlocks it on the way out, and
/// runtime code never leaves the data half-updated across one.
#[cfg(not(loom))]
mod spin {
    use std::cell::UnsafeCell;
    use std::ops::{Deref, DerefMut};
    use std::sync::atomic::{AtomicBool, Ordering};

    pub(crate) struct SpinMutex<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the value is reached only through a guard, and `locked` lets
    // one guard exist at a time (Acquire on taking, Release on giving back
    // order each holder's accesses after the previous holder's).
    unsafe impl<T: Send> Send for SpinMutex<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send> Sync for SpinMutex<T> {}

    impl<T> SpinMutex<T> {
        pub(crate) const fn new(value: T) -> SpinMutex<T> {
            SpinMutex {
                locked: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        #[inline]
        fn try_take(&self) -> bool {
            self.locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        }

        #[cold]
        fn take_contended(&self) {
            let mut spins = 0u32;
            loop {
                while self.locked.load(Ordering::Relaxed) {
                    if spins < 100 {
                        spins += 1;
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                if self.try_take() {
                    return;
                }
            }
        }
    }

    /// Takes `m`, waiting while another thread holds it.
    #[inline]
    pub(crate) fn spin_lock<T>(m: &SpinMutex<T>) -> SpinGuard<'_, T> {
        if !m.try_take() {
            m.take_contended();
        }
        SpinGuard { mutex: m }
    }

    pub(crate) struct SpinGuard<'a, T> {
        mutex: &'a SpinMutex<T>,
    }

    impl<T> Deref for SpinGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            // SAFETY: this guard holds the lock: no other reference to the
            // value exists while it lives.
            unsafe { &*self.mutex.value.get() }
        }
    }

    impl<T> DerefMut for SpinGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only
            // reference made through the guard.
            unsafe { &mut *self.mutex.value.get() }
        }
    }

    impl<T> Drop for SpinGuard<'_, T> {
        fn drop(&mut self) {
            self.mutex.locked.store(false, Ordering::Release);
        }
    }

    #[cfg(test)]
    mod tests {
        use std::sync::Arc;

        use super::*;

        #[test]
        fn holders_exclude_each_other() {
            // Non-atomic read-modify-writes under the lock: any overlap
            // between two holders would lose increments.
            let m = Arc::new(SpinMutex::new((0u64, 0u64)));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        for _ in 0..50_000 {
                            let mut g = spin_lock(&m);
                            let (a, b) = *g;
                            std::hint::black_box(&mut *g);
                            *g = (a + 1, b + 2);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(*spin_lock(&m), (200_000, 400_000));
        }
    }
}
