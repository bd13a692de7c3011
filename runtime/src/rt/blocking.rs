//! The blocking pool: threads apart from the workers for closures that block
//! ([`spawn_blocking`](crate::task::spawn_blocking)).
//!
//! A job is an ordinary task whose future runs the closure in its single
//! poll, so it gets a `JoinHandle`, panic capture and abort-before-start for
//! free. The pool is that task's scheduler: a submitted job waits in a queue
//! until a pool thread takes it. Threads are started on demand up to
//! `max_threads` and exit after idling for `keep_alive`. A job runs inside
//! its runtime's context, so `Handle::current`, `spawn` and timers work in
//! it.
//!
//! Shutdown: the pool is closed first, so jobs still queued are cancelled
//! (their handles resolve to a cancelled `JoinError`); running ones are
//! waited for after the runtime's tasks are cancelled, within what is left of
//! the runtime's shutdown timeout.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::Handle;
use super::context;
use super::hooks::Hooks;
use super::inbox::shutdown_task;
use crate::loom::sync::{Condvar, Mutex, lock};
use crate::task::core::{Schedule, TaskRef};
use crate::task::state::ToRunning;

struct State {
    queue: VecDeque<TaskRef>,
    threads: usize,
    /// Threads waiting for a job that no submit has claimed yet.
    idle: usize,
    /// Wake-ups sent to waiting threads (each one taken out of `idle` by the
    /// submit that sent it) and not yet taken up by one. A thread waiting for
    /// work is counted in exactly one of `idle` and `notified`, so a second
    /// submit never counts on a thread an earlier one already woke.
    notified: usize,
    shutdown: bool,
    handles: Vec<std::thread::JoinHandle<()>>,
}

/// Who runs a job just queued.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// A waiting thread, now claimed: notify it.
    Wake,
    /// A new thread, already counted: start it.
    Start,
    /// A busy thread, when it is done with its job.
    Queue,
}

impl State {
    /// Decides who runs a job just queued, and counts the decision in: a
    /// claimed waiting thread moves from `idle` to `notified`, a new thread
    /// into `threads`.
    fn place(&mut self, max_threads: usize) -> Placement {
        if self.idle > 0 {
            self.idle -= 1;
            self.notified += 1;
            Placement::Wake
        } else if self.threads < max_threads {
            self.threads += 1;
            Placement::Start
        } else {
            Placement::Queue
        }
    }
}

pub(crate) struct Pool {
    state: Mutex<State>,
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    name: String,
    hooks: Arc<Hooks>,
}

impl Pool {
    pub(crate) fn new(
        max_threads: usize,
        keep_alive: Duration,
        name: String,
        hooks: Arc<Hooks>,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: false,
                handles: Vec::new(),
            }),
            work: Condvar::new(),
            max_threads,
            keep_alive,
            name,
            hooks,
        })
    }

    fn run(self: &Arc<Pool>) {
        let mut state = lock(&self.state);
        'work: loop {
            while let Some(task) = state.queue.pop_front() {
                drop(state);
                if task.header().state.to_running() == ToRunning::Cancel {
                    drop(task.cancel());
                } else {
                    // The closure runs to completion in this single poll.
                    let done = task.poll();
                    debug_assert!(done.is_ready());
                }
                drop(task);
                state = lock(&self.state);
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let deadline = Instant::now().checked_add(self.keep_alive);
            loop {
                let left = deadline.map_or(Duration::MAX, |d| {
                    d.saturating_duration_since(Instant::now())
                });
                let (next, _) = self
                    .work
                    .wait_timeout(state, left)
                    .unwrap_or_else(|e| e.into_inner());
                state = next;
                if state.notified > 0 {
                    // A submit took a waiting thread out of `idle` for its
                    // job: this one answers (whichever thread it meant).
                    state.notified -= 1;
                    continue 'work;
                }
                // Not claimed, so still counted in `idle`.
                if !state.queue.is_empty() {
                    state.idle -= 1;
                    continue 'work;
                }
                let expired = deadline.is_some_and(|d| Instant::now() >= d);
                if state.shutdown || expired {
                    state.idle -= 1;
                    break 'work;
                }
                // A spurious wake-up: keep waiting.
            }
        }
        state.threads -= 1;
    }

    /// Closes the pool: no job starts from now on, queued ones are cancelled
    /// and later submits are refused (cancelled). Running jobs go on; see
    /// [`join`](Self::join).
    pub(crate) fn close(&self) {
        let queued = {
            let mut state = lock(&self.state);
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.work.notify_all();
        for task in queued {
            shutdown_task(&task);
        }
    }

    /// Waits for the pool's threads (after [`close`](Self::close)) to finish
    /// their jobs and exit, but not past `deadline` (forever if `None`).
    pub(crate) fn join(&self, deadline: Option<Instant>) {
        let handles = std::mem::take(&mut lock(&self.state).handles);
        for handle in handles {
            super::join_until(handle, deadline);
        }
    }
}

/// The pool as the scheduler of its jobs.
pub(crate) struct PoolScheduler(pub(crate) Arc<Pool>);

impl Schedule for PoolScheduler {
    fn submit(&self, task: TaskRef) {
        let pool = &self.0;
        let mut state = lock(&pool.state);
        if state.shutdown {
            drop(state);
            shutdown_task(&task);
            return;
        }
        state.queue.push_back(task);
        match state.place(pool.max_threads) {
            Placement::Wake => {
                drop(state);
                pool.work.notify_one();
            }
            Placement::Start => {
                state.handles.retain(|h| !h.is_finished());
                let me = pool.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name(pool.name.clone())
                        .spawn(move || {
                            me.hooks.thread_start();
                            me.run();
                            me.hooks.thread_stop();
                        });
                match spawned {
                    Ok(handle) => state.handles.push(handle),
                    // Out of threads: the job waits for one already running.
                    Err(_) => state.threads -= 1,
                }
            }
            // Every thread is busy: the job waits its turn.
            Placement::Queue => {}
        }
    }

    fn rearm(&self, _: TaskRef) {
        unreachable!("a blocking job never blocks as a task, so it is never delayed")
    }
}

/// The future of a blocking job: runs the closure in its one poll, inside
/// its runtime's context (so `Handle::current`, `spawn` and timers work in
/// it, as on a worker).
///
/// The job carries its own handle instead of the pool keeping one: the pool
/// belongs to the runtime, and a handle inside it would keep the runtime
/// alive. A job's handle lives only until the job runs or is cancelled, which
/// shutdown guarantees for every job.
pub(crate) struct BlockingTask<F> {
    f: Option<F>,
    handle: Option<Handle>,
}

impl<F> BlockingTask<F> {
    pub(crate) fn new(f: F, handle: Handle) -> BlockingTask<F> {
        BlockingTask {
            f: Some(f),
            handle: Some(handle),
        }
    }
}

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingTask<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let f = self.f.take().expect("a blocking job runs once");
        // Dropping the guard after the closure gives the handle up.
        let _context = self.handle.take().map(context::enter);
        Poll::Ready(f())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::loom::sync::lock;

    /// How long a wait may take before the test fails: a hang, not a slow
    /// machine.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn state(threads: usize, idle: usize) -> State {
        State {
            queue: VecDeque::new(),
            threads,
            idle,
            notified: 0,
            shutdown: false,
            handles: Vec::new(),
        }
    }

    /// One thread waits for work; two jobs are queued before it wakes. The
    /// first claims it; the second must not count on it too (it would queue
    /// behind the first, which may be waiting for it), so it starts a thread.
    #[test]
    fn a_claimed_thread_is_not_counted_twice() {
        let mut s = state(1, 1);
        assert_eq!(s.place(4), Placement::Wake);
        assert_eq!((s.idle, s.notified, s.threads), (0, 1, 1));
        assert_eq!(s.place(4), Placement::Start);
        assert_eq!((s.idle, s.notified, s.threads), (0, 1, 2));
        // At the limit, a job waits for a busy thread.
        assert_eq!(s.place(2), Placement::Queue);
        assert_eq!((s.idle, s.notified, s.threads), (0, 1, 2));
        // Two waiting threads take two jobs, then a third job starts one.
        let mut s = state(2, 2);
        assert_eq!(s.place(4), Placement::Wake);
        assert_eq!(s.place(4), Placement::Wake);
        assert_eq!(s.place(4), Placement::Start);
        assert_eq!((s.idle, s.notified, s.threads), (0, 2, 3));
    }

    /// A thread that waited `keep_alive` for work exits, leaving every count
    /// at zero.
    #[test]
    fn an_idle_thread_leaves_after_its_keep_alive() {
        let rt = crate::Builder::new_current_thread()
            .thread_keep_alive(Duration::from_millis(20))
            .build()
            .unwrap();
        let pool = rt.handle.blocking.pool.clone();
        rt.block_on(rt.spawn_blocking(|| {})).unwrap();
        wait_until("the pool thread to leave", || {
            let state = lock(&pool.state);
            state.threads == 0 && state.idle == 0 && state.notified == 0
        });
        // The pool starts a thread again for the next job.
        assert_eq!(rt.block_on(rt.spawn_blocking(|| 5)).unwrap(), 5);
    }
}
