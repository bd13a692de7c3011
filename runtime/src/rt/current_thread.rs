//! The current-thread flavor: one core, driven by whichever thread is inside
//! `block_on`. Tasks' wakes land in the one inbox, which unparks that thread;
//! other threads in `block_on` wait to be handed the core.

use std::sync::Arc;

use super::context;
use super::core::Core;
use super::hooks::Hooks;
use super::inbox::{Inbox, Message};
use super::metrics::{RuntimeMetrics, WorkerStats};
use super::registry::Registry;
use crate::loom::sync::{Mutex, lock};
use crate::loom::thread::{self, Thread};
use crate::task::core::{Header, Schedule, TaskRef};
use crate::time::driver::Driver;

/// What every task (and handle) of a current-thread runtime can reach.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) driver: Arc<Driver>,
    /// The core, while no thread is driving it.
    core: Mutex<Option<Box<Core>>>,
    /// Threads in `block_on` waiting for the core.
    waiters: Mutex<Vec<Thread>>,
    /// The core's published counters, readable while a thread drives it.
    stats: Arc<WorkerStats>,
    pub(crate) hooks: Arc<Hooks>,
    registry: Registry,
}

impl Shared {
    pub(crate) fn new(mut core: Core, hooks: Arc<Hooks>) -> Arc<Shared> {
        core.set_hooks(&hooks);
        Arc::new_cyclic(|me: &std::sync::Weak<Shared>| {
            let me = me.clone();
            Shared {
                stats: core.stats().clone(),
                hooks,
                registry: Registry::new(1),
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
                // The thread drives this core (unless it already drives
                // another runtime's: wakes then take the inbox).
                if context::worker().is_none() {
                    context::set_worker(Some((self.addr(), 0)));
                }
                Some(core)
            }
            None => {
                lock(&self.waiters).push(thread::current());
                None
            }
        }
    }

    /// Returns the core and wakes the threads waiting for it.
    pub(crate) fn give_back(&self, mut core: Box<Core>) {
        // Wakes kept on this thread go onto the core, for the next driver.
        core.drain_own(&self.inbox, self.addr());
        if context::worker() == Some((self.addr(), 0)) {
            context::set_worker(None);
        }
        self.inbox.set_owner(None);
        *lock(&self.core) = Some(core);
        for waiter in lock(&self.waiters).drain(..) {
            waiter.unpark();
        }
    }

    /// The worker's counters and the live tasks.
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(std::iter::once(&*self.stats), self.registry.live())
    }

    /// The counters of the one core.
    pub(crate) fn stats(&self) -> &WorkerStats {
        &self.stats
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

impl Shared {
    /// This runtime's identity for [`context::worker`].
    pub(crate) fn addr(&self) -> usize {
        self as *const Shared as usize
    }

    /// Sends a spawn or a wake to the core: kept on this thread if it drives
    /// the core, else through the inbox.
    fn deliver(&self, message: Message) {
        if let Err(message) = context::push_local(self.addr(), 0, message) {
            self.inbox.push(message);
        }
    }
}

impl Schedule for Shared {
    fn submit(&self, task: TaskRef) {
        self.deliver(Message::Submit(task));
    }

    fn rearm(&self, task: TaskRef) {
        self.deliver(Message::Rearm(task));
    }

    fn terminated(&self, task: &Header) {
        self.hooks.terminated(task);
    }

    fn registry(&self) -> Option<&Registry> {
        Some(&self.registry)
    }
}
