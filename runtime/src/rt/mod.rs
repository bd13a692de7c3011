//! The runtime: [`Builder`], [`Runtime`], [`Handle`] and [`spawn`].

pub(crate) mod context;
mod current_thread;

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::loom::thread::{self, Thread};
use crate::sched::{self, Params};
use crate::task::JoinHandle;
use crate::task::core::{Schedule, TaskRef, new_task};
use current_thread::{Core, Shared};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    base_slice: Duration,
    delayed_dequeue: bool,
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
            base_slice: defaults.get_base_slice(),
            delayed_dequeue: defaults.get_delayed_dequeue(),
        }
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

    /// Builds the runtime.
    ///
    /// # Errors
    ///
    /// `InvalidInput` naming the value, for a base slice outside
    /// `0.1 ms..=100 ms`.
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let config = sched::Config::new()
            .base_slice(self.base_slice)
            .delayed_dequeue(self.delayed_dequeue);
        let core = Core::new(config).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Builder::base_slice: {e}"),
            )
        })?;
        Ok(Runtime {
            handle: Handle {
                shared: Arc::new(Shared::new()),
            },
            core: Mutex::new(Some(core)),
            waiters: Mutex::new(Vec::new()),
        })
    }
}

// ===== Runtime =====

/// The runtime: an EEVDF scheduler and the tasks spawned onto it.
///
/// Dropping it cancels every task that has not finished and drops every
/// future, exactly once; their `JoinHandle`s then resolve to a cancelled
/// [`JoinError`](crate::task::JoinError).
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
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
    core: Mutex<Option<Core>>,
    /// Threads in `block_on` waiting for the core while another drives it.
    waiters: Mutex<Vec<Thread>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &"current_thread")
            .finish()
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

/// Gives the core back (also when `block_on`'s future panics).
struct CoreGuard<'a> {
    rt: &'a Runtime,
    core: Option<Core>,
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            self.rt.handle.shared.set_driver(None);
            *lock(&self.rt.core) = Some(core);
            for waiter in lock(&self.rt.waiters).drain(..) {
                waiter.unpark();
            }
        }
    }
}

impl Runtime {
    /// Runs `future` to completion on the calling thread, driving the
    /// runtime's tasks meanwhile; returns its output. Tasks spawned inside it
    /// (with [`spawn`]) go onto this runtime.
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
        let _context = context::enter(self.handle.clone());
        let mut future = pin!(future);
        let main = std::sync::Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            thread: thread::current(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let shared = &self.handle.shared;
        let mut guard = CoreGuard {
            rt: self,
            core: None,
        };
        loop {
            if guard.core.is_none() {
                guard.core = self.take_core();
            }
            if main.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            let Some(core) = guard.core.as_mut() else {
                // Another thread drives the tasks; it hands the core over
                // (unparking us) when its own `block_on` returns.
                thread::park();
                continue;
            };
            core.drain_inbox(shared);
            if !core.run_one() && !main.woken.load(Ordering::Acquire) && !shared.has_messages() {
                current_thread::park();
            }
        }
    }

    fn take_core(&self) -> Option<Core> {
        let core = lock(&self.core).take();
        match core {
            Some(core) => {
                self.handle.shared.set_driver(Some(thread::current()));
                Some(core)
            }
            None => {
                lock(&self.waiters).push(thread::current());
                None
            }
        }
    }

    /// Spawns a task onto the runtime; it runs while some thread is inside
    /// [`block_on`](Self::block_on).
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

    /// Shuts the runtime down: cancels every task and drops every future.
    /// A current-thread runtime runs nothing outside `block_on`, so this
    /// returns at once whatever the timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// let task = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_timeout(Duration::from_secs(1));
    /// assert!(task.is_finished());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_timeout(self, timeout: Duration) {
        let _ = timeout;
        drop(self);
    }

    /// Shuts the runtime down without waiting; see
    /// [`shutdown_timeout`](Self::shutdown_timeout).
    ///
    /// ```
    /// let rt = runtime::Builder::new_current_thread().build()?;
    /// rt.shutdown_background();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown_background(self) {
        drop(self);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let core = lock(&self.core).take();
        if let Some(mut core) = core {
            // Tasks may spawn or use the runtime while their futures drop.
            let _context = context::enter(self.handle.clone());
            core.shutdown(&self.handle.shared);
        }
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
    shared: Arc<Shared>,
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
        name: Option<Box<str>>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scheduler: Arc<dyn Schedule> = self.shared.clone();
        let (task, join): (TaskRef, _) = new_task(future, params, name, scheduler);
        self.shared.submit(task);
        JoinHandle::new(join)
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
    match context::current() {
        Some(handle) => handle.spawn(future),
        None => panic!("runtime::spawn {}", TryCurrentError(())),
    }
}
