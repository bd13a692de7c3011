//! Timer lateness: how long after its deadline a sleeping task is polled,
//! p50/p99, on this runtime and on tokio in the same run, one worker each.
//!
//! - idle: 50 tasks, each sleeping a random 1..5 ms 40 times;
//! - busy: the same beside 2 CPU-bound tasks working 50 µs between yields.
//!
//! `cargo bench -p benches --bench timer_lateness` prints the table; under
//! `cargo test` it runs a tiny version as a smoke test.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A small deterministic generator for sleep lengths.
fn lengths(seed: u64, n: usize) -> Vec<Duration> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(1000 + x % 4000)
        })
        .collect()
}

/// The workload, written once: `sleep` and `yield_now` come from the runtime.
async fn workload<S, SF, Y, YF, P, H>(
    tasks: usize,
    sleeps: usize,
    busy: bool,
    spawn: P,
    sleep: S,
    yield_now: Y,
) -> Vec<Duration>
where
    S: Fn(Instant) -> SF + Clone + Send + 'static,
    SF: Future<Output = ()> + Send,
    Y: Fn() -> YF + Clone + Send + 'static,
    YF: Future<Output = ()> + Send,
    P: Fn(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> H,
    H: Future<Output = ()>,
{
    let late = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut burners = Vec::new();
    if busy {
        for _ in 0..2 {
            let (stop, yield_now) = (stop.clone(), yield_now.clone());
            burners.push(spawn(Box::pin(async move {
                while !stop.load(Ordering::Relaxed) {
                    spin(Duration::from_micros(50));
                    yield_now().await;
                }
            })));
        }
    }
    let mut sleepers = Vec::new();
    for t in 0..tasks {
        let (late, sleep) = (late.clone(), sleep.clone());
        sleepers.push(spawn(Box::pin(async move {
            for d in lengths(t as u64 + 1, sleeps) {
                let deadline = Instant::now() + d;
                sleep(deadline).await;
                late.lock().unwrap().push(deadline.elapsed());
            }
        })));
    }
    for s in sleepers {
        s.await;
    }
    stop.store(true, Ordering::Relaxed);
    for b in burners {
        b.await;
    }
    let mut late = std::mem::take(&mut *late.lock().unwrap());
    late.sort();
    late
}

fn ours(tasks: usize, sleeps: usize, busy: bool) -> Vec<Duration> {
    let rt = runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(workload(
        tasks,
        sleeps,
        busy,
        |f| {
            let h = runtime::spawn(f);
            async move { h.await.unwrap() }
        },
        |at| runtime::time::sleep_until(at),
        runtime::task::yield_now,
    ))
}

fn tokio(tasks: usize, sleeps: usize, busy: bool) -> Vec<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(workload(
        tasks,
        sleeps,
        busy,
        |f| {
            let h = tokio::spawn(f);
            async move { h.await.unwrap() }
        },
        |at| tokio::time::sleep_until(at.into()),
        tokio::task::yield_now,
    ))
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = ((p * sorted.len()).div_ceil(100)).max(1) - 1;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (tasks, sleeps) = if full { (50, 40) } else { (4, 3) };
    println!(
        "timer lateness (deadline to poll), one worker, {tasks} tasks x {sleeps} sleeps of 1..5 ms"
    );
    println!(
        "{:<6} {:>14} {:>14} {:>14} {:>14}",
        "", "runtime p50", "tokio p50", "runtime p99", "tokio p99"
    );
    for (label, busy) in [("idle", false), ("busy", true)] {
        let (a, b) = (ours(tasks, sleeps, busy), tokio(tasks, sleeps, busy));
        println!(
            "{:<6} {:>12.1}us {:>12.1}us {:>12.1}us {:>12.1}us",
            label,
            pct(&a, 50),
            pct(&b, 50),
            pct(&a, 99),
            pct(&b, 99)
        );
    }
}
