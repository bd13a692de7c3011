//! A worker's inbox: messages from any thread (new entries and re-arms),
//! closed at shutdown.
//!
//! `closed` and the message list share one lock, so shutdown can close and
//! drain atomically: a message either lands before the drain (and is cancelled
//! there) or finds the inbox closed (and its sender cancels the task).

use std::collections::VecDeque;

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::Thread;
use crate::task::core::TaskRef;

pub(crate) enum Message {
    /// A new entry: a first spawn, or the wake of a task that left the queue.
    Submit(TaskRef),
    /// The wake of a delayed task.
    Rearm(TaskRef),
}

impl Message {
    pub(crate) fn task(&self) -> &TaskRef {
        let (Message::Submit(task) | Message::Rearm(task)) = self;
        task
    }
}

struct List {
    messages: VecDeque<Message>,
    closed: bool,
}

pub(crate) struct Inbox {
    list: Mutex<List>,
    /// Messages may be waiting: a hint for deciding to park (a message pushed
    /// after a stale `false` still unparks the owner, whose park then returns).
    pending: AtomicBool,
    /// First entries of new tasks waiting (any worker may take those).
    spawns: AtomicUsize,
    /// The thread to unpark when a message arrives.
    owner: Mutex<Option<Thread>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Cancels a task that no worker will run again.
pub(crate) fn shutdown_task(task: &TaskRef) {
    if task.header().state.to_shutdown() {
        task.cancel();
    }
}

impl Inbox {
    pub(crate) fn new() -> Inbox {
        Inbox {
            list: Mutex::new(List {
                messages: VecDeque::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            spawns: AtomicUsize::new(0),
            owner: Mutex::new(None),
        }
    }

    /// Delivers a message and unparks the owner; on a closed inbox, cancels
    /// the task instead.
    pub(crate) fn push(&self, message: Message) {
        {
            let mut list = lock(&self.list);
            if list.closed {
                drop(list);
                shutdown_task(message.task());
                return;
            }
            if let Message::Submit(task) = &message {
                if task.header().entity().is_none() {
                    self.spawns.fetch_add(1, Ordering::SeqCst);
                }
            }
            list.messages.push_back(message);
            self.pending.store(true, Ordering::SeqCst);
        }
        self.unpark();
    }

    /// Unparks the owner, if one is registered.
    pub(crate) fn unpark(&self) {
        if let Some(owner) = lock(&self.owner).as_ref() {
            owner.unpark();
        }
    }

    pub(crate) fn set_owner(&self, owner: Option<Thread>) {
        *lock(&self.owner) = owner;
    }

    /// Whether messages may be waiting.
    pub(crate) fn has_messages(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Whether first entries of new tasks are waiting.
    pub(crate) fn has_spawns(&self) -> bool {
        self.spawns.load(Ordering::SeqCst) > 0
    }

    pub(crate) fn take(&self) -> VecDeque<Message> {
        let mut list = lock(&self.list);
        self.pending.store(false, Ordering::SeqCst);
        self.spawns.store(0, Ordering::SeqCst);
        std::mem::take(&mut list.messages)
    }

    /// Takes up to `max` first entries of new tasks (not yet on any run queue,
    /// so any worker may adopt them), leaving everything else in order.
    pub(crate) fn take_spawns(&self, max: usize) -> Vec<TaskRef> {
        if max == 0 || !self.has_spawns() {
            return Vec::new();
        }
        let mut list = lock(&self.list);
        let mut taken = Vec::new();
        list.messages.retain(|m| match m {
            Message::Submit(task) if taken.len() < max && task.header().entity().is_none() => {
                taken.push(task.clone());
                false
            }
            _ => true,
        });
        self.spawns.fetch_sub(taken.len(), Ordering::SeqCst);
        taken
    }

    /// Closes the inbox and returns what it held.
    pub(crate) fn close(&self) -> VecDeque<Message> {
        let mut list = lock(&self.list);
        list.closed = true;
        std::mem::take(&mut list.messages)
    }
}

/// Model checks of the inbox protocol. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::Arc;

    use super::*;
    use crate::sched::Params;
    use crate::task::core::{Schedule, new_task};
    use loom::thread;

    struct Nowhere;

    impl Schedule for Nowhere {
        fn submit(&self, _: TaskRef) {}
        fn rearm(&self, _: TaskRef) {}
    }

    fn task() -> TaskRef {
        new_task(async {}, Params::new(), None, Arc::new(Nowhere)).0
    }

    /// Scenario 10: the owner finds the inbox empty and parks while another
    /// thread pushes. It is never left parked with a message waiting (loom
    /// reports a deadlock if it can be).
    #[test]
    fn a_push_always_reaches_a_parking_owner() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            inbox.set_owner(Some(thread::current()));
            let pusher = {
                let inbox = inbox.clone();
                let task = task();
                thread::spawn(move || inbox.push(Message::Submit(task)))
            };
            while inbox.take().is_empty() {
                thread::park();
            }
            pusher.join().unwrap();
        });
    }

    /// Shutdown closes the inbox while a message is pushed: the task is either
    /// handed to the closer (which cancels it) or cancelled by the pusher,
    /// never stranded, never both.
    #[test]
    fn close_against_push_strands_nothing() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            let task = task();
            let pusher = {
                let (inbox, task) = (inbox.clone(), task.clone());
                thread::spawn(move || inbox.push(Message::Submit(task)))
            };
            let drained = inbox.close();
            pusher.join().unwrap();
            let cancelled_by_pusher = task.header().state.load().is_complete();
            assert_eq!(drained.len() + usize::from(cancelled_by_pusher), 1);
            assert!(inbox.take().is_empty(), "nothing lands after close");
        });
    }
}
