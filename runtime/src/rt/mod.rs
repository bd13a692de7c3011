//! The runtime: [`Builder`], [`Runtime`], [`Handle`] and [`spawn`].

mod blocking;
pub(crate) mod context;
mod core;
mod current_thread;
mod hooks;
mod inbox;
mod metrics;
mod multi_thread;
pub(crate) mod registry;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::loom::sync::{Mutex, lock};
use crate::loom::thread::{self, Thread};
use crate::sched::{self, Params};
use crate::task::core::{SchedRef, Schedule, new_task, sched_ref};
use crate::task::{JoinHandle, SwitchReason, TaskInfo};
use core::Core;
use hooks::Hooks;
pub use metrics::{RuntimeMetrics, WorkerMetrics};

/// The timer driver of the thread's current runtime (one reference count
/// taken, no handle cloned: timers are built often).
pub(crate) fn current_driver() -> Option<Arc<crate::time::driver::Driver>> {
    context::with_current(|handle| handle.driver().clone())
}

/// Joins `thread`, but not past `deadline` (std has no timed join); a thread
/// still running then is left to finish on its own.
pub(crate) fn join_until(thread: std::thread::JoinHandle<()>, deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if !thread.is_finished() {
            return;
        }
    }
    let _ = thread.join();
}

// ===== Builder =====

/// Configures and builds a [`Runtime`]. Method names follow tokio's.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = runtime::Builder::new_current_thread()
///     .enable_all()
///     .base_slice(Duration::from_micros(500))
///     .build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
///
/// let err = runtime::Builder::new_current_thread()
///     .base_slice(Duration::from_secs(1))
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("1s is out of range"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    multi_thread: bool,
    worker_threads: Option<usize>,
    thread_name: String,
    base_slice: Duration,
    delayed_dequeue: bool,
    hooks: Hooks,
}

impl Builder {
    /// A runtime with one EEVDF run queue, driven by [`Runtime::block_on`] on
    /// the calling thread.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_current_thread() -> Builder {
        let defaults = sched::Config::new();
        Builder {
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            multi_thread: false,
            worker_threads: None,
            thread_name: "runtime-worker".to_owned(),
            base_slice: defaults.get_base_slice(),
            delayed_dequeue: defaults.get_delayed_dequeue(),
            hooks: Hooks::default(),
        }
    }

    /// A runtime with `worker_threads` worker threads (default: the available
    /// parallelism), each owning an EEVDF run queue; idle workers steal
    /// runnable tasks, which keep their lag.
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(2).build()?;
    /// assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder {
            multi_thread: true,
            ..Builder::new_current_thread()
        }
    }

    /// The number of worker threads of a multi-thread runtime (the
    /// current-thread flavor runs on the thread that calls `block_on`). Zero
    /// is refused by [`build`](Self::build), on either flavor.
    ///
    /// ```
    /// let err = runtime::Builder::new_multi_thread().worker_threads(0).build().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Builder::worker_threads: 0 worker threads requested: expected at least 1"
    /// );
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Builder {
        self.worker_threads = Some(n);
        self
    }

    /// The most threads the blocking pool (see
    /// [`spawn_blocking`](crate::task::spawn_blocking)) starts; more jobs
    /// than that wait their turn. Default 512; zero is refused by
    /// [`build`](Self::build).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().max_blocking_threads(4).build()?;
    /// let err = runtime::Builder::new_current_thread().max_blocking_threads(0).build().unwrap_err();
    /// assert!(err.to_string().contains("max_blocking_threads"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread waits for a job before exiting
    /// (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread()
    ///     .thread_keep_alive(Duration::from_millis(100))
    ///     .build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.thread_keep_alive = keep_alive;
        self
    }

    /// The name of the worker threads (default `runtime-worker`).
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(1)
    ///     .thread_name("app-worker")
    ///     .build()?;
    /// let name = rt.block_on(rt.spawn(async { std::thread::current().name().map(String::from) }));
    /// assert_eq!(name.unwrap().as_deref(), Some("app-worker"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// Accepted for porting from tokio; timers and I/O need no switch here.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().enable_all().build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// The slice (latency request) of tasks that do not set their own: how long
    /// a task may run before its virtual deadline is renewed. `0.1 ms..=100 ms`;
    /// default 700 µs.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread()
    ///     .base_slice(Duration::from_millis(2))
    ///     .build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn base_slice(&mut self, slice: Duration) -> &mut Builder {
        self.base_slice = slice;
        self
    }

    /// Whether a task that blocks while owing service stays queued as delayed
    /// until its debt is paid (default `true`), so sleeping never forgives debt.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().delayed_dequeue(false).build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn delayed_dequeue(&mut self, on: bool) -> &mut Builder {
        self.delayed_dequeue = on;
        self
    }

    /// Calls `f` with each task's [`TaskInfo`] when it is spawned, on the
    /// spawning thread. Like every hook, a panic in it is caught and reported
    /// on stderr.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let spawned = Arc::new(AtomicUsize::new(0));
    /// let count = spawned.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_task_spawn(move |_task| {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.spawn(async {});
    /// assert_eq!(spawned.load(Ordering::SeqCst), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_task_spawn<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn(&TaskInfo) + Send + Sync + 'static,
    {
        self.hooks.task_spawn = Some(Arc::new(f));
        self
    }

    /// Calls `f` when a task finishes (completed, panicked or cancelled), on
    /// the thread that finished it, before its `JoinHandle` is woken.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let ended = Arc::new(Mutex::new(Vec::new()));
    /// let log = ended.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_task_terminate(move |task| log.lock().unwrap().push(task.id()))
    ///     .build()?;
    /// let id = rt.block_on(async {
    ///     let task = runtime::spawn(async {});
    ///     let id = task.id();
    ///     task.await.unwrap();
    ///     id
    /// });
    /// assert_eq!(*ended.lock().unwrap(), [id]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_task_terminate<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn(&TaskInfo) + Send + Sync + 'static,
    {
        self.hooks.task_terminate = Some(Arc::new(f));
        self
    }

    /// Calls `f` on the worker just before each poll of any task, with the
    /// task's [`TaskInfo`] and the worker's index.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let polls = Arc::new(AtomicUsize::new(0));
    /// let count = polls.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_switch_in(move |_task, worker| {
    ///         assert_eq!(worker, 0);
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(rt.spawn(runtime::task::yield_now())).unwrap();
    /// assert_eq!(polls.load(Ordering::SeqCst), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_switch_in<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn(&TaskInfo, usize) + Send + Sync + 'static,
    {
        self.hooks.switch_in = Some(Arc::new(f));
        self
    }

    /// Calls `f` on the worker just after each poll of any task, with the
    /// [`SwitchReason`] and a [`TaskInfo`] whose queue flags come from the
    /// same transition: `info.is_runnable() == reason.is_runnable()`, while
    /// `info.is_queued()` may be true for a blocked, delayed task. A task's
    /// `Completed` call comes before its `JoinHandle` is woken.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use runtime::task::SwitchReason;
    ///
    /// let reasons = Arc::new(Mutex::new(Vec::new()));
    /// let log = reasons.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_switch_out(move |task, reason| {
    ///         assert_eq!(task.is_runnable(), reason.is_runnable());
    ///         log.lock().unwrap().push(reason);
    ///     })
    ///     .build()?;
    /// rt.block_on(rt.spawn(runtime::task::yield_now())).unwrap();
    /// assert_eq!(*reasons.lock().unwrap(), [SwitchReason::Yielded, SwitchReason::Completed]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_switch_out<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn(&TaskInfo, SwitchReason) + Send + Sync + 'static,
    {
        self.hooks.switch_out = Some(Arc::new(f));
        self
    }

    /// Calls `f` on each thread the runtime starts (workers and blocking
    /// threads), before it does anything else.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let count = started.clone();
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_start(move || {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// drop(rt); // waits for the workers
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.thread_start = Some(Arc::new(f));
        self
    }

    /// Calls `f` on each thread the runtime started, as it exits.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let count = stopped.clone();
    /// let rt = runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .on_thread_stop(move || {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// drop(rt);
    /// assert_eq!(stopped.load(Ordering::SeqCst), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.thread_stop = Some(Arc::new(f));
        self
    }

    /// Calls `f` on a worker (or the thread driving a current-thread
    /// runtime) each time it parks with nothing to run.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let parks = Arc::new(AtomicUsize::new(0));
    /// let count = parks.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_thread_park(move || {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(async { runtime::time::sleep(std::time::Duration::from_millis(1)).await });
    /// assert!(parks.load(Ordering::SeqCst) >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_park<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.thread_park = Some(Arc::new(f));
        self
    }

    /// Calls `f` each time a parked worker (or `block_on` thread) wakes up.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let unparks = Arc::new(AtomicUsize::new(0));
    /// let count = unparks.clone();
    /// let rt = runtime::Builder::new_current_thread()
    ///     .on_thread_unpark(move || {
    ///         count.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// rt.block_on(async { runtime::time::sleep(std::time::Duration::from_millis(1)).await });
    /// assert!(unparks.load(Ordering::SeqCst) >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_unpark<F>(&mut self, f: F) -> &mut Builder
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.hooks.thread_unpark = Some(Arc::new(f));
        self
    }

    /// Builds the runtime (and starts the worker threads of a multi-thread one).
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the value, for a base slice outside
    /// `0.1 ms..=100 ms` or zero worker threads; the OS error if a worker
    /// thread cannot be started.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let invalid = |what: &str, msg: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Builder::{what}: {msg}"),
            )
        };
        let config = sched::Config::new()
            .base_slice(self.base_slice)
            .delayed_dequeue(self.delayed_dequeue);
        if self.worker_threads == Some(0) {
            // Refused on either flavor, as a porting mistake worth hearing of.
            return Err(invalid(
                "worker_threads",
                "0 worker threads requested: expected at least 1".to_owned(),
            ));
        }
        if self.max_blocking_threads == 0 {
            return Err(invalid(
                "max_blocking_threads",
                "0 blocking threads requested: expected at least 1".to_owned(),
            ));
        }
        let hooks = Arc::new(self.hooks.clone());
        let pool = blocking::Pool::new(
            self.max_blocking_threads,
            self.thread_keep_alive,
            format!("{}-blocking", self.thread_name),
            hooks.clone(),
        );
        let blocking = Blocking {
            scheduler: sched_ref(Arc::new(blocking::PoolScheduler(pool.clone()))),
            pool,
        };
        if !self.multi_thread {
            let core = Core::new(config, 0).map_err(|e| invalid("base_slice", e.to_string()))?;
            let shared = current_thread::Shared::new(core, hooks);
            return Ok(Runtime {
                handle: Handle {
                    tasks: sched_ref(shared.clone()),
                    scheduler: Scheduler::Current(shared),
                    blocking,
                },
                flavor: Flavor::Current,
            });
        }
        let n = match self.worker_threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let cores = (0..n)
            .map(|i| Core::new(config, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("base_slice", e.to_string()))?;
        let shared = multi_thread::Shared::new(cores, hooks);
        let handle = Handle {
            scheduler: Scheduler::Multi(shared.clone()),
            tasks: sched_ref(shared.clone()),
            blocking,
        };
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let name = self.thread_name.clone();
            match multi_thread::spawn_worker(shared.clone(), i, handle.clone(), name) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shared.begin_shutdown();
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Runtime {
            handle,
            flavor: Flavor::Multi {
                shared,
                threads: Mutex::new(threads),
            },
        })
    }
}

// ===== Runtime =====

/// The runtime: an EEVDF scheduler and the tasks spawned onto it.
///
/// Dropping it cancels every task that has not finished and drops every
/// future, exactly once; their `JoinHandle`s then resolve to a cancelled
/// [`JoinError`](crate::task::JoinError). On a multi-thread runtime the drop
/// waits for each worker to finish the poll it is in.
///
/// # Examples
///
/// ```
/// let rt = runtime::Runtime::new()?;
/// let answer = rt.block_on(async {
///     let a = runtime::spawn(async { 6 });
///     let b = runtime::spawn(async { 7 });
///     a.await.unwrap() * b.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    handle: Handle,
    flavor: Flavor,
}

enum Flavor {
    Current,
    Multi {
        shared: Arc<multi_thread::Shared>,
        threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    },
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Runtime");
        match &self.flavor {
            Flavor::Current => d.field("flavor", &"current_thread"),
            Flavor::Multi { shared, .. } => d
                .field("flavor", &"multi_thread")
                .field("workers", &shared.workers()),
        };
        d.finish()
    }
}

/// Wakes the thread inside `block_on` for its own future.
struct MainWaker {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for MainWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// While `block_on` drives a current-thread runtime's tasks, its own future,
/// once woken, is polled after at most this many task polls (or as soon as
/// no task is runnable). Polling it after every task would cost a poll, a
/// waker registration and a clock read per task when it waits on many
/// handles in turn, as a spawner joining its tasks does.
const MAIN_POLL_INTERVAL: u32 = 32;

/// Gives a current-thread runtime's core back (also when `block_on`'s future
/// panics), and hands it to a waiting `block_on`.
struct CoreGuard<'a> {
    shared: Option<&'a current_thread::Shared>,
    core: Option<Box<Core>>,
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        if let (Some(shared), Some(core)) = (self.shared, self.core.take()) {
            shared.give_back(core);
        }
    }
}

impl Runtime {
    /// A multi-thread runtime with default settings, as
    /// `Builder::new_multi_thread().enable_all().build()`.
    ///
    /// # Errors
    ///
    /// The OS error if a worker thread cannot be started.
    ///
    /// ```
    /// let rt = runtime::Runtime::new()?;
    /// assert_eq!(rt.block_on(async { 1 }), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().enable_all().build()
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output. Tasks spawned inside it (with [`spawn`]) go onto this runtime.
    /// On a current-thread runtime the calling thread also drives the tasks;
    /// on a multi-thread runtime the workers do.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `future` itself (a panicking *task* only fails its
    /// own `JoinHandle`).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// assert_eq!(rt.block_on(async { "done" }), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task onto the runtime. On a current-thread runtime it runs
    /// while some thread is inside [`block_on`](Self::block_on).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.spawn(async { 5 });
    /// assert_eq!(rt.block_on(handle).unwrap(), 5);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the blocking pool; see
    /// [`spawn_blocking`](crate::task::spawn_blocking).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let h = rt.spawn_blocking(|| 2 + 2);
    /// assert_eq!(rt.block_on(h).unwrap(), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime, to spawn onto it from elsewhere.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let handle = rt.handle().clone();
    /// let task = std::thread::spawn(move || handle.spawn(async { 1 })).join().unwrap();
    /// assert_eq!(rt.block_on(task).unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Shuts the runtime down: cancels every task and drops every future,
    /// cancels blocking jobs not yet started, and waits at most `timeout` in
    /// all for worker threads to finish the poll they are in (a worker stuck
    /// in a poll cleans up when the poll returns) and for running blocking
    /// jobs. Timers stop: a [`Sleep`](crate::time::Sleep) polled afterwards
    /// panics.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_timeout(Duration::from_secs(1));
    /// assert!(task.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts the runtime down without waiting for worker threads: each
    /// cancels its tasks when the poll it is in returns.
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(1).build()?;
    /// rt.shutdown_background();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    /// Cancels everything; waits for the workers, then for the blocking
    /// jobs still running, all within one `timeout` (forever if `None`).
    fn shutdown(&mut self, timeout: Option<Duration>) {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // Tasks may spawn or use the runtime while their futures drop.
        let _context = context::enter(self.handle.clone());
        // No blocking job starts from now on: queued ones are cancelled.
        self.handle.blocking.pool.close();
        match &self.flavor {
            Flavor::Current => {
                if let Scheduler::Current(shared) = &self.handle.scheduler {
                    shared.shutdown();
                }
            }
            Flavor::Multi { shared, threads } => {
                shared.begin_shutdown();
                let threads = std::mem::take(&mut *lock(threads));
                for t in threads {
                    join_until(t, deadline);
                }
            }
        }
        // Timers still pending (outside tasks) are woken, to find the driver
        // shut down; a job waiting on one is released too.
        self.handle.driver().shutdown();
        self.handle.blocking.pool.join(deadline);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

// ===== Handle =====

/// A cloneable reference to a runtime, for spawning onto it from anywhere.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let handle = runtime::Handle::current();
///     let task = handle.spawn(async { "hi" });
///     assert_eq!(task.await.unwrap(), "hi");
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    scheduler: Scheduler,
    /// The same scheduler as spawned tasks hold it.
    tasks: SchedRef,
    blocking: Blocking,
}

#[derive(Clone)]
struct Blocking {
    pool: Arc<blocking::Pool>,
    scheduler: SchedRef,
}

#[derive(Clone)]
enum Scheduler {
    Current(Arc<current_thread::Shared>),
    Multi(Arc<multi_thread::Shared>),
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// The runtime the calling code runs in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (not inside `block_on` or a task); see
    /// [`try_current`](Self::try_current).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(async { let _h = runtime::Handle::current(); });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match context::current() {
            Some(handle) => handle,
            None => panic!("{}", TryCurrentError(())),
        }
    }

    /// The runtime the calling code runs in, or an error outside one.
    ///
    /// ```
    /// assert!(runtime::Handle::try_current().is_err());
    /// ```
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current().ok_or(TryCurrentError(()))
    }

    /// Runs `future` to completion on the calling thread, inside this runtime
    /// (so [`spawn`] works in it); see [`Runtime::block_on`]. On a
    /// current-thread runtime the calling thread drives the tasks while no
    /// other thread does.
    ///
    /// # Panics
    ///
    /// When called from inside a task: blocking a worker on a future that may
    /// need that worker would deadlock; await the future instead. Also
    /// re-raises a panic of `future` itself.
    ///
    /// ```
    /// let rt = runtime::Builder::new_multi_thread().worker_threads(1).build()?;
    /// let handle = rt.handle().clone();
    /// let out = std::thread::spawn(move || {
    ///     handle.block_on(async { runtime::spawn(async { 9 }).await.unwrap() })
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(out, 9);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            context::poll_context().is_none(),
            "block_on called from inside a task, which would block its worker thread: \
             `.await` the future instead"
        );
        let _context = context::enter(self.clone());
        let mut future = pin!(future);
        let main = std::sync::Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            thread: thread::current(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut guard = CoreGuard {
            shared: match &self.scheduler {
                Scheduler::Current(shared) => Some(shared),
                // The workers run the tasks; this thread only polls `future`.
                Scheduler::Multi(_) => None,
            },
            core: None,
        };
        // Task polls since `future` was last polled.
        let mut tasks_run = MAIN_POLL_INTERVAL;
        loop {
            if let (Some(shared), None) = (guard.shared, &guard.core) {
                guard.core = shared.take_core();
            }
            if tasks_run >= MAIN_POLL_INTERVAL && main.woken.swap(false, Ordering::AcqRel) {
                tasks_run = 0;
                if let Some(core) = guard.core.as_mut() {
                    // This poll is not a task's: the next task starts after it.
                    core.forget_resume();
                }
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            let (Some(shared), Some(core)) = (guard.shared, guard.core.as_mut()) else {
                // Nothing to drive here: wait to be woken (or, on a
                // current-thread runtime, to be handed the core).
                tasks_run = MAIN_POLL_INTERVAL;
                if !main.woken.load(Ordering::Acquire) {
                    thread::park();
                }
                continue;
            };
            shared.driver.fire_due();
            core.drain_own(&shared.inbox, shared.addr());
            if core.run_one() {
                tasks_run += 1;
                continue;
            }
            // Nothing to run: `future` goes next if it was woken.
            tasks_run = MAIN_POLL_INTERVAL;
            if !main.woken.load(Ordering::Acquire) {
                shared.stats().parked();
                shared.hooks.thread_park();
                shared.inbox.park(
                    || !main.woken.load(Ordering::Acquire) && !context::has_local(),
                    || shared.driver.park_timeout(),
                );
                shared.hooks.thread_unpark();
            }
        }
    }

    /// Runs a blocking closure on this runtime's blocking pool; see
    /// [`spawn_blocking`](crate::task::spawn_blocking).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let h = rt.handle().spawn_blocking(|| "read");
    /// assert_eq!(rt.block_on(h).unwrap(), "read");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let job = blocking::BlockingTask::new(f, self.clone());
        let (task, join) = new_task(job, Params::new(), None, self.blocking.scheduler.clone());
        self.blocking.scheduler.submit(task);
        join
    }

    /// The runtime's timer driver.
    fn driver(&self) -> &Arc<crate::time::driver::Driver> {
        match &self.scheduler {
            Scheduler::Current(shared) => &shared.driver,
            Scheduler::Multi(shared) => &shared.driver,
        }
    }

    /// Spawns a task onto this runtime.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.handle().spawn(async { 3 });
    /// assert_eq!(rt.block_on(task).unwrap(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, Params::new(), None)
    }

    pub(crate) fn spawn_with<F>(
        &self,
        future: F,
        params: Params,
        name: Option<Arc<str>>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let hooks: &Hooks = match &self.scheduler {
            Scheduler::Current(shared) => &shared.hooks,
            Scheduler::Multi(shared) => &shared.hooks,
        };
        let (task, join) = new_task(future, params, name, self.tasks.clone());
        if let Some(registry) = task.header().scheduler().registry() {
            registry.insert(&task);
        }
        hooks.spawned(task.header());
        match &self.scheduler {
            Scheduler::Current(shared) => shared.submit(task),
            Scheduler::Multi(shared) => shared.spawn(task),
        }
        join
    }

    /// A snapshot of the runtime: each worker's counters (queued, runnable
    /// and delayed tasks, virtual time, polls, steals, parks) and the live
    /// tasks' [`TaskInfo`](crate::task::TaskInfo)s.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// let m = rt.handle().metrics();
    /// assert_eq!(m.workers()[0].queued(), 0); // the spawn is not admitted yet
    /// assert_eq!(m.tasks()[0].id(), task.id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        match &self.scheduler {
            Scheduler::Current(shared) => shared.metrics(),
            Scheduler::Multi(shared) => shared.metrics(),
        }
    }
}

/// Returned by [`Handle::try_current`] outside a runtime.
///
/// ```
/// let err = runtime::Handle::try_current().unwrap_err();
/// assert!(err.to_string().contains("outside a runtime"));
/// ```
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "called outside a runtime: spawn from inside Runtime::block_on or a task, \
             or use Runtime::spawn / Handle::spawn",
        )
    }
}

impl fmt::Debug for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TryCurrentError")
    }
}

impl std::error::Error for TryCurrentError {}

/// Spawns a task onto the current runtime and returns its [`JoinHandle`].
///
/// # Panics
///
/// Outside a runtime (not inside `block_on` or a task), with a message saying
/// so; use [`Runtime::spawn`] or [`Handle::spawn`] there.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let out = rt.block_on(async { runtime::spawn(async { 2 * 21 }).await.unwrap() });
/// assert_eq!(out, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Borrowed, not cloned: a spawn costs no reference-count traffic on the
    // runtime's handle.
    match context::with_current(move |handle| handle.spawn(future)) {
        Some(join) => join,
        None => panic!("runtime::spawn {}", TryCurrentError(())),
    }
}
