//! The blocking pool: results, panics, the thread limit, and shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use runtime::task::spawn_blocking;
use tests::two_runtimes as runtimes;

#[test]
fn results_and_panics() {
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            assert_eq!(spawn_blocking(|| 6 * 7).await.unwrap(), 42, "{flavor}");
            let err = spawn_blocking(|| -> u8 { panic!("blocking boom") })
                .await
                .unwrap_err();
            assert!(err.is_panic(), "{flavor}");
            assert_eq!(
                *err.into_panic().downcast::<&str>().unwrap(),
                "blocking boom"
            );
            // The pool survives a panic.
            assert_eq!(spawn_blocking(|| 1).await.unwrap(), 1, "{flavor}");
        });
    }
}

#[test]
fn blocking_work_does_not_stall_tasks() {
    // A job blocks until a task spawned after it has run: it can only be
    // released if the single worker stays free for tasks while the job
    // blocks. (The timeout only turns a stall into a failure.)
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let blocked = spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)).is_ok());
        runtime::spawn(async move { tx.send(()).unwrap() })
            .await
            .unwrap();
        assert!(blocked.await.unwrap(), "a task waited for blocking work");
    });
}

#[test]
fn jobs_beyond_the_thread_limit_wait_their_turn() {
    let rt = runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let jobs: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for j in jobs {
            j.await.unwrap();
        }
    });
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "exactly the limit ran at once"
    );
}

#[test]
fn shutdown_cancels_queued_jobs_and_waits_for_running_ones() {
    let rt = runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let started = Arc::new(Barrier::new(2));
    let finished = Arc::new(AtomicUsize::new(0));
    let running = {
        let (started, finished) = (started.clone(), finished.clone());
        rt.spawn_blocking(move || {
            started.wait();
            std::thread::sleep(Duration::from_millis(100));
            finished.fetch_add(1, Ordering::SeqCst);
        })
    };
    started.wait();
    // The only thread is busy: this one is queued, not started.
    let queued = {
        let finished = finished.clone();
        rt.spawn_blocking(move || {
            finished.fetch_add(10, Ordering::SeqCst);
        })
    };
    drop(rt);
    // Dropping waited for the running job and cancelled the queued one.
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert!(running.is_finished() && queued.is_finished());
    let rt2 = runtime::Builder::new_current_thread().build().unwrap();
    assert!(rt2.block_on(running).is_ok());
    assert!(rt2.block_on(queued).unwrap_err().is_cancelled());
}

#[test]
fn shutdown_timeout_does_not_wait_forever() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    let started = Arc::new(Barrier::new(2));
    {
        let started = started.clone();
        rt.spawn_blocking(move || {
            started.wait();
            std::thread::sleep(Duration::from_secs(2));
        });
    }
    started.wait();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(50));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
}

/// Eight jobs submitted back to back onto a pool with idle threads, each
/// waiting (on a std channel) for the one submitted after it: every job gets
/// a thread of its own, so each sees its successor's message. A pool that
/// queued a job behind a thread it had already woken would leave the chain
/// waiting until the receive timed out.
#[test]
fn jobs_that_wait_for_each_other_all_complete() {
    const PATIENCE: Duration = Duration::from_secs(10);
    const N: usize = 8;
    for (flavor, rt) in runtimes() {
        rt.block_on(async {
            // Start four pool threads and let them go idle.
            let barrier = Arc::new(Barrier::new(4));
            let warm: Vec<_> = (0..4)
                .map(|_| {
                    let barrier = barrier.clone();
                    spawn_blocking(move || {
                        barrier.wait();
                    })
                })
                .collect();
            for w in warm {
                w.await.unwrap();
            }
            runtime::time::sleep(Duration::from_millis(50)).await;

            let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| std::sync::mpsc::channel()).unzip();
            let mut rxs: Vec<_> = rxs.into_iter().map(Some).collect();
            let mut txs: Vec<_> = txs.into_iter().map(Some).collect();
            let jobs: Vec<_> = (0..N)
                .map(|i| {
                    // Job i waits for job i + 1, then tells job i - 1.
                    let rx = rxs[i].take().unwrap();
                    let tx = if i > 0 { txs[i - 1].take() } else { None };
                    let last = i == N - 1;
                    spawn_blocking(move || {
                        let heard = last || rx.recv_timeout(PATIENCE).is_ok();
                        if let Some(tx) = tx {
                            let _ = tx.send(());
                        }
                        heard
                    })
                })
                .collect();
            for (i, job) in jobs.into_iter().enumerate() {
                assert!(
                    job.await.unwrap(),
                    "{flavor}: job {i} never heard from job {}",
                    i + 1
                );
            }
        });
    }
}

/// Inside `spawn_blocking` the job runs in its runtime's context, on both
/// flavors: `Handle::current()` is that runtime (its metrics list a task
/// spawned outside the job), `runtime::spawn` puts a task on it, and
/// `Handle::current().block_on` drives a timer to completion.
#[test]
fn blocking_jobs_run_in_the_runtime_context() {
    for (flavor, rt) in runtimes() {
        let marker = rt.spawn(std::future::pending::<()>());
        let marker_id = marker.id();
        let (listed, spawned, slept) = rt.block_on(async move {
            spawn_blocking(move || {
                let handle = runtime::Handle::current();
                let listed = handle.metrics().tasks().iter().any(|t| t.id() == marker_id);
                let task = runtime::spawn(async { 7 });
                let start = Instant::now();
                handle.block_on(runtime::time::sleep(Duration::from_millis(10)));
                let slept = start.elapsed();
                (listed, handle.block_on(task).unwrap(), slept)
            })
            .await
            .unwrap()
        });
        assert!(listed, "{flavor}: Handle::current() is another runtime");
        assert_eq!(spawned, 7, "{flavor}");
        assert!(slept >= Duration::from_millis(10), "{flavor}: woke early");
        marker.abort();
    }
}

/// Sends on its channel when dropped.
struct SignalOnDrop(std::sync::mpsc::Sender<()>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// Shutdown cancels the tasks before it waits for running blocking jobs: a
/// job that waits for a task's future to be dropped sees the drop, on both
/// flavors. (Waiting for the job first would leave it waiting for a drop that
/// comes only after the wait.)
#[test]
fn shutdown_cancels_tasks_before_waiting_for_jobs() {
    const PATIENCE: Duration = Duration::from_secs(10);
    for (flavor, rt) in runtimes() {
        let (tx, rx) = std::sync::mpsc::channel();
        let guard = SignalOnDrop(tx);
        rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let started = Arc::new(Barrier::new(2));
        let job = {
            let started = started.clone();
            rt.spawn_blocking(move || {
                started.wait();
                rx.recv_timeout(PATIENCE).is_ok()
            })
        };
        started.wait();
        drop(rt);
        let rt = runtime::Builder::new_current_thread().build().unwrap();
        assert!(
            rt.block_on(job).unwrap(),
            "{flavor}: the job was waited for before the task was cancelled"
        );
    }
}

/// `shutdown_timeout` spends one timeout on the workers and the blocking pool
/// together: with a worker stuck in a poll and a blocking job stuck too (each
/// until released, long after), it returns after about one timeout, not two.
/// The bound leaves most of a timeout for a slow machine.
#[test]
fn shutdown_timeout_is_one_deadline_for_workers_and_jobs() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    const STUCK: Duration = Duration::from_secs(30);
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let started = Arc::new(Barrier::new(3));
    let (release_task, task_waits) = std::sync::mpsc::channel::<()>();
    let (release_job, job_waits) = std::sync::mpsc::channel::<()>();
    {
        let started = started.clone();
        // Blocks its worker inside the poll: cancellation cannot reach it.
        rt.spawn(async move {
            started.wait();
            let _ = task_waits.recv_timeout(STUCK);
        });
    }
    {
        let started = started.clone();
        rt.spawn_blocking(move || {
            started.wait();
            let _ = job_waits.recv_timeout(STUCK);
        });
    }
    started.wait();
    let start = Instant::now();
    rt.shutdown_timeout(TIMEOUT);
    let took = start.elapsed();
    let _ = release_task.send(());
    let _ = release_job.send(());
    assert!(
        took >= TIMEOUT,
        "returned after {took:?}, before the timeout"
    );
    assert!(
        took < TIMEOUT * 2 - Duration::from_millis(500),
        "returned after {took:?}: a timeout for the workers and another for the pool"
    );
}

/// A pool thread left without work for its keep-alive exits while the
/// runtime lives on (its `on_thread_stop` hook runs), and the next job starts
/// a new thread. The wait allows far more than the 50 ms keep-alive, and far
/// less than the 10 s default.
#[test]
fn idle_pool_threads_exit_after_their_keep_alive() {
    const PATIENCE: Duration = Duration::from_secs(5);
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let rt = {
        let (started, stopped) = (started.clone(), stopped.clone());
        // A current-thread runtime starts no workers: the hooks count pool
        // threads only.
        runtime::Builder::new_current_thread()
            .thread_keep_alive(Duration::from_millis(50))
            .on_thread_start(move || {
                started.fetch_add(1, Ordering::SeqCst);
            })
            .on_thread_stop(move || {
                stopped.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap()
    };
    rt.block_on(rt.spawn_blocking(|| {})).unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 1);
    let deadline = Instant::now() + PATIENCE;
    while stopped.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the idle thread outlived its keep-alive"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
    rt.block_on(rt.spawn_blocking(|| {})).unwrap();
    assert_eq!(
        started.load(Ordering::SeqCst),
        2,
        "a new thread for the next job"
    );
    drop(rt);
    assert_eq!(stopped.load(Ordering::SeqCst), 2);
}
