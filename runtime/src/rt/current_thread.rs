//! The current-thread flavor: one core, driven by whichever thread is inside
//! `block_on`. Tasks' wakes land in the one inbox, which unparks that thread;
//! other threads in `block_on` wait to be handed the core.

use std::sync::Arc;

use super::core::Core;
use super::inbox::{Inbox, Message};
use crate::loom::sync::{Mutex, lock};
use crate::loom::thread::{self, Thread};
use crate::task::core::{Schedule, TaskRef};
use crate::time::driver::Driver;

/// What every task (and handle) of a current-thread runtime can reach.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) driver: Arc<Driver>,
    /// The core, while no thread is driving it.
    core: Mutex<Option<Box<Core>>>,
    /// Threads in `block_on` waiting for the core.
    waiters: Mutex<Vec<Thread>>,
}

impl Shared {
    pub(crate) fn new(core: Core) -> Arc<Shared> {
        Arc::new_cyclic(|me: &std::sync::Weak<Shared>| {
            let me = me.clone();
            Shared {
                inbox: Inbox::new(),
                driver: Arc::new(Driver::new(Box::new(move || {
                    if let Some(shared) = me.upgrade() {
                        shared.inbox.unpark();
                    }
                }))),
                core: Mutex::new(Some(Box::new(core))),
                waiters: Mutex::new(Vec::new()),
            }
        })
    }

    /// Takes the core to drive it, or registers the calling thread to be
    /// unparked when it is given back.
    pub(crate) fn take_core(&self) -> Option<Box<Core>> {
        let taken = lock(&self.core).take();
        match taken {
            Some(core) => {
                self.inbox.set_owner(Some(thread::current()));
                Some(core)
            }
            None => {
                lock(&self.waiters).push(thread::current());
                None
            }
        }
    }

    /// Returns the core and wakes the threads waiting for it.
    pub(crate) fn give_back(&self, core: Box<Core>) {
        self.inbox.set_owner(None);
        *lock(&self.core) = Some(core);
        for waiter in lock(&self.waiters).drain(..) {
            waiter.unpark();
        }
    }

    /// Cancels every task (the runtime is being dropped, so no thread is
    /// inside `block_on`).
    pub(crate) fn shutdown(&self) {
        let core = lock(&self.core).take();
        if let Some(mut core) = core {
            core.shutdown(&self.inbox);
        }
    }
}

impl Schedule for Shared {
    fn submit(&self, task: TaskRef) {
        self.inbox.push(Message::Submit(task));
    }

    fn rearm(&self, task: TaskRef) {
        self.inbox.push(Message::Rearm(task));
    }
}
