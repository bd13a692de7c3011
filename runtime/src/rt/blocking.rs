//! The blocking pool: threads apart from the workers for closures that block
//! ([`spawn_blocking`](crate::task::spawn_blocking)).
//!
//! A job is an ordinary task whose future runs the closure in its single
//! poll, so it gets a `JoinHandle`, panic capture and abort-before-start for
//! free. The pool is that task's scheduler: a submitted job waits in a queue
//! until a pool thread takes it. Threads are started on demand up to
//! `max_threads` and exit after idling for `keep_alive`.
//!
//! Shutdown: jobs still queued are cancelled (their handles resolve to a
//! cancelled `JoinError`); running ones are waited for, up to the runtime's
//! shutdown timeout.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::hooks::Hooks;
use super::inbox::shutdown_task;
use crate::loom::sync::{Condvar, Mutex, lock};
use crate::task::core::{Schedule, TaskRef};
use crate::task::state::ToRunning;

struct State {
    queue: VecDeque<TaskRef>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    handles: Vec<std::thread::JoinHandle<()>>,
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
        loop {
            if let Some(task) = state.queue.pop_front() {
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
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                break;
            }
        }
        state.threads -= 1;
    }

    /// Cancels queued jobs and waits for running ones up to `timeout` (forever
    /// if `None`).
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        let (queued, handles) = {
            let mut state = lock(&self.state);
            state.shutdown = true;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.handles),
            )
        };
        self.work.notify_all();
        for task in queued {
            shutdown_task(&task);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
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
        if state.idle > 0 {
            drop(state);
            pool.work.notify_one();
            return;
        }
        if state.threads < pool.max_threads {
            state.threads += 1;
            state.handles.retain(|h| !h.is_finished());
            let me = pool.clone();
            let spawned = std::thread::Builder::new()
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
        // Otherwise every thread is busy: the job waits its turn.
    }

    fn rearm(&self, _: TaskRef) {
        unreachable!("a blocking job never blocks as a task, so it is never delayed")
    }
}

/// The future of a blocking job: runs the closure in its one poll.
pub(crate) struct BlockingTask<F>(pub(crate) Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> T, T> Future for BlockingTask<F> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<T> {
        let f = self.0.take().expect("a blocking job runs once");
        Poll::Ready(f())
    }
}
