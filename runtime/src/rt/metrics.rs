//! Runtime metrics: per-worker counters and the live tasks.

use std::fmt;
// Telemetry only: no decision reads these, each has one writer (its worker),
// so std atomics, outside the loom shim, keep them out of loom's exploration.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::task::TaskInfo;
use crate::task::info::bump;

/// A worker's counters, published by the worker as it goes.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct WorkerStats {
    queued: AtomicU64,
    runnable: AtomicU64,
    delayed: AtomicU64,
    virtual_time: AtomicU64,
    polls: AtomicU64,
    steals: AtomicU64,
    parks: AtomicU64,
}

impl WorkerStats {
    /// Records the run queue's counts and virtual time.
    pub(crate) fn publish(&self, queued: usize, runnable: usize, virtual_time: u64) {
        self.queued.store(queued as u64, Relaxed);
        self.runnable.store(runnable as u64, Relaxed);
        self.delayed
            .store(queued.saturating_sub(runnable) as u64, Relaxed);
        self.virtual_time.store(virtual_time, Relaxed);
    }

    pub(crate) fn polled(&self) {
        bump(&self.polls, 1);
    }

    pub(crate) fn stole(&self, tasks: usize) {
        bump(&self.steals, tasks as u64);
    }

    pub(crate) fn parked(&self) {
        bump(&self.parks, 1);
    }

    fn snapshot(&self) -> WorkerMetrics {
        WorkerMetrics {
            queued: self.queued.load(Relaxed),
            runnable: self.runnable.load(Relaxed),
            delayed: self.delayed.load(Relaxed),
            virtual_time: self.virtual_time.load(Relaxed),
            polls: self.polls.load(Relaxed),
            steals: self.steals.load(Relaxed),
            parks: self.parks.load(Relaxed),
        }
    }
}

/// A snapshot of a runtime: its workers' counters and its live tasks, from
/// [`Handle::metrics`](crate::Handle::metrics).
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// let idle = rt.spawn(std::future::pending::<()>());
/// rt.block_on(runtime::task::yield_now());
/// let m = rt.handle().metrics();
/// assert_eq!(m.workers().len(), 2);
/// assert!(m.tasks().iter().any(|t| t.id() == idle.id()));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    workers: Vec<WorkerMetrics>,
    tasks: Vec<TaskInfo>,
}

impl RuntimeMetrics {
    pub(crate) fn new<'a>(
        workers: impl Iterator<Item = &'a WorkerStats>,
        tasks: Vec<TaskInfo>,
    ) -> RuntimeMetrics {
        RuntimeMetrics {
            workers: workers.map(WorkerStats::snapshot).collect(),
            tasks,
        }
    }

    /// One entry per worker, by index (a current-thread runtime has one).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers().len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(&self) -> &[WorkerMetrics] {
        &self.workers
    }

    /// The tasks spawned on the runtime that have not finished, by id.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert!(rt.handle().metrics().tasks().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("workers", &self.workers)
            .field("tasks", &self.tasks)
            .finish()
    }
}

/// One worker's counters, from [`RuntimeMetrics::workers`].
///
/// The queue counts and virtual time are as of the worker's last scheduling
/// step; the others count since the runtime started.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async { runtime::spawn(async {}).await.unwrap() });
/// let w = rt.handle().metrics().workers()[0];
/// assert_eq!(w.polls(), 1);
/// assert_eq!(w.queued(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerMetrics {
    queued: u64,
    runnable: u64,
    delayed: u64,
    virtual_time: u64,
    polls: u64,
    steals: u64,
    parks: u64,
}

impl WorkerMetrics {
    /// Tasks on its run queue, delayed ones included.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers()[0].queued(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// Tasks on its run queue that are runnable (not delayed).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers()[0].runnable(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn runnable(&self) -> u64 {
        self.runnable
    }

    /// Delayed tasks: queued, asleep, owing service.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers()[0].delayed(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn delayed(&self) -> u64 {
        self.delayed
    }

    /// The run queue's virtual time `V` (the weighted average vruntime), in
    /// virtual nanoseconds; wraps, so compare by difference.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let _v: u64 = rt.handle().metrics().workers()[0].virtual_time();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn virtual_time(&self) -> u64 {
        self.virtual_time
    }

    /// Polls run by this worker.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers()[0].polls(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Tasks this worker took from others (fresh spawns and stolen runnable
    /// tasks).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.handle().metrics().workers()[0].steals(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn steals(&self) -> u64 {
        self.steals
    }

    /// Times this worker parked with nothing to do.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let _parks = rt.handle().metrics().workers()[0].parks();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn parks(&self) -> u64 {
        self.parks
    }
}
