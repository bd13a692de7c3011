//! The thread's current runtime, set while inside `block_on`.

use std::cell::RefCell;

use super::Handle;
use crate::loom::thread::thread_local;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Restores the previous current runtime when dropped.
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
}

/// Makes `handle` the thread's current runtime until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(handle));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

/// The thread's current runtime, if any.
pub(crate) fn current() -> Option<Handle> {
    CURRENT.with(|c| c.borrow().clone())
}
