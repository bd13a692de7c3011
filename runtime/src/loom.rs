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
