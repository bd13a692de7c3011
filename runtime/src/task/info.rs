//! What a task can learn about scheduling: [`SwitchReason`], [`TaskInfo`]
//! and the per-task schedstats behind it.

use std::fmt;
use std::sync::Arc;

// Schedstats are telemetry: no scheduling decision reads them, and each has
// one writer at a time (the task's owner worker). They use std's atomics on
// purpose, outside the loom shim, so that they add nothing to the
// interleavings loom explores.
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::Id;
use super::state::Snapshot;
use crate::sched::Weight;

/// Why a task's poll ended, as its switch-out hooks see it.
///
/// The reason comes from the same atomic transition that decides what happens
/// to the task after the poll, so it is never stale: after
/// [`Preempted`](SwitchReason::Preempted) or [`Yielded`](SwitchReason::Yielded)
/// the task will be polled again with no further wake; after
/// [`Blocked`](SwitchReason::Blocked) it is polled again only once woken.
///
/// # Examples
///
/// ```
/// use runtime::task::SwitchReason;
///
/// assert!(SwitchReason::Yielded.is_runnable());
/// assert!(!SwitchReason::Blocked.is_runnable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwitchReason {
    /// Its request (slice) ran out and it let others run: a `cond_resched`
    /// that yielded, or a self-wake after using its whole request. Still
    /// runnable.
    Preempted,
    /// Woken during its poll (by itself, by `yield_now` or by another thread)
    /// with run time left in its request. Still runnable.
    Yielded,
    /// Returned `Pending` with no wake: asleep until woken. It may still be
    /// *queued*, as a delayed task that owes service, but it is not runnable.
    Blocked,
    /// Finished: its future returned `Ready`, panicked or was cancelled.
    Completed,
}

impl SwitchReason {
    /// Whether the task is still runnable: true for
    /// [`Preempted`](SwitchReason::Preempted) and
    /// [`Yielded`](SwitchReason::Yielded). This, not
    /// [`TaskInfo::is_queued`], is what a hook must test before assuming the
    /// task will run again without a wake.
    ///
    /// ```
    /// use runtime::task::SwitchReason;
    ///
    /// assert!(SwitchReason::Preempted.is_runnable());
    /// assert!(!SwitchReason::Completed.is_runnable());
    /// ```
    pub fn is_runnable(self) -> bool {
        matches!(self, SwitchReason::Preempted | SwitchReason::Yielded)
    }
}

impl fmt::Display for SwitchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwitchReason::Preempted => "preempted",
            SwitchReason::Yielded => "yielded",
            SwitchReason::Blocked => "blocked",
            SwitchReason::Completed => "completed",
        })
    }
}

/// A snapshot of a task's scheduling state and statistics (schedstats).
///
/// Get one from [`task::current`](crate::task::current), from
/// [`JoinHandle::info`](crate::task::JoinHandle::info) or
/// [`AbortHandle::info`](crate::task::AbortHandle::info), from the runtime's
/// hooks, or for every live task from
/// [`Handle::metrics`](crate::Handle::metrics).
///
/// The queue flags are read from the task's state word when the snapshot is
/// taken (in a switch-out hook: from the very transition that ended the poll).
/// The EEVDF values ([`vruntime`](TaskInfo::vruntime),
/// [`deadline`](TaskInfo::deadline), [`lag`](TaskInfo::lag)) and the counters
/// are those its worker recorded at the task's last scheduling event: its
/// last switch in or out, wake or migration.
///
/// # Queued is not runnable
///
/// With delayed dequeue, a task that blocks while it owes service stays on its
/// run queue, asleep, until its turn comes. It is then
/// [`is_queued`](TaskInfo::is_queued) but not
/// [`is_runnable`](TaskInfo::is_runnable). Code that reads "queued" as "will
/// run again without a wake" loses wake-ups: this is the bug Linux 6.12 met
/// in KVM, fixed by testing `on_rq && !sched_delayed`. Use `is_runnable`.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let task = runtime::task::Builder::new()
///         .name("worker")
///         .nice(5)
///         .spawn(async {
///             let me = runtime::task::current();
///             assert!(me.is_runnable() && me.is_queued() && !me.is_delayed());
///             me.polls()
///         })?;
///     let info = task.info();
///     assert_eq!(info.name(), Some("worker"));
///     assert_eq!(info.nice(), 5);
///     assert_eq!(task.await.unwrap(), 1); // polled once, counted at its start
///     # Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TaskInfo {
    id: Id,
    name: Option<Arc<str>>,
    state: Snapshot,
    weight: u32,
    vruntime: u64,
    deadline: u64,
    lag: i64,
    exec_runtime: Duration,
    wait_time: Duration,
    polls: u64,
    voluntary: u64,
    involuntary: u64,
}

impl TaskInfo {
    /// The task's id.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().id(), task.id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// The name given with [`task::Builder::name`](crate::task::Builder::name).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().name(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The nice level (`-20..=19`), as set at spawn or by
    /// [`set_nice`](crate::task::set_nice).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().nice(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nice(&self) -> i32 {
        self.weight().nice()
    }

    /// The scheduling weight (nice 0 = 1024).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().weight().get(), 1024);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn weight(&self) -> Weight {
        Weight::from_raw(u64::from(self.weight)).unwrap_or_default()
    }

    /// Queued and not delayed: the task will be polled without a further
    /// wake (Linux's `task_is_runnable`). True while it is being polled.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// assert!(task.info().is_runnable()); // spawned, not yet polled
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_runnable(&self) -> bool {
        self.state.is_runnable()
    }

    /// The task has an entry on a run queue, *including* a delayed one: a
    /// task that blocked while owing service and is asleep. Do not read this
    /// as "will run again": that is the mistake that lost KVM's wake-ups when
    /// Linux added delayed dequeue. Use [`is_runnable`](TaskInfo::is_runnable).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert!(task.info().is_queued());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_queued(&self) -> bool {
        self.state.is_queued()
    }

    /// Queued but asleep: it blocked while owing service and keeps competing
    /// until its turn, when it leaves the queue without being polled (or is
    /// re-armed in place if woken first).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert!(!task.info().is_delayed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_delayed(&self) -> bool {
        self.state.is_delayed()
    }

    /// The task has finished (completed, panicked or cancelled).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert!(!task.info().is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.state.is_complete()
    }

    /// Virtual runtime in virtual nanoseconds, on its worker's virtual clock
    /// (compare it with [`WorkerMetrics::virtual_time`](crate::WorkerMetrics::virtual_time)
    /// of the same worker, by difference: it wraps).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// let _v: u64 = task.info().vruntime();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn vruntime(&self) -> u64 {
        self.vruntime
    }

    /// Virtual deadline of its current request, on the same clock as
    /// [`vruntime`](TaskInfo::vruntime).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// rt.block_on(runtime::task::yield_now()); // admitted and polled once
    /// let info = task.info();
    /// assert!(info.deadline().wrapping_sub(info.vruntime()) as i64 > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Lag in nanoseconds of real service: positive means the task is owed
    /// service (eligible), negative that it has had more than its share. For
    /// a task off the queue, the lag it will wake with.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().lag(), 0); // a new task joins at the average
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lag(&self) -> i64 {
        self.lag
    }

    /// Total time spent being polled.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().exec_runtime(), std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn exec_runtime(&self) -> std::time::Duration {
        self.exec_runtime
    }

    /// Total time spent runnable but not being polled (waiting for its turn),
    /// up to its last poll.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().wait_time(), std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_time(&self) -> std::time::Duration {
        self.wait_time
    }

    /// How many times the task has been polled (counted as each poll starts).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().polls(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Polls that ended [`Blocked`](SwitchReason::Blocked).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().voluntary_switches(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn voluntary_switches(&self) -> u64 {
        self.voluntary
    }

    /// Polls that ended [`Preempted`](SwitchReason::Preempted).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(async {});
    /// assert_eq!(task.info().involuntary_switches(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn involuntary_switches(&self) -> u64 {
        self.involuntary
    }
}

impl fmt::Debug for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskInfo")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("nice", &self.nice())
            .field("runnable", &self.is_runnable())
            .field("queued", &self.is_queued())
            .field("delayed", &self.is_delayed())
            .field("finished", &self.is_finished())
            .field("vruntime", &self.vruntime)
            .field("deadline", &self.deadline)
            .field("lag", &self.lag)
            .field("exec_runtime", &self.exec_runtime)
            .field("wait_time", &self.wait_time)
            .field("polls", &self.polls)
            .field("voluntary_switches", &self.voluntary)
            .field("involuntary_switches", &self.involuntary)
            .finish()
    }
}

const NOT_WAITING: u64 = u64::MAX;

/// A task's schedstats, in its header. Written by its owner worker only.
/// (Its weight sits in the header, beside the owner index, where it packs
/// with it.)
pub(crate) struct Stats {
    vruntime: AtomicU64,
    deadline: AtomicU64,
    lag: AtomicI64,
    exec_ns: AtomicU64,
    wait_ns: AtomicU64,
    polls: AtomicU64,
    voluntary: AtomicU64,
    involuntary: AtomicU64,
    /// When it last became runnable (see [`nanos`]), or `NOT_WAITING`.
    runnable_since: AtomicU64,
}

/// Single-writer increment of a telemetry counter.
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Stats {
    pub(crate) fn new() -> Stats {
        Stats {
            vruntime: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            lag: AtomicI64::new(0),
            exec_ns: AtomicU64::new(0),
            wait_ns: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            voluntary: AtomicU64::new(0),
            involuntary: AtomicU64::new(0),
            runnable_since: AtomicU64::new(NOT_WAITING),
        }
    }

    /// Records the run queue's view of the task: vruntime, deadline and lag.
    pub(crate) fn publish(&self, vruntime: u64, deadline: u64, lag: i64) {
        self.vruntime.store(vruntime, Relaxed);
        self.deadline.store(deadline, Relaxed);
        self.lag.store(lag, Relaxed);
    }

    /// The task became runnable at `now` (a spawn, a wake, a requeue).
    pub(crate) fn runnable_at(&self, now: u64) {
        self.runnable_since.store(now, Relaxed);
    }

    /// A poll starts at `now`: ends the wait, counts the poll.
    pub(crate) fn poll_starts(&self, now: u64) {
        let since = self.runnable_since.load(Relaxed);
        if since != NOT_WAITING {
            self.runnable_since.store(NOT_WAITING, Relaxed);
            bump(&self.wait_ns, now.saturating_sub(since));
        }
        bump(&self.polls, 1);
    }

    /// A poll that ran `ran` ended for `reason`.
    pub(crate) fn poll_ends(&self, ran: Duration, reason: SwitchReason) {
        bump(&self.exec_ns, ran.as_nanos() as u64);
        match reason {
            SwitchReason::Blocked => bump(&self.voluntary, 1),
            SwitchReason::Preempted => bump(&self.involuntary, 1),
            SwitchReason::Yielded | SwitchReason::Completed => {}
        }
    }

    /// A snapshot with the given state bits and weight.
    pub(crate) fn snapshot(
        &self,
        id: Id,
        name: Option<&Arc<str>>,
        state: Snapshot,
        weight: u32,
    ) -> TaskInfo {
        TaskInfo {
            id,
            name: name.cloned(),
            state,
            weight,
            vruntime: self.vruntime.load(Relaxed),
            deadline: self.deadline.load(Relaxed),
            lag: self.lag.load(Relaxed),
            exec_runtime: Duration::from_nanos(self.exec_ns.load(Relaxed)),
            wait_time: Duration::from_nanos(self.wait_ns.load(Relaxed)),
            polls: self.polls.load(Relaxed),
            voluntary: self.voluntary.load(Relaxed),
            involuntary: self.involuntary.load(Relaxed),
        }
    }
}
