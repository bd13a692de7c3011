//! The API's contract at its edges: misconfiguration is an `Err` naming the
//! value and what was expected, misuse outside a runtime is a panic saying so,
//! and the knobs a user turns (set_nice, abort) do what they say.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runtime::task;
use tests::spin;

/// The message of a builder error, which must be `InvalidInput`.
fn invalid(result: std::io::Result<impl Sized>) -> String {
    match result {
        Ok(_) => panic!("a misconfiguration was accepted"),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            e.to_string()
        }
    }
}

#[test]
fn zero_worker_threads_is_refused_on_either_flavor() {
    for mut builder in [
        runtime::Builder::new_multi_thread(),
        runtime::Builder::new_current_thread(),
    ] {
        let msg = invalid(builder.worker_threads(0).build());
        assert_eq!(
            msg,
            "Builder::worker_threads: 0 worker threads requested: expected at least 1"
        );
    }
}

#[test]
fn a_base_slice_out_of_range_is_refused_naming_it() {
    for (slice, shown) in [
        (Duration::ZERO, "0ns"),
        (Duration::from_micros(99), "99µs"),
        (Duration::from_micros(100_001), "100.001ms"),
        (Duration::from_secs(1), "1s"),
    ] {
        for mut builder in [
            runtime::Builder::new_multi_thread(),
            runtime::Builder::new_current_thread(),
        ] {
            let msg = invalid(builder.worker_threads(1).base_slice(slice).build());
            assert!(
                msg.starts_with("Builder::base_slice:") && msg.contains(shown),
                "{msg}"
            );
            assert!(msg.contains("100µs..=100ms"), "range missing: {msg}");
        }
    }
    // The bounds themselves are fine.
    for slice in [Duration::from_micros(100), Duration::from_millis(100)] {
        runtime::Builder::new_current_thread()
            .base_slice(slice)
            .build()
            .unwrap();
    }
}

#[test]
fn task_builder_refuses_bad_nice_and_slice_naming_them() {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    for nice in [-21i8, 20, 25, i8::MIN] {
        let msg = invalid(
            task::Builder::new()
                .nice(nice)
                .spawn_on(async {}, rt.handle()),
        );
        assert!(
            msg.starts_with("task::Builder::nice:")
                && msg.contains(&nice.to_string())
                && msg.contains("-20..=19"),
            "{msg}"
        );
    }
    for (slice, shown) in [
        (Duration::from_micros(99), "99µs"),
        (Duration::from_millis(101), "101ms"),
    ] {
        let msg = invalid(
            task::Builder::new()
                .slice(slice)
                .spawn_on(async {}, rt.handle()),
        );
        assert!(
            msg.starts_with("task::Builder::slice:")
                && msg.contains(shown)
                && msg.contains("100µs..=100ms"),
            "{msg}"
        );
    }
    // A good configuration spawns, names and weighs the task.
    let h = task::Builder::new()
        .name("ok")
        .nice(-20)
        .slice(Duration::from_micros(100))
        .spawn_on(async { task::current().nice() }, rt.handle())
        .unwrap();
    assert_eq!(h.info().name(), Some("ok"));
    assert_eq!(rt.block_on(h).unwrap(), -20);
}

#[test]
#[should_panic(expected = "runtime::spawn called outside a runtime")]
fn spawn_outside_a_runtime_panics_saying_so() {
    drop(runtime::spawn(async {}));
}

#[test]
fn set_nice_changes_the_share() {
    // Two CPU-bound tasks that poll ~50 µs and yield, for about a second; one
    // sets itself to nice 5 at its start. Shares of the runtime's own
    // accounting (exec_runtime) follow 1024:335, not 1:1.
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    let until = Instant::now() + Duration::from_secs(1);
    let spent: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let handles: Vec<_> = [None, Some(5i8)]
        .into_iter()
        .enumerate()
        .map(|(i, nice)| {
            let spent = spent.clone();
            rt.spawn(async move {
                if let Some(nice) = nice {
                    task::set_nice(nice).unwrap();
                    task::yield_now().await; // the reweight applies at the poll's end
                    assert_eq!(task::current().nice(), i32::from(nice));
                }
                let before = task::current().exec_runtime();
                while Instant::now() < until {
                    spin(Duration::from_micros(50));
                    task::yield_now().await;
                }
                let ran = task::current().exec_runtime() - before;
                spent[i].store(ran.as_nanos() as u64, Ordering::Relaxed);
            })
        })
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let a = spent[0].load(Ordering::Relaxed) as f64;
    let b = spent[1].load(Ordering::Relaxed) as f64;
    let share = b / (a + b);
    let want = 335.0 / (1024.0 + 335.0);
    assert!(
        (share - want).abs() < 0.03,
        "the nice 5 task got {share:.4} of the worker, want {want:.4}"
    );
}

#[test]
fn abort_before_the_first_poll_on_a_busy_multi_thread_worker() {
    // Spawned from inside a task on a one-worker runtime, the child cannot be
    // polled before its spawner's poll ends, so an abort in that same poll
    // always comes first: the child is never polled, its future is dropped
    // once, and its JoinHandle says cancelled.
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let polls = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (p, d) = (polls.clone(), drops.clone());
    let result = rt.block_on(rt.spawn(async move {
        let probe = Probe(d);
        let child = runtime::spawn(async move {
            let _probe = probe;
            p.fetch_add(1, Ordering::SeqCst);
        });
        child.abort();
        child.await
    }));
    let err = result.unwrap().unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(polls.load(Ordering::SeqCst), 0, "the aborted child ran");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the future was not dropped once"
    );
}

/// Runs `f` on its own thread and fails (instead of hanging) if it takes
/// longer than `limit`.
fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

#[test]
fn block_on_polls_its_future_again_after_each_wake() {
    for (name, rt) in tests::all_runtimes() {
        let total = within(Duration::from_secs(30), move || {
            rt.block_on(async {
                let handles: Vec<_> = (0..100u64)
                    .map(|i| {
                        runtime::spawn(async move {
                            task::yield_now().await;
                            i
                        })
                    })
                    .collect();
                let mut total = 0;
                for h in handles {
                    total += h.await.unwrap();
                }
                total
            })
        });
        assert_eq!(total, 4950, "{name}");
    }
}

#[test]
fn block_on_is_polled_while_tasks_keep_yielding() {
    // On a current-thread runtime `block_on` runs the tasks between polls
    // of its own future; a task that never stops yielding must not keep
    // that future from its turn.
    let done = within(Duration::from_secs(30), || {
        let rt = runtime::Builder::new_current_thread().build().unwrap();
        let stop = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let spinner = {
                let stop = stop.clone();
                runtime::spawn(async move {
                    while stop.load(Ordering::Relaxed) == 0 {
                        task::yield_now().await;
                    }
                })
            };
            let got = runtime::spawn(async move {
                for _ in 0..10 {
                    task::yield_now().await;
                }
                7
            })
            .await
            .unwrap();
            stop.store(1, Ordering::Relaxed);
            spinner.await.unwrap();
            got
        })
    });
    assert_eq!(done, 7);
}
