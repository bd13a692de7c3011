//! The one place runtime code gets its synchronization primitives from.
//!
//! Under `--cfg loom` these are loom's model-checked versions; otherwise std's.
//! Runtime code never imports `std::sync` directly, so the loom build checks the
//! very code that ships (see `task::state` and its loom tests).

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use std::sync::Arc;

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
    }
}

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) mod sync {
    pub(crate) use loom::sync::Arc;

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
    }
}
