//! The multi-thread flavor: `N` worker threads, each with its own core (EEVDF
//! run queue) behind a lock (a spin lock: see `loom::spin`).
//!
//! # Protocol
//!
//! 1. A worker holds its core's lock only between polls: to drain its inbox,
//!    pick, and file the task after the poll. The future itself runs unlocked.
//! 2. Spawns from outside go to a parked worker if any, else round-robin,
//!    through the workers' inboxes; a worker's own spawns go to its inbox and
//!    unpark a parked worker, which takes them if the spawner is still busy.
//!    Wakes go to the inbox of the task's owner (recorded in its header),
//!    where its entity lives.
//! 3. A worker with nothing to run first takes fresh spawns waiting in other
//!    workers' inboxes (not yet on any run queue, so anyone may adopt them),
//!    then steals about half of the runnable tasks of another worker (the
//!    busiest first), eligible ones first, never delayed or running ones. It
//!    locks the victim's core, drains the victim's inbox onto it (the wakes of
//!    a worker stuck in a long poll would otherwise wait for that poll to
//!    end), takes the tasks out with their lag, unlocks, then adopts them
//!    under its own lock: never two locks at once.
//!    A busy worker, between two polls, also takes what waits in the inbox
//!    of a worker whose current poll has run over 50 µs (wakes and spawns
//!    that would otherwise wait for that poll to end), the same way: under
//!    the victim's lock, then adopted under its own.
//! 4. A worker that finds nothing to run or steal parks, until the next
//!    timer's deadline if there is one. It is unparked by a message in its
//!    inbox, by a timer that became the earliest, or by a busy worker that has
//!    runnable tasks to spare or spawned a task (checked at each turn; only
//!    one such wake is in flight at a time, see `Shared::notify_idle`).
//!    Parking rechecks the inboxes, the spare tasks and the next deadline
//!    after announcing itself, and unparks are tokens, so no wake is lost.
//! 5. Shutdown: the flag is set and every worker unparked. Each worker, at its
//!    next loop turn, cancels everything on its core and closes its inbox
//!    (later messages cancel their task themselves), then exits.

use std::task::Poll;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Handle;
use super::context;
use super::core::{Core, Started};
use super::inbox::{Inbox, Message};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::Arc;

use super::hooks::Hooks;
use super::metrics::{RuntimeMetrics, WorkerStats};
use super::registry::Registry;
use crate::loom::sync::{SpinMutex, spin_lock};
use crate::loom::thread;
use crate::sched::Migrant;
use crate::task::core::{Header, JoinWake, Schedule, TaskRef};
use crate::time::driver::Driver;

/// A poll that ran and is not filed yet (see [`Shared::run_turns`]); how
/// long it ran and when it ended travel beside it.
type Polled = (Started, Poll<JoinWake>);

/// Charges a poll that ran `ran` and ended at `end`, files its task, then
/// lets the next poll start when this one ended.
fn file_poll(core: &mut Core, (started, result): Polled, ran: Duration, end: u64) {
    core.finish_poll(started, result, ran);
    core.resume_at(end);
}

/// How long a worker's current poll must have run before a busy worker takes
/// the wakes waiting in its inbox (see [`Shared::take_stranded`]), in
/// nanoseconds: longer than a typical poll, so that tasks stay with their
/// worker unless it is truly stuck.
const STRANDED_NS: u64 = 50_000;

/// The longest a watching parked worker sleeps between looks (see
/// [`Shared::park_worker`]): its watch starts at [`STRANDED_NS`] and doubles
/// at each look that finds nothing, up to this.
const WATCH_MAX_NS: u64 = 32 * STRANDED_NS;

/// `watcher` when no parked worker watches.
const NO_WATCHER: usize = usize::MAX;

/// A value alone on its 128 bytes (two cache lines, as adjacent-line
/// prefetchers pair them), so that writes to its neighbours never evict it
/// from another core's cache, and its own writes never evict them.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// One worker's shared parts, laid out by who writes them: the inbox (pushed
/// to by every other thread) on lines of its own, apart from the core's lock
/// and the counters that the owner writes at every turn; and each worker
/// apart from its neighbour (a shared line would bounce between the cores at
/// every turn).
#[repr(align(128))]
struct Worker {
    inbox: Padded<Inbox>,
    core: SpinMutex<Core>,
    /// The core's published counters, readable without its lock.
    stats: Arc<WorkerStats>,
    /// Runnable tasks on this worker, published for would-be stealers.
    runnable: AtomicUsize,
    /// Set by [`Shared::notify_idle`] when it unparks this worker; cleared by
    /// the worker once it runs.
    woken: AtomicBool,
    /// When the worker's current poll started (scheduler clock), or 0 when it
    /// is not polling: how other workers tell a worker stuck in a long poll.
    /// On lines of its own: others read it while the owner works its lock.
    polling_since: Padded<AtomicU64>,
    /// When this worker next looks for stranded work (its own; see
    /// [`Shared::take_stranded`]).
    #[cfg_attr(loom, allow(dead_code))]
    next_stranded_check: AtomicU64,
}

/// What every task of a multi-thread runtime can reach.
pub(crate) struct Shared {
    workers: Box<[Worker]>,
    pub(crate) driver: Arc<Driver>,
    /// Round-robin cursor for spawns.
    next: AtomicUsize,
    /// 1 while a worker unparked by [`notify_idle`](Self::notify_idle) has
    /// not run yet: a thread takes microseconds to wake, and meanwhile further
    /// calls wake nobody else (each wake is a system call, and a chain of
    /// spawns would otherwise pay one per spawn).
    waking: Padded<AtomicUsize>,
    /// How many workers are parked or about to park: while none is, a busy
    /// worker's check for an idle one to wake is one load of this line, which
    /// changes only when workers park and unpark.
    parked: Padded<AtomicUsize>,
    /// The parked worker that sleeps with a short timeout to look for work
    /// stranded behind another worker's long poll, or `NO_WATCHER`.
    watcher: AtomicUsize,
    shutdown: AtomicBool,
    pub(crate) hooks: Arc<Hooks>,
    pub(crate) registry: Registry,
}

impl Shared {
    pub(crate) fn new(cores: Vec<Core>, hooks: Arc<Hooks>) -> Arc<Shared> {
        Arc::new_cyclic(|me: &std::sync::Weak<Shared>| {
            let me = me.clone();
            Shared::with_driver(
                cores,
                hooks,
                Arc::new(Driver::new(Box::new(move || {
                    if let Some(shared) = me.upgrade() {
                        // The new deadline is published; a worker that
                        // announced its park before this fence is seen
                        // parked below, one that announces it after reads
                        // the deadline (see `Inbox::park`).
                        fence(Ordering::SeqCst);
                        shared.wake_for_timer();
                    }
                }))),
            )
        })
    }

    fn with_driver(cores: Vec<Core>, hooks: Arc<Hooks>, driver: Arc<Driver>) -> Shared {
        Shared {
            driver,
            registry: Registry::new(cores.len()),
            workers: cores
                .into_iter()
                .map(|mut core| {
                    core.set_hooks(&hooks);
                    Worker {
                        inbox: Padded(Inbox::new()),
                        stats: core.stats().clone(),
                        core: SpinMutex::new(core),
                        runnable: AtomicUsize::new(0),
                        woken: AtomicBool::new(false),
                        polling_since: Padded(AtomicU64::new(0)),
                        next_stranded_check: AtomicU64::new(0),
                    }
                })
                .collect(),
            next: AtomicUsize::new(0),
            parked: Padded(AtomicUsize::new(0)),
            watcher: AtomicUsize::new(NO_WATCHER),
            waking: Padded(AtomicUsize::new(0)),
            shutdown: AtomicBool::new(false),
            hooks,
        }
    }

    /// Every worker's counters and the live tasks.
    pub(crate) fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.workers.iter().map(|w| &*w.stats), self.registry.live())
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers.len()
    }

    /// A first entry for a new task. Spawned by one of this runtime's workers,
    /// it goes to that worker's inbox (a chain of spawns or a message exchange
    /// runs best there). The only spawn waiting there is the spawner's to run
    /// when its poll ends, so a chain of spawns wakes nobody; should the poll
    /// run long instead, the watching parked worker takes it (see
    /// [`park_worker`](Self::park_worker)), and with none watching, a parked
    /// worker is unparked (it takes the spawn if the spawner is still busy
    /// when it looks, and parks again, watching). A second spawn waiting is
    /// spare work: a parked worker is unparked for it at once. From any other
    /// thread a spawn goes to a parked worker if there is one, otherwise to
    /// the next worker in turn.
    pub(crate) fn spawn(&self, task: TaskRef) {
        if let Some((runtime, me)) = context::worker() {
            if runtime == self as *const Shared as usize {
                let alone = self.workers[me].inbox.push_own(Message::Submit(task));
                if !alone || self.watcher.load(Ordering::SeqCst) == NO_WATCHER {
                    self.notify_idle(me);
                }
                return;
            }
        }
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let parked = (0..n)
            .map(|i| (start + i) % n)
            .find(|&w| self.workers[w].inbox.is_parked());
        let target = parked.unwrap_or(start % n);
        self.workers[target].inbox.push(Message::Submit(task));
        if parked.is_none() {
            // Every worker looked busy; one may have parked since. It rechecks
            // for spawns after announcing itself, and we check after pushing,
            // so one of the two sees the other.
            self.notify_idle(target);
        }
    }

    /// Unparks one parked worker other than `from`, so that it steals.
    ///
    /// While a worker woken by an earlier call has not run yet (`waking`),
    /// this wakes nobody: a thread takes microseconds to wake, and a chain of
    /// spawns would otherwise pay a system call per spawn. That worker, once
    /// running, steals or rechecks every worker's spare tasks and inbox before
    /// it parks again.
    ///
    /// A worker that parks just as this reads "none parked" has checked, after
    /// announcing its park, every worker's spare tasks and inbox; and a busy
    /// worker with tasks to spare calls this again at its next turn. (That
    /// busy worker publishes its count with a relaxed store and unlocks its
    /// core with a release store before this reads the parked count; should
    /// the read be ordered before them, the spare tasks would wait for its
    /// next turn, not be lost.)
    fn notify_idle(&self, from: usize) {
        if self.parked.load(Ordering::SeqCst) == 0 {
            return;
        }
        if self
            .waking
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return; // a woken worker has not run yet; see above
        }
        for (i, w) in self.workers.iter().enumerate() {
            if i != from && w.inbox.is_parked() {
                w.woken.store(true, Ordering::SeqCst);
                w.inbox.unpark();
                // It may have left its park on its own just before we set
                // `woken`, and checked it already: then whichever of us takes
                // the flag back opens the gate (exactly one swap sees `true`).
                // The fences, here and in `park_worker`, order each side's
                // write before its read of the other's flag.
                fence(Ordering::SeqCst);
                if !w.inbox.is_parked() && w.woken.swap(false, Ordering::SeqCst) {
                    self.waking.store(0, Ordering::SeqCst);
                }
                return;
            }
        }
        self.waking.store(0, Ordering::SeqCst);
    }

    /// Unparks one parked worker, whatever `waking` says: for a timer that
    /// became the earliest, which a worker parked with a later timeout (or
    /// none) must come back for.
    fn wake_for_timer(&self) {
        if self.parked.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(w) = self.workers.iter().find(|w| w.inbox.is_parked()) {
            w.inbox.unpark();
        }
    }

    /// Worker `index` is running: if [`notify_idle`](Self::notify_idle) woke
    /// it, the next call may wake another.
    fn awake(&self, index: usize) {
        let me = &self.workers[index];
        if me.woken.load(Ordering::SeqCst) && me.woken.swap(false, Ordering::SeqCst) {
            self.waking.store(0, Ordering::SeqCst);
        }
    }

    /// Busy worker `me`, between two polls (at `now`), takes the wakes and
    /// spawns waiting in the inbox of any worker whose current poll has run
    /// longer than [`STRANDED_NS`]: they would wait for that poll to end,
    /// while `me` is about to pick. Cheap when nothing waits: one look at
    /// each inbox. Called at most every half [`STRANDED_NS`] per worker.
    #[cfg(not(loom))]
    fn take_stranded(&self, me: usize, now: u64) {
        for (v, w) in self.workers.iter().enumerate() {
            if v == me || !w.inbox.has_messages() {
                continue;
            }
            let since = w.polling_since.load(Ordering::Relaxed);
            if since != 0 && now.saturating_sub(since) >= STRANDED_NS {
                self.take_woken(me, v);
            }
        }
    }

    /// Worker `me` takes what waits in worker `victim`'s inbox: fresh spawns
    /// directly (they are on no run queue yet), and wakes through the
    /// victim's core, which files them (under the victim's lock, as its
    /// owner would) and gives the tasks they made runnable, for `me` to adopt
    /// with their lag. Never two locks at once. False if nothing was taken.
    pub(crate) fn take_woken(&self, me: usize, victim: usize) -> bool {
        let w = &self.workers[victim];
        let spawns = w.inbox.take_spawns();
        let taken = if w.inbox.has_messages() {
            let mut core = spin_lock(&w.core);
            let taken = core.drain_and_give(&w.inbox);
            w.runnable.store(core.nr_runnable(), Ordering::Relaxed);
            taken
        } else {
            Vec::new()
        };
        if spawns.is_empty() && taken.is_empty() {
            return false;
        }
        let mut core = spin_lock(&self.workers[me].core);
        if !spawns.is_empty() {
            core.adopt_spawns(spawns, crate::clock::now());
        }
        if !taken.is_empty() {
            core.adopt(taken);
        }
        self.workers[me]
            .runnable
            .store(core.nr_runnable(), Ordering::Relaxed);
        true
    }

    /// Worker `me` adopts tasks taken from another worker, under its own lock.
    fn adopt(&self, me: usize, taken: Vec<Migrant<TaskRef>>) {
        let mut core = spin_lock(&self.workers[me].core);
        core.adopt(taken);
        self.workers[me]
            .runnable
            .store(core.nr_runnable(), Ordering::Relaxed);
    }

    /// Takes work for idle worker `me`: first fresh spawns waiting in other
    /// workers' inboxes (a busy worker may be inside a long poll), then about
    /// half of the busiest other worker's runnable tasks. False if there was
    /// nothing to take.
    pub(crate) fn steal_into(&self, me: usize) -> bool {
        let now = crate::clock::now();
        for (v, w) in self.workers.iter().enumerate() {
            if v == me || !self.inbox_to_spare(w, now) {
                continue;
            }
            let mut spawns = w.inbox.take_spawns();
            if !spawns.is_empty() {
                // Half for each: unless its poll is stuck, the later half
                // goes back to its worker, which files it at its next turn
                // (taking all would leave that worker idle, to steal half
                // back by migration).
                let since = w.polling_since.load(Ordering::Relaxed);
                let back = if since != 0 && now.saturating_sub(since) < STRANDED_NS {
                    spawns.split_off(spawns.len().div_ceil(2))
                } else {
                    Vec::new()
                };
                for task in back {
                    w.inbox.push(Message::Submit(task));
                }
                let mut core = spin_lock(&self.workers[me].core);
                core.adopt_spawns(spawns, now);
                self.workers[me]
                    .runnable
                    .store(core.nr_runnable(), Ordering::Relaxed);
                return true;
            }
        }
        self.steal_runnable(me, now)
    }

    /// Steals about half of another worker's runnable tasks into worker
    /// `me`'s core, with their lag; false if there was nothing to take.
    ///
    /// Victims are tried busiest first. A victim's inbox is drained onto its
    /// core first (under its lock, as its owner would): a worker inside a long
    /// poll cannot take the wakes of its own tasks, and they would otherwise
    /// wait for that poll to end.
    fn steal_runnable(&self, me: usize, now: u64) -> bool {
        let mut victims: Vec<usize> = (0..self.workers.len()).filter(|&v| v != me).collect();
        victims
            .sort_by_key(|&v| std::cmp::Reverse(self.workers[v].runnable.load(Ordering::Relaxed)));
        for victim in victims {
            let w = &self.workers[victim];
            let waiting = self.inbox_to_spare(w, now);
            // One runnable task is the one it is running (or about to).
            if !waiting && w.runnable.load(Ordering::Relaxed) < 2 {
                continue;
            }
            let taken = {
                let mut core = spin_lock(&w.core);
                if waiting {
                    core.drain(&w.inbox);
                }
                let n = core.nr_runnable();
                let taken = if n >= 2 { core.give(n / 2) } else { Vec::new() };
                w.runnable.store(core.nr_runnable(), Ordering::Relaxed);
                taken
            };
            if taken.is_empty() {
                continue;
            }
            self.adopt(me, taken);
            return true;
        }
        false
    }

    /// One turn of worker `index`: takes its inbox, polls its next task and
    /// files it. False if it had nothing to run. (The loom models drive
    /// workers turn by turn with it.)
    #[cfg(loom)]
    pub(crate) fn run_once(&self, index: usize) -> bool {
        self.run_turns(index, || false)
    }

    /// Runs turns of worker `index` back to back. Each turn files the
    /// previous poll, takes the inbox and starts the next task, all under
    /// one lock of the core, then polls the task unlocked; between polls,
    /// `more` says whether to go on. The last poll is filed before this
    /// returns. False if the first turn had nothing to run. (One loop, so
    /// that a poll's record stays where it is from one turn to the next,
    /// with its times in scalars of their own: moving it in and out of a
    /// call per turn, or copying it whole right after its times were
    /// written, stalled on the copy.)
    pub(crate) fn run_turns(&self, index: usize, mut more: impl FnMut() -> bool) -> bool {
        let me = &self.workers[index];
        let mut prev: Option<Polled> = None;
        let (mut prev_ran, mut prev_end) = (Duration::ZERO, 0);
        loop {
            self.awake(index);
            // Between back-to-back polls, now and then (the previous poll's
            // end is the time: no clock read), look for work stranded
            // behind another worker's long poll.
            #[cfg(not(loom))]
            if prev.is_some() {
                let now = prev_end;
                if now >= me.next_stranded_check.load(Ordering::Relaxed) {
                    me.next_stranded_check
                        .store(now + STRANDED_NS / 2, Ordering::Relaxed);
                    self.take_stranded(index, now);
                }
            }
            let ran_before = prev.is_some();
            let (started, spare) = {
                let mut core = spin_lock(&me.core);
                if let Some(prev) = prev.take() {
                    file_poll(&mut core, prev, prev_ran, prev_end);
                }
                core.drain(&me.inbox);
                let started = core.start_poll();
                let runnable = core.nr_runnable();
                me.runnable.store(runnable, Ordering::Relaxed);
                (started, runnable > 1)
            };
            me.polling_since.store(
                started.as_ref().map_or(0, |s| s.start.max(1)),
                Ordering::Relaxed,
            );
            if spare {
                self.notify_idle(index);
            }
            let Some(started) = started else {
                return ran_before;
            };
            let result = started.task().poll();
            (prev_ran, prev_end) = started.stop();
            prev = Some((started, result));
            if !more() {
                if let Some(last) = prev.take() {
                    self.file(index, last, prev_ran, prev_end);
                }
                return true;
            }
        }
    }

    /// Files the last poll of [`run_turns`](Self::run_turns).
    fn file(&self, index: usize, polled: Polled, ran: Duration, end: u64) {
        let me = &self.workers[index];
        me.polling_since.store(0, Ordering::Relaxed);
        let spare = {
            let mut core = spin_lock(&me.core);
            file_poll(&mut core, polled, ran, end);
            let runnable = core.nr_runnable();
            me.runnable.store(runnable, Ordering::Relaxed);
            runnable > 1
        };
        if spare {
            self.notify_idle(index);
        }
    }

    /// Sends a spawn or wake to the task's owner, through its inbox (where a
    /// stealer finds it too if the owner is stuck in a long poll).
    fn deliver(&self, message: Message) {
        let owner = message.task().header().owner();
        let inbox = &self.workers[owner].inbox;
        if context::worker() == Some((self as *const Shared as usize, owner)) {
            inbox.push_own(message);
        } else {
            inbox.push(message);
        }
    }

    /// Whether worker `w`'s inbox holds work for another worker at `now`:
    /// see [`Inbox::to_spare`]; `w` is stuck once its current poll has run
    /// [`STRANDED_NS`]. (The loom models count any message.)
    fn inbox_to_spare(&self, w: &Worker, now: u64) -> bool {
        #[cfg(loom)]
        {
            let _ = now;
            w.inbox.has_messages()
        }
        #[cfg(not(loom))]
        {
            let since = w.polling_since.load(Ordering::Relaxed);
            w.inbox
                .to_spare(since != 0 && now.saturating_sub(since) >= STRANDED_NS)
        }
    }

    /// Cancels everything on worker `index` and closes its inbox.
    pub(crate) fn shutdown_worker(&self, index: usize) {
        let me = &self.workers[index];
        spin_lock(&me.core).shutdown(&me.inbox);
    }

    /// Parks worker `index` until a message, a spare task elsewhere,
    /// shutdown or the next timer's deadline calls it back (at once if one
    /// is already there).
    ///
    /// While another worker is inside a poll, one parked worker *watches*:
    /// it sleeps at most `watch_ns` and then looks for work stranded behind
    /// that poll (a spawn its spawner left for itself, wakes of its tasks),
    /// as busy workers do between their polls. The caller doubles `watch_ns`
    /// after each look that finds nothing, so a long poll costs a few
    /// wake-ups, not one every few microseconds.
    pub(crate) fn park_worker(&self, index: usize, watch_ns: u64) {
        let me = &self.workers[index];
        me.stats.parked();
        self.hooks.thread_park();
        self.parked.fetch_add(1, Ordering::SeqCst);
        me.inbox.park(
            || {
                let now = crate::clock::now();
                let work = self.shutdown.load(Ordering::SeqCst)
                    || spin_lock(&me.core).nr_queued() > 0
                    || self.workers.iter().any(|w| {
                        self.inbox_to_spare(w, now) || w.runnable.load(Ordering::Relaxed) > 1
                    });
                !work
            },
            // Read after the park is announced: a timer registered before
            // that is seen, one registered after sees this worker parked.
            || {
                let timer = self.driver.park_timeout();
                #[cfg(not(loom))]
                let timer = self.watch(index, watch_ns, timer);
                #[cfg(loom)]
                let _ = watch_ns;
                timer
            },
        );
        // The watch, if it was ours, ends: the next worker to park takes it.
        let _ =
            self.watcher
                .compare_exchange(index, NO_WATCHER, Ordering::SeqCst, Ordering::Relaxed);
        self.parked.fetch_sub(1, Ordering::SeqCst);
        // Our `parked` flag is down: a notifier that then sets `woken` sees
        // it down (see `notify_idle`), else we see `woken` here.
        fence(Ordering::SeqCst);
        self.awake(index);
        self.hooks.thread_unpark();
    }

    /// The timeout of parking worker `me`, given the next timer's: at most
    /// `watch_ns` if it becomes the watcher (another worker is polling and no
    /// other parked worker watches).
    #[cfg(not(loom))]
    fn watch(&self, me: usize, watch_ns: u64, timer: Option<Duration>) -> Option<Duration> {
        let polling = self
            .workers
            .iter()
            .enumerate()
            .any(|(i, w)| i != me && w.polling_since.load(Ordering::Relaxed) != 0);
        if !polling
            || self
                .watcher
                .compare_exchange(NO_WATCHER, me, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return timer;
        }
        let watch = Duration::from_nanos(watch_ns);
        Some(timer.map_or(watch, |t| t.min(watch)))
    }

    /// Whether no notified worker is pending (see `notify_idle`).
    #[cfg(loom)]
    pub(crate) fn gate_is_open(&self) -> bool {
        self.waking.load(Ordering::SeqCst) == 0
    }

    /// Makes the calling thread worker `index`, the one its inbox unparks.
    #[cfg(loom)]
    pub(crate) fn become_worker(&self, index: usize) {
        self.workers[index].inbox.set_owner(Some(thread::current()));
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for w in self.workers.iter() {
            w.inbox.unpark();
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

/// Starts worker `index` on a new thread.
pub(crate) fn spawn_worker(
    shared: Arc<Shared>,
    index: usize,
    handle: Handle,
    name: String,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run_worker(&shared, index, handle))
}

fn run_worker(shared: &Shared, index: usize, handle: Handle) {
    let hooks = shared.hooks.clone();
    let _context = context::enter(handle);
    let me = &shared.workers[index];
    me.inbox.set_owner(Some(thread::current()));
    context::set_worker(Some((shared as *const Shared as usize, index)));
    hooks.thread_start();
    // How long this worker sleeps when it parks watching (see `park_worker`):
    // doubled after each park that finds no work, reset when it finds some.
    let mut watch_ns = STRANDED_NS;
    loop {
        if shared.shutdown.load(Ordering::SeqCst) {
            shared.shutdown_worker(index);
            me.inbox.set_owner(None);
            context::set_worker(None);
            hooks.thread_stop();
            return;
        }
        shared.driver.fire_due();
        // Back-to-back polls file the previous one and start the next under
        // one lock of the core.
        let ran = shared.run_turns(index, || {
            if shared.shutdown.load(Ordering::Relaxed) {
                return false;
            }
            shared.driver.fire_due();
            true
        });
        if ran {
            watch_ns = STRANDED_NS;
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            continue;
        }
        if shared.steal_into(index) {
            watch_ns = STRANDED_NS;
            continue;
        }
        shared.park_worker(index, watch_ns);
        watch_ns = (watch_ns * 2).min(WATCH_MAX_NS);
    }
}
