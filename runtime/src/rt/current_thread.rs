//! The current-thread scheduler: one EEVDF run queue, driven by `block_on` on
//! the calling thread.
//!
//! # Protocol
//!
//! - `Shared` (an `Arc`, reachable from every task): the inbox of messages from
//!   any thread (new entries and re-arms), and the thread to unpark.
//! - `Core` (owned by whichever thread is inside `block_on`): the run queue. Only
//!   the core's holder touches the run queue and the tasks' entity handles.
//! - After every poll the core decides, with one CAS on the task's state word,
//!   between requeue (woken during the poll: a preemption), delayed (blocked
//!   while owing service: stays queued, not runnable) and dequeued (blocked), and
//!   then tells the run queue the same thing.
//! - Shutdown: close the inbox (under its lock, so no message can slip in after
//!   the drain), cancel what it held, then cancel every task on the run queue.
//!   Sleeping tasks are still registered there, so every future is dropped, once.

use std::collections::VecDeque;
use std::task::Poll;
use std::time::Instant;

use super::context::PollContext;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::{self, Thread};
use crate::sched::{Config, Pick, RunQueue};
use crate::task::core::{Schedule, TaskRef};
use crate::task::state::{AfterPoll, BlockKind, DelayedPick, ToRunning};

enum Message {
    Submit(TaskRef),
    Rearm(TaskRef),
}

struct Inbox {
    messages: VecDeque<Message>,
    closed: bool,
}

pub(crate) struct Shared {
    inbox: Mutex<Inbox>,
    /// Messages may be waiting (lets the core skip the lock when idle-free).
    pending: AtomicBool,
    /// The thread inside `block_on`, to unpark when a message arrives.
    driver: Mutex<Option<Thread>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            inbox: Mutex::new(Inbox {
                messages: VecDeque::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            driver: Mutex::new(None),
        }
    }

    fn push(&self, message: Message) {
        {
            let mut inbox = lock(&self.inbox);
            if inbox.closed {
                drop(inbox);
                // The runtime is gone: nobody will ever poll the task again.
                let (Message::Submit(task) | Message::Rearm(task)) = message;
                shutdown_task(&task);
                return;
            }
            inbox.messages.push_back(message);
            self.pending.store(true, Ordering::Release);
        }
        if let Some(driver) = lock(&self.driver).as_ref() {
            driver.unpark();
        }
    }

    pub(crate) fn set_driver(&self, driver: Option<Thread>) {
        *lock(&self.driver) = driver;
    }

    /// Whether messages may be waiting.
    pub(crate) fn has_messages(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    fn take_messages(&self) -> VecDeque<Message> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return VecDeque::new();
        }
        std::mem::take(&mut lock(&self.inbox).messages)
    }

    /// Closes the inbox and returns what it held.
    fn close(&self) -> VecDeque<Message> {
        let mut inbox = lock(&self.inbox);
        inbox.closed = true;
        std::mem::take(&mut inbox.messages)
    }
}

impl Schedule for Shared {
    fn submit(&self, task: TaskRef) {
        self.push(Message::Submit(task));
    }

    fn rearm(&self, task: TaskRef) {
        self.push(Message::Rearm(task));
    }
}

/// Cancels a task that no worker will run again.
fn shutdown_task(task: &TaskRef) {
    if task.header().state.to_shutdown() {
        task.cancel();
    }
}

/// The run queue and the logic that drives it; owned by one thread at a time.
pub(crate) struct Core {
    queue: RunQueue<TaskRef>,
}

impl Core {
    pub(crate) fn new(config: Config) -> Result<Core, crate::sched::Error> {
        Ok(Core {
            queue: RunQueue::new(config)?,
        })
    }

    /// Moves the inbox's messages onto the run queue.
    pub(crate) fn drain_inbox(&mut self, shared: &Shared) {
        for message in shared.take_messages() {
            match message {
                Message::Submit(task) => self.admit(task),
                Message::Rearm(task) => {
                    if task.header().state.rearm() {
                        self.wake_entity(&task);
                    }
                }
            }
        }
    }

    /// A new entry: a first spawn, or the wake of a task that left the queue.
    fn admit(&mut self, task: TaskRef) {
        if task.header().entity().is_some() {
            self.wake_entity(&task);
        } else {
            let params = task.header().params;
            let id = self.queue.enqueue_new(params, task.clone());
            task.header().set_entity(id);
        }
    }

    fn wake_entity(&mut self, task: &TaskRef) {
        let id = task
            .header()
            .entity()
            .expect("admitted tasks have an entity");
        let woken = self.queue.wake(id);
        debug_assert!(
            woken.is_ok(),
            "wake of task {}: {woken:?}",
            task.header().id
        );
    }

    /// Runs the next task, if any; false when nothing is queued.
    pub(crate) fn run_one(&mut self) -> bool {
        loop {
            match self.queue.pick() {
                Pick::Idle => return false,
                Pick::Run(id) => {
                    self.run(id);
                    return true;
                }
                Pick::Dequeued(id) => {
                    let task = self.queue.get(id).expect("a picked entity is live").clone();
                    if task.header().state.delayed_pick() == DelayedPick::Rearm {
                        // Woken while delayed: runnable again, at lag 0.
                        self.wake_entity(&task);
                    }
                }
            }
        }
    }

    fn run(&mut self, id: crate::sched::EntityId) {
        let task = self.queue.get(id).expect("a picked entity is live").clone();
        let state = &task.header().state;
        if state.to_running() == ToRunning::Cancel {
            self.finish_cancelled(id, &task);
            return;
        }
        let start = Instant::now();
        super::context::begin_poll(PollContext {
            start,
            budget: self.queue.current_budget().unwrap_or_default(),
            others: self.queue.nr_runnable() > 1,
            reweight: None,
        });
        let result = task.clone().poll();
        let ran = start.elapsed();
        let ctx = super::context::end_poll();
        self.queue.charge(ran).expect("the picked task is running");
        if let Some(weight) = ctx.and_then(|c| c.reweight) {
            self.queue
                .reweight(id, weight)
                .expect("the running task is live");
        }
        if result == Poll::Ready(()) {
            state.to_complete();
            self.queue.remove(id).expect("a finished task is live");
            return;
        }
        let block = if self.queue.would_delay() {
            BlockKind::Delay
        } else {
            BlockKind::Dequeue
        };
        match state.after_poll(block) {
            AfterPoll::Requeue => {
                self.queue.yield_to_others().expect("still running");
            }
            AfterPoll::Delayed | AfterPoll::Dequeued => {
                self.queue.block_current().expect("still running");
            }
            AfterPoll::Cancel => self.finish_cancelled(id, &task),
        }
    }

    fn finish_cancelled(&mut self, id: crate::sched::EntityId, task: &TaskRef) {
        task.cancel();
        task.header().state.to_complete();
        self.queue.remove(id).expect("a cancelled task is live");
    }

    /// Cancels every task: those in the inbox, then those on the run queue.
    pub(crate) fn shutdown(&mut self, shared: &Shared) {
        for message in shared.close() {
            let (Message::Submit(task) | Message::Rearm(task)) = message;
            if task.header().entity().is_none() {
                shutdown_task(&task);
            }
        }
        for task in self.queue.drain() {
            shutdown_task(&task);
        }
    }
}

/// Parks the calling thread until unparked (spurious returns are fine: the
/// caller re-checks).
pub(crate) fn park() {
    thread::park();
}
