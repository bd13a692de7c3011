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
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use std::thread::{Thread, current, park};
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};
}
