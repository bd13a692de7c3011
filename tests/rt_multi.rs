//! The multi-thread flavor: tasks spread over the workers, idle workers take
//! work from busy ones, and an idle runtime parks its threads.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::task;
use tests::spin;

#[test]
fn cpu_bound_tasks_run_on_every_worker() {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let threads = threads.clone();
            rt.spawn(async move {
                for _ in 0..100 {
                    threads.lock().unwrap().insert(std::thread::current().id());
                    spin(Duration::from_micros(50));
                    task::yield_now().await;
                }
            })
        })
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(threads.lock().unwrap().len(), 2, "both workers ran tasks");
}

#[test]
fn short_tasks_are_not_stuck_behind_a_long_poll() {
    // One task hogs a worker for 300 ms in a single poll. Tasks spawned
    // meanwhile all finish on the other worker before that poll ends, wherever
    // the spawn put them first.
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let hog_done = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let hog = {
        let (hog_done, started) = (hog_done.clone(), started.clone());
        rt.spawn(async move {
            started.store(true, Ordering::SeqCst);
            spin(Duration::from_millis(300));
            hog_done.store(true, Ordering::SeqCst);
        })
    };
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let finished_early = rt.block_on(async {
        let shorts: Vec<_> = (0..20)
            .map(|i| runtime::spawn(async move { i * 2 }))
            .collect();
        let mut early = 0;
        for (i, h) in shorts.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i * 2);
            if !hog_done.load(Ordering::SeqCst) {
                early += 1;
            }
        }
        early
    });
    rt.block_on(hog).unwrap();
    assert_eq!(finished_early, 20, "short tasks waited for the long poll");
}

/// CPU time (user + system) of this process's threads named `name`, from
/// /proc; `None` where /proc is not available.
fn cpu_time_of_threads(name: &str) -> Option<Duration> {
    let mut ticks = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        // Fields after the command name, which is in parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    // The kernel reports in USER_HZ, 100 on every Linux ABI in use.
    Some(Duration::from_millis(ticks * 10))
}

#[test]
fn an_idle_runtime_uses_no_cpu() {
    // A unique thread name: other tests run in parallel in this process.
    let name = "idle-check";
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .build()
        .unwrap();
    // Let the workers run something, then go idle.
    rt.block_on(async { runtime::spawn(async {}).await.unwrap() });
    let Some(before) = cpu_time_of_threads(name) else {
        eprintln!("no /proc/self/task here; skipping");
        return;
    };
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_time_of_threads(name).unwrap() - before;
    // Two spinning workers would burn up to a second of CPU in these 500 ms.
    assert!(
        used <= Duration::from_millis(30),
        "idle workers used {used:?} of CPU"
    );
    drop(rt);
}

#[test]
fn a_wake_from_outside_reaches_a_task_on_any_worker() {
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let wakers = Arc::new(Mutex::new(Vec::new()));
    let count = 64;
    let handles: Vec<_> = (0..count)
        .map(|_| {
            let wakers = wakers.clone();
            rt.spawn(async move {
                let mut parked = false;
                std::future::poll_fn(|cx| {
                    if parked {
                        return std::task::Poll::Ready(());
                    }
                    parked = true;
                    wakers.lock().unwrap().push(cx.waker().clone());
                    std::task::Poll::Pending
                })
                .await;
            })
        })
        .collect();
    // Wait until every task has blocked, then wake them all from this thread.
    let deadline = Instant::now() + Duration::from_secs(20);
    while wakers.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "tasks never blocked");
        std::thread::sleep(Duration::from_millis(1));
    }
    for w in wakers.lock().unwrap().drain(..) {
        w.wake();
    }
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn a_spawn_from_a_worker_does_not_wait_for_its_long_poll() {
    // A task spawns a child, then hogs its worker for 300 ms in the same
    // poll. The child runs on the other (parked) worker meanwhile.
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for _ in 0..5 {
        let (hog, child_ran_early) = rt.block_on(async {
            runtime::spawn(async {
                let hog_done = Arc::new(AtomicBool::new(false));
                let flag = hog_done.clone();
                let child = runtime::spawn(async move { !flag.load(Ordering::SeqCst) });
                spin(Duration::from_millis(300));
                hog_done.store(true, Ordering::SeqCst);
                (std::thread::current().id(), child)
            })
            .await
            .unwrap()
        });
        let early = rt.block_on(child_ran_early).unwrap();
        assert!(early, "the child waited for its spawner's poll on {hog:?}");
    }
}

#[test]
fn a_spawn_left_for_its_spawner_is_taken_by_the_watching_worker() {
    // The spawner's first spawn waits in its own inbox, unannounced (a chain
    // of spawns should wake nobody). Here the spawner polls 20 ms first, so
    // the other worker has parked *watching* (another worker is polling),
    // then spawns, then hogs its worker for 300 ms more: the watcher must
    // take the child long before that poll ends.
    let rt = runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for _ in 0..3 {
        let (spawned, child) = rt.block_on(async {
            runtime::spawn(async {
                spin(Duration::from_millis(20));
                let spawned = Instant::now();
                let child = runtime::spawn(async { Instant::now() });
                spin(Duration::from_millis(300));
                (spawned, child)
            })
            .await
            .unwrap()
        });
        let waited = rt.block_on(child).unwrap() - spawned;
        assert!(
            waited < Duration::from_millis(150),
            "the child waited {waited:?} for its spawner's poll"
        );
    }
}
