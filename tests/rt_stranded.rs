//! Wakes stranded behind a long poll: a busy worker takes them over. In a
//! binary of its own, so that no sibling test competes for the two cores
//! while the scenario is set up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use runtime::task;
use tests::spin;

/// A future woken by hand from another thread: pending until `ring`.
#[derive(Clone, Default)]
struct Bell(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

impl Bell {
    fn ring(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        if let Some(w) = self.0.1.lock().unwrap().take() {
            w.wake();
        }
    }

    fn is_waiting(&self) -> bool {
        self.0.1.lock().unwrap().is_some()
    }
}

impl std::future::Future for Bell {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.1.lock().unwrap() = Some(cx.waker().clone());
        if self.0.0.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// What one run of the scenario saw.
enum Run {
    /// The tasks did not land where the scenario needs them (the OS stopped
    /// a worker at the wrong moment, say): nothing to judge.
    SetupMissed(&'static str),
    /// Whether the woken task ran before the hog's poll ended, and where.
    Ran { early: bool, on_busy_worker: bool },
}

/// Worker B is kept busy by a task that yields in a loop, so it never goes
/// idle (idle workers steal anyway). On worker A, task T blocks, then a hog
/// spins 300 ms in one poll. A thread wakes T meanwhile.
fn scenario() -> Run {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50)); // both workers park
    let stop = Arc::new(AtomicBool::new(false));
    let (busy_thread_tx, busy_thread_rx) = std::sync::mpsc::channel();
    let busy = {
        let stop = stop.clone();
        rt.spawn(async move {
            busy_thread_tx.send(std::thread::current().id()).unwrap();
            while !stop.load(Ordering::SeqCst) {
                spin(Duration::from_micros(5));
                task::yield_now().await;
            }
        })
    };
    let b_thread: ThreadId = busy_thread_rx.recv().unwrap();
    let bell = Bell::default();
    let hog_started = Arc::new(AtomicBool::new(false));
    let hog_done = Arc::new(AtomicBool::new(false));
    let (t_thread_tx, t_thread_rx) = std::sync::mpsc::channel();
    let setup = {
        let (bell, hog_started, hog_done) = (bell.clone(), hog_started.clone(), hog_done.clone());
        rt.spawn(async move {
            let a_thread = std::thread::current().id();
            let t = {
                let (bell, hog_done) = (bell.clone(), hog_done.clone());
                runtime::spawn(async move {
                    t_thread_tx.send(std::thread::current().id()).unwrap();
                    bell.await;
                    (
                        !hog_done.load(Ordering::SeqCst),
                        std::thread::current().id(),
                    )
                })
            };
            while !bell.is_waiting() {
                task::yield_now().await; // T's first poll
            }
            runtime::spawn(async move {
                hog_started.store(true, Ordering::SeqCst);
                spin(Duration::from_millis(300));
                hog_done.store(true, Ordering::SeqCst);
            });
            (a_thread, t)
        })
    };
    let (a_thread, t) = rt.block_on(setup).unwrap();
    let t_first = t_thread_rx.recv().unwrap();
    while !hog_started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(20));
    bell.ring();
    let (early, t_ran_on) = rt.block_on(t).unwrap();
    stop.store(true, Ordering::SeqCst);
    rt.block_on(busy).unwrap();
    if a_thread == b_thread {
        return Run::SetupMissed("the setup task ran on the busy worker");
    }
    if t_first != a_thread {
        return Run::SetupMissed("T was first polled away from the hog's worker");
    }
    Run::Ran {
        early,
        on_busy_worker: t_ran_on == b_thread,
    }
}

#[test]
fn a_wake_behind_a_long_poll_is_taken_by_a_busy_worker() {
    let mut missed = Vec::new();
    for _ in 0..5 {
        match scenario() {
            Run::SetupMissed(why) => missed.push(why),
            Run::Ran {
                early,
                on_busy_worker,
            } => {
                assert!(early, "the woken task waited for the hog's poll to end");
                assert!(on_busy_worker, "the busy worker did not take the wake");
                return;
            }
        }
    }
    panic!("the scenario's setup never held: {missed:?}");
}
