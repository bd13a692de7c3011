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
//!
//! # Switch hooks and notifiers
//!
//! Switch-in calls run after the pick took `RUNNING`, before the poll.
//! Switch-out calls run after the post-poll CAS, with the [`SwitchReason`]
//! derived from that CAS's outcome and a [`TaskInfo`] built from the value it
//! wrote, never from a later load; the task's notifier list is snapshotted
//! before the CAS gives `RUNNING` up. Both run while the core is held, so the
//! task cannot be picked (or stolen) and polled again before its switch-out
//! calls are done. With no hook and no notifier, each side costs one branch.

use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::context::{self, PollContext};
use super::hooks::Hooks;
use super::inbox::{Inbox, Message, shutdown_task};
use super::metrics::WorkerStats;
use crate::clock;
use crate::sched::{Config, EntityId, Migrant, Pick, RunQueue};
use crate::task::core::{JoinWake, TaskRef};
use crate::task::state::{AfterPoll, BlockKind, DelayedPick, Snapshot, ToRunning};
use crate::task::{SwitchReason, TaskInfo};

/// How many messages' worth of room a core keeps between turns.
const KEPT: usize = 1024;

pub(crate) struct Core {
    queue: RunQueue<TaskRef>,
    /// The index this core's tasks record as their owner.
    index: usize,
    /// Counters published for `Handle::metrics`.
    stats: Arc<WorkerStats>,
    /// The runtime's hooks, if it has switch hooks.
    hooks: Option<Arc<Hooks>>,
    /// Wakes taken from this thread's local list or from the inbox, being
    /// filed (kept to reuse the allocation; see [`KEPT`]).
    local: Vec<Message>,
    /// When the previous poll ended, if the worker went straight on to the
    /// next one: that poll starts then, so back-to-back polls read the clock
    /// once each (the scheduler's work between them is charged to the next).
    resume: Option<u64>,
}

/// A poll about to run, from [`Core::start_poll`].
pub(crate) struct Started {
    id: EntityId,
    /// The run queue's own reference to the task, borrowed for the poll
    /// without touching the count (two atomic operations per poll saved).
    /// Sound because the queue keeps that reference until
    /// [`Core::finish_poll`]: only the worker that polls a running entity
    /// removes it (stealers and `drain_and_give` take runnable entities
    /// only, and a worker shuts its core down itself, between polls), and
    /// `finish_poll` keeps what it removes alive until it is done.
    task: ManuallyDrop<TaskRef>,
    /// When the poll started, on the scheduler's [`clock`].
    pub(crate) start: u64,
}

impl Started {
    /// The task being polled.
    pub(crate) fn task(&self) -> &TaskRef {
        &self.task
    }

    /// Reads the clock at the poll's end: how long it ran, to charge it, and
    /// when it ended. Under loom every poll counts 1 ms: the models must make
    /// the same scheduling decisions on every replay of an interleaving, so no
    /// real clock may steer them.
    pub(crate) fn stop(&self) -> (Duration, u64) {
        let end = clock::now();
        if cfg!(loom) {
            (Duration::from_millis(1), end)
        } else {
            (Duration::from_nanos(end.saturating_sub(self.start)), end)
        }
    }
}

impl Core {
    pub(crate) fn new(config: Config, index: usize) -> Result<Core, crate::sched::Error> {
        Ok(Core {
            queue: RunQueue::new(config)?,
            index,
            stats: Arc::default(),
            hooks: None,
            local: Vec::new(),
            resume: None,
        })
    }

    /// Installs the runtime's hooks (kept only if it has switch hooks, so
    /// that a poll without them pays one branch).
    pub(crate) fn set_hooks(&mut self, hooks: &Arc<Hooks>) {
        self.hooks = hooks.has_switch_hooks().then(|| hooks.clone());
    }

    /// The counters this core publishes.
    pub(crate) fn stats(&self) -> &Arc<WorkerStats> {
        &self.stats
    }

    /// Tasks queued and runnable (not delayed).
    pub(crate) fn nr_runnable(&self) -> usize {
        self.queue.nr_runnable()
    }

    /// Tasks queued, delayed ones included.
    pub(crate) fn nr_queued(&self) -> usize {
        self.queue.nr_queued()
    }

    /// Publishes the worker's counts and virtual time; returns the latter.
    fn publish(&self) -> u64 {
        let avg = self.queue.avg_vruntime();
        self.stats
            .publish(self.queue.nr_queued(), self.queue.nr_runnable(), avg);
        avg
    }

    /// Records the run queue's view of a task in its schedstats.
    fn publish_task(&self, id: EntityId, task: &TaskRef) {
        self.publish_task_at(id, task, self.queue.avg_vruntime());
    }

    /// Same, with the queue's virtual time already at hand.
    fn publish_task_at(&self, id: EntityId, task: &TaskRef, avg: u64) {
        if let Some(view) = self.queue.stats_of(id, avg) {
            task.header().publish(view);
        }
    }

    /// Moves the inbox's messages onto the run queue.
    pub(crate) fn drain(&mut self, inbox: &Inbox) {
        if inbox.has_messages() {
            let mut messages = std::mem::take(&mut self.local);
            inbox.take_into(&mut messages);
            self.file_messages(messages.drain(..));
            self.keep(messages);
        }
    }

    /// Keeps `buffer` (empty) for the next messages, unless a burst grew it
    /// past [`KEPT`].
    fn keep(&mut self, buffer: Vec<Message>) {
        debug_assert!(buffer.is_empty());
        if buffer.capacity() <= KEPT {
            self.local = buffer;
        }
    }

    /// Moves the inbox's messages, and the wakes kept on the calling thread
    /// if it is this core's worker of the runtime at address `runtime` (see
    /// [`context::push_local`]), onto the run queue: for the thread that
    /// drives this core, at each turn.
    pub(crate) fn drain_own(&mut self, inbox: &Inbox, runtime: usize) {
        self.drain(inbox);
        let mut local = std::mem::take(&mut self.local);
        context::take_local(runtime, self.index, &mut local);
        self.file_messages(local.drain(..));
        self.keep(local);
    }

    /// Moves the inbox's messages onto the run queue, as [`drain`](Self::drain)
    /// does, then gives the tasks they made runnable (fresh spawns and wakes
    /// of tasks that had left the queue; not delayed tasks re-armed in place,
    /// which never migrate) to another worker, with their lag: for a worker
    /// that takes the wakes its owner, stuck in a long poll, cannot.
    pub(crate) fn drain_and_give(&mut self, inbox: &Inbox) -> Vec<Migrant<TaskRef>> {
        let messages = inbox.take();
        let entered: Vec<TaskRef> = messages
            .iter()
            .filter_map(|m| match m {
                Message::Submit(task) => Some(task.clone()),
                Message::Rearm(_) => None,
            })
            .collect();
        self.file_messages(messages);
        // Refused only for an entity that cannot move (not runnable).
        let given: Vec<_> = entered
            .iter()
            .filter_map(|task| task.header().entity())
            .filter_map(|id| self.queue.migrate_out(id).ok())
            .collect();
        if !given.is_empty() {
            self.publish();
        }
        given
    }

    /// Files each message (a spawn or a wake, as of one clock read), then
    /// publishes the queue's counters; nothing at all when there are none.
    fn file_messages(&mut self, messages: impl IntoIterator<Item = Message>) {
        let mut messages = messages.into_iter().peekable();
        if messages.peek().is_none() {
            return;
        }
        let now = clock::now();
        for message in messages {
            self.file_message(message, now);
        }
        self.publish();
    }

    fn file_message(&mut self, message: Message, now: u64) {
        match message {
            Message::Submit(task) => self.admit(task, now),
            Message::Rearm(task) => {
                if task.header().state.rearm() {
                    self.wake_entity(&task, now);
                }
            }
        }
    }

    /// A new entry: a first spawn, or the wake of a task that left the queue.
    /// `now` is the time it became runnable, on the scheduler's [`clock`].
    pub(crate) fn admit(&mut self, task: TaskRef, now: u64) {
        if task.header().entity().is_some() {
            self.wake_entity(&task, now);
        } else {
            let header = task.header();
            let params = header.params;
            header.set_owner(self.index);
            header.stats.runnable_at(now);
            // The message's reference becomes the queue's: no count traffic.
            let id = self.queue.enqueue_new(params, task);
            let task = self.queue.get(id).expect("just queued");
            task.header().set_entity(id);
            self.publish_task(id, task);
        }
    }

    fn wake_entity(&mut self, task: &TaskRef, now: u64) {
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
        task.header().stats.runnable_at(now);
        self.publish_task(id, task);
    }

    /// Picks the next task and takes `RUNNING` on it; `None` when nothing is
    /// queued. Cancelled tasks are finished on the way. Runs the switch-in
    /// hooks and notifiers, then publishes the poll's context for the task
    /// to read.
    pub(crate) fn start_poll(&mut self) -> Option<Started> {
        let mut resume = self.resume.take();
        loop {
            let id = match self.queue.pick() {
                Pick::Idle => return None,
                Pick::Run(id) => id,
                Pick::Dequeued(id) => {
                    let task = self.queue.get(id).expect("a picked entity is live").clone();
                    if task.header().state.delayed_pick() == DelayedPick::Rearm {
                        // Woken while delayed: runnable again, at lag 0.
                        self.wake_entity(&task, clock::now());
                    } else {
                        self.publish_task(id, &task);
                    }
                    continue;
                }
            };
            let queued: *const TaskRef = self.queue.get(id).expect("a picked entity is live");
            // SAFETY: a bitwise copy of the queue's reference, never dropped
            // (so the count stays as it is), used only while the queue holds
            // the original: see `Started::task`.
            let task = ManuallyDrop::new(unsafe { ptr::read(queued) });
            if task.header().state.to_running() == ToRunning::Cancel {
                let task = TaskRef::clone(&task);
                drop(self.finish_cancelled(id, &task));
                continue;
            }
            let header = task.header();
            let mut start = resume.take().unwrap_or_else(clock::now);
            header.stats.poll_starts(start);
            self.stats.polled();
            // SAFETY: `to_running` gave this thread `RUNNING`.
            let notifiers = !unsafe { header.notifiers.is_empty() };
            if self.hooks.is_some() || notifiers {
                if let Some(hooks) = &self.hooks {
                    hooks.switch_in(&header.info(), self.index);
                }
                if notifiers {
                    // SAFETY: as above.
                    unsafe { header.notifiers.sched_in(self.index) };
                }
                // The callbacks' time is not the task's.
                start = clock::now();
            }
            context::begin_poll(PollContext {
                task: NonNull::from(header),
                start,
                budget: self.queue.current_budget().unwrap_or_default(),
                others: self.queue.nr_runnable() > 1,
                reweight: None,
                preempted: false,
                woken: false,
            });
            return Some(Started { id, task, start });
        }
    }

    /// Charges the poll, files the task according to how it ended, and runs
    /// the switch-out hooks and notifiers.
    ///
    /// A completed task's `JoinHandle` is woken last (when `result`, holding
    /// the pending wake, drops), so a joiner finds the switch-out calls done.
    pub(crate) fn finish_poll(&mut self, started: Started, result: Poll<JoinWake>, ran: Duration) {
        let Started { id, task, start } = started;
        let task: &TaskRef = &task;
        let ctx = context::end_poll();
        let charge = self.queue.charge(ran).expect("the polled task is running");
        if let Some(weight) = ctx.and_then(|c| c.reweight) {
            self.queue
                .reweight(id, weight)
                .expect("the polled task is live");
        }
        let header = task.header();
        // Taken while this thread still holds `RUNNING` (the CAS below may
        // give it up): the notifiers registered at any point of the poll.
        // SAFETY: this thread took `RUNNING` in `start_poll`.
        let notifiers = if unsafe { header.notifiers.is_empty() } {
            None
        } else {
            // SAFETY: as above.
            unsafe { header.notifiers.pending() }
        };
        if result.is_ready() {
            // The poll completed the task (output stored; its joiner is
            // woken when `result` drops, after the switch-out calls).
            // Held to the end: `task` borrows this reference.
            let owned = self.queue.remove(id).expect("a finished task is live");
            header.stats.poll_ends(ran, SwitchReason::Completed);
            self.publish();
            self.switched_out(task, None, SwitchReason::Completed, notifiers);
            drop(result);
            drop(owned);
            return;
        }
        let block = if self.queue.would_delay() {
            BlockKind::Delay
        } else {
            BlockKind::Dequeue
        };
        let woken = ctx.is_some_and(|c| c.woken);
        let (fate, now) = header.state.after_poll(block, woken);
        let mut join_wake = None;
        // What a cancellation removes from the queue, held to the end:
        // `task` borrows this reference.
        let mut owned = None;
        let reason = match fate {
            AfterPoll::Requeue => {
                self.queue.yield_to_others().expect("still running");
                header.stats.runnable_at(start + ran.as_nanos() as u64);
                if charge.renewed || ctx.is_some_and(|c| c.preempted) {
                    SwitchReason::Preempted
                } else {
                    SwitchReason::Yielded
                }
            }
            AfterPoll::Delayed | AfterPoll::Dequeued => {
                self.queue.block_current().expect("still running");
                SwitchReason::Blocked
            }
            AfterPoll::Cancel => {
                let task = TaskRef::clone(task);
                join_wake = Some(self.finish_cancelled(id, &task));
                owned = Some(task);
                SwitchReason::Completed
            }
        };
        header.stats.poll_ends(ran, reason);
        let avg = self.publish();
        if reason != SwitchReason::Completed {
            self.publish_task_at(id, task, avg);
        }
        // A cancelled task's state changed after the CAS (it completed): its
        // final state is the one to show.
        let now = (fate != AfterPoll::Cancel).then_some(now);
        self.switched_out(task, now, reason, notifiers);
        drop(join_wake);
        drop(owned);
    }

    /// Tells the switch-out hook and the notifiers. `state` is the value the
    /// post-poll CAS wrote, or `None` for a finished task (final state).
    fn switched_out(
        &self,
        task: &TaskRef,
        state: Option<Snapshot>,
        reason: SwitchReason,
        notifiers: Option<crate::task::notifier::Pending>,
    ) {
        if let Some(hooks) = &self.hooks {
            let header = task.header();
            let info: TaskInfo = match state {
                Some(state) => header.info_with(state),
                None => header.info(),
            };
            hooks.switch_out(&info, reason);
        }
        if let Some(notifiers) = notifiers {
            notifiers.sched_out(reason);
        }
    }

    /// The previous poll ended at `end` and the worker goes straight on to
    /// the next: it starts then, without another clock read.
    pub(crate) fn resume_at(&mut self, end: u64) {
        self.resume = Some(end);
    }

    /// Something other than a task ran since the last poll: the next poll
    /// reads the clock.
    pub(crate) fn forget_resume(&mut self) {
        self.resume = None;
    }

    /// Runs the next task, if any; false when nothing is queued.
    pub(crate) fn run_one(&mut self) -> bool {
        let Some(started) = self.start_poll() else {
            return false;
        };
        let result = started.task().poll();
        let (ran, end) = started.stop();
        self.finish_poll(started, result, ran);
        self.resume_at(end);
        true
    }

    fn finish_cancelled(&mut self, id: EntityId, task: &TaskRef) -> JoinWake {
        let join_wake = task.cancel();
        self.queue.remove(id).expect("a cancelled task is live");
        join_wake
    }

    /// Gives up to `max` runnable tasks (eligible ones first, never delayed or
    /// running ones) for another worker to adopt; their lag travels with them.
    pub(crate) fn give(&mut self, max: usize) -> Vec<Migrant<TaskRef>> {
        let given = self
            .queue
            .migratable(max)
            .into_iter()
            .map(|id| {
                self.queue
                    .migrate_out(id)
                    .expect("migratable entities can move")
            })
            .collect();
        self.publish();
        given
    }

    /// Admits fresh spawns taken from another worker's inbox (at `now`),
    /// counting them as stolen.
    pub(crate) fn adopt_spawns(&mut self, spawns: Vec<TaskRef>, now: u64) {
        self.stats.stole(spawns.len());
        for task in spawns {
            self.admit(task, now);
        }
    }

    /// Adopts tasks given by another worker.
    pub(crate) fn adopt(&mut self, tasks: Vec<Migrant<TaskRef>>) {
        self.stats.stole(tasks.len());
        for migrant in tasks {
            let task = migrant.payload().clone();
            task.header().set_owner(self.index);
            let id = self.queue.migrate_in(migrant);
            task.header().set_entity(id);
            self.publish_task(id, &task);
        }
        self.publish();
    }

    /// Cancels every task: those in the inbox, then those on the run queue.
    /// (The driving thread files its local wakes first, with
    /// [`drain_own`](Self::drain_own).)
    pub(crate) fn shutdown(&mut self, inbox: &Inbox) {
        for message in inbox.close() {
            if message.task().header().entity().is_none() {
                shutdown_task(message.task());
            }
        }
        for task in self.queue.drain() {
            shutdown_task(&task);
        }
        self.publish();
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
            crate::task::core::sched_ref(Arc::new(Nowhere)),
        );
        drop(join);
        core.admit(task.clone(), 0);
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
        let running = started.task().clone();
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
    }

    #[test]
    fn delayed_tasks_are_never_given_away() {
        let mut a = Core::new(Config::new(), 0).unwrap();
        let _tasks: Vec<TaskRef> = (0..3).map(|_| spawn_into(&mut a)).collect();
        // Run one task well past its fair share, then let it block: delayed.
        let started = a.start_poll().unwrap();
        let delayed = started.task().clone();
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
