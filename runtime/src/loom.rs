//! The one place runtime code gets its synchronization primitives from.
//!
//! Under `--cfg loom` these are loom's model-checked versions; otherwise std's.
//! Runtime code never imports `std::sync` or `std::thread` directly, so the loom
//! build checks the very code that ships (see `task::state` and its loom tests).

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    }
}

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use std::thread::{Thread, current, park};
    pub(crate) use std::thread_local;
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};
    pub(crate) use loom::thread_local;
}
