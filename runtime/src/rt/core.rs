//! A worker's core: its EEVDF run queue and what it does between polls.
//!
//! Only the core's holder touches its run queue and the entity handles of
//! its tasks. A poll is split in two steps, [`Core::start_poll`] and
//! [`Core::finish_poll`], so a worker whose core sits behind a lock (the
//! multi-thread flavor, where idle workers steal) can release it while the
//! future runs.
//!
//! After a poll, the core decides with one CAS on the task's state word between
//! requeue (woken during the poll: a preemption), delayed (blocked while owing
//! service: stays queued, not runnable) and dequeued (blocked), and then tells
//! its run queue the same thing.

use std::task::Poll;
use std::time::{Duration, Instant};

use super::context::{self, PollContext};
use super::inbox::{Inbox, Message, shutdown_task};
use crate::sched::{Config, EntityId, Migrant, Pick, RunQueue};
use crate::task::core::TaskRef;
use crate::task::state::{AfterPoll, BlockKind, DelayedPick, ToRunning};

pub(crate) struct Core {
    queue: RunQueue<TaskRef>,
    /// The index this core's tasks record as their owner.
    index: usize,
}

/// A poll about to run, from [`Core::start_poll`].
pub(crate) struct Started {
    id: EntityId,
    pub(crate) task: TaskRef,
    pub(crate) start: Instant,
}

impl Core {
    pub(crate) fn new(config: Config, index: usize) -> Result<Core, crate::sched::Error> {
        Ok(Core {
            queue: RunQueue::new(config)?,
            index,
        })
    }

    /// Tasks queued and runnable (not delayed).
    pub(crate) fn nr_runnable(&self) -> usize {
        self.queue.nr_runnable()
    }

    /// Tasks queued, delayed ones included.
    pub(crate) fn nr_queued(&self) -> usize {
        self.queue.nr_queued()
    }

    /// Moves the inbox's messages onto the run queue.
    pub(crate) fn drain(&mut self, inbox: &Inbox) {
        for message in inbox.take() {
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
    pub(crate) fn admit(&mut self, task: TaskRef) {
        if task.header().entity().is_some() {
            self.wake_entity(&task);
        } else {
            let params = task.header().params;
            task.header().set_owner(self.index);
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

    /// Picks the next task and takes `RUNNING` on it; `None` when nothing is
    /// queued. Cancelled tasks are finished on the way. Publishes the poll's
    /// context for the task to read.
    pub(crate) fn start_poll(&mut self) -> Option<Started> {
        loop {
            let id = match self.queue.pick() {
                Pick::Idle => return None,
                Pick::Run(id) => id,
                Pick::Dequeued(id) => {
                    let task = self.queue.get(id).expect("a picked entity is live").clone();
                    if task.header().state.delayed_pick() == DelayedPick::Rearm {
                        // Woken while delayed: runnable again, at lag 0.
                        self.wake_entity(&task);
                    }
                    continue;
                }
            };
            let task = self.queue.get(id).expect("a picked entity is live").clone();
            if task.header().state.to_running() == ToRunning::Cancel {
                self.finish_cancelled(id, &task);
                continue;
            }
            let start = Instant::now();
            context::begin_poll(PollContext {
                start,
                budget: self.queue.current_budget().unwrap_or_default(),
                others: self.queue.nr_runnable() > 1,
                reweight: None,
            });
            return Some(Started { id, task, start });
        }
    }

    /// Charges the poll and files the task according to how it ended.
    pub(crate) fn finish_poll(&mut self, started: Started, result: Poll<()>, ran: Duration) {
        let Started { id, task, .. } = started;
        let ctx = context::end_poll();
        self.queue.charge(ran).expect("the polled task is running");
        if let Some(weight) = ctx.and_then(|c| c.reweight) {
            self.queue
                .reweight(id, weight)
                .expect("the polled task is live");
        }
        let state = &task.header().state;
        if result.is_ready() {
            // The poll completed the task (output stored, joiner woken).
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

    /// Runs the next task, if any; false when nothing is queued.
    pub(crate) fn run_one(&mut self) -> bool {
        let Some(started) = self.start_poll() else {
            return false;
        };
        let result = started.task.poll();
        let ran = started.start.elapsed();
        self.finish_poll(started, result, ran);
        true
    }

    fn finish_cancelled(&mut self, id: EntityId, task: &TaskRef) {
        task.cancel();
        self.queue.remove(id).expect("a cancelled task is live");
    }

    /// Gives up to `max` runnable tasks (eligible ones first, never delayed or
    /// running ones) for another worker to adopt; their lag travels with them.
    pub(crate) fn give(&mut self, max: usize) -> Vec<Migrant<TaskRef>> {
        self.queue
            .migratable(max)
            .into_iter()
            .map(|id| {
                self.queue
                    .migrate_out(id)
                    .expect("migratable entities can move")
            })
            .collect()
    }

    /// Adopts tasks given by another worker.
    pub(crate) fn adopt(&mut self, tasks: Vec<Migrant<TaskRef>>) {
        for migrant in tasks {
            let task = migrant.payload().clone();
            task.header().set_owner(self.index);
            let id = self.queue.migrate_in(migrant);
            task.header().set_entity(id);
        }
    }

    /// Cancels every task: those in the inbox, then those on the run queue.
    pub(crate) fn shutdown(&mut self, inbox: &Inbox) {
        for message in inbox.close() {
            if message.task().header().entity().is_none() {
                shutdown_task(message.task());
            }
        }
        for task in self.queue.drain() {
            shutdown_task(&task);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::sched::{EntityState, Params};
    use crate::task::core::{Nowhere, new_task};

    fn spawn_into(core: &mut Core) -> TaskRef {
        let (task, join) = new_task(
            std::future::pending::<()>(),
            Params::new(),
            None,
            Arc::new(Nowhere),
        );
        drop(join);
        core.admit(task.clone());
        task
    }

    fn lag_of(core: &Core, t: &TaskRef) -> (EntityState, i64) {
        let info = core.queue.info(t.header().entity().unwrap()).unwrap();
        (info.state, info.lag_ns)
    }

    #[test]
    fn stealing_moves_runnable_tasks_with_their_lag() {
        let mut a = Core::new(Config::new().run_to_parity(false), 0).unwrap();
        let mut b = Core::new(Config::new(), 1).unwrap();
        let tasks: Vec<TaskRef> = (0..4).map(|_| spawn_into(&mut a)).collect();
        // One task runs 300 µs and stays running; the others are owed service.
        let started = a.start_poll().expect("a task to run");
        let running = started.task.clone();
        a.queue.charge(Duration::from_micros(300)).unwrap();
        let before: Vec<i64> = tasks
            .iter()
            .filter(|t| t.header().id != running.header().id)
            .map(|t| lag_of(&a, t).1)
            .collect();
        assert!(
            before.iter().all(|&l| l > 0),
            "waiting tasks are owed service: {before:?}"
        );
        // B has a resident task, so lag has a reference there.
        let _resident = spawn_into(&mut b);
        let given = a.give(a.nr_runnable() / 2);
        assert_eq!(given.len(), 2, "about half of the 4 runnable tasks");
        // The first leaves with the lag observed above. (Removing a task that
        // is owed service shifts the average, so the next leaves owed a little
        // more: each carries its lag at departure.)
        assert!(before.contains(&given[0].lag_ns()));
        // Each arrives with the lag it left with, relative to B's average. A
        // later arrival shifts B's average for everyone queued, so each is
        // checked as it lands.
        for migrant in given {
            let task = migrant.payload().clone();
            assert_ne!(
                task.header().id,
                running.header().id,
                "the running task never moves"
            );
            let lag = migrant.lag_ns();
            assert!(lag > 0, "a task owed service was given, not {lag}");
            b.adopt(vec![migrant]);
            assert_eq!(task.header().owner(), 1);
            let (state, now) = lag_of(&b, &task);
            assert_eq!(state, EntityState::Runnable);
            assert!(
                (now - lag).abs() <= 2,
                "lag {now} after adoption, {lag} before"
            );
        }
        assert_eq!(b.nr_runnable(), 3);
        drop(started);
    }

    #[test]
    fn delayed_tasks_are_never_given_away() {
        let mut a = Core::new(Config::new(), 0).unwrap();
        let _tasks: Vec<TaskRef> = (0..3).map(|_| spawn_into(&mut a)).collect();
        // Run one task well past its fair share, then let it block: delayed.
        let started = a.start_poll().unwrap();
        let delayed = started.task.clone();
        a.finish_poll(started, Poll::Pending, Duration::from_millis(5));
        assert!(delayed.header().state.load().is_delayed());
        let given = a.give(10);
        assert_eq!(given.len(), 2);
        assert!(
            given
                .iter()
                .all(|m| m.payload().header().id != delayed.header().id)
        );
    }
}
