//! The same workload on this runtime and on tokio, in one process, side by side.
//!
//! ```text
//! cargo run --release --example fairness [-- SECONDS]
//! ```
//!
//! On one worker thread (the current-thread flavor of each runtime):
//!
//! - three CPU-bound tasks at nice 0, 3 and 6, each working 50 µs between
//!   `yield_now`s (tokio has no nice levels, so there they are equals);
//! - one interactive task with a 100 µs slice, woken every millisecond by a
//!   plain thread, doing 20 µs of work per wake.
//!
//! It prints each CPU-bound task's share of their combined run time against
//! the share its weight asks for, and the interactive task's wake-to-poll
//! latency percentiles. Figures, not adjectives.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

const NICES: [i8; 3] = [0, 3, 6];
const WEIGHTS: [f64; 3] = [1024.0, 526.0, 272.0];
const STEP: Duration = Duration::from_micros(50);
const WAKE_WORK: Duration = Duration::from_micros(20);
const WAKE_EVERY: Duration = Duration::from_millis(1);

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Rung from a plain thread; awaiting it yields the instant it was rung.
#[derive(Default)]
struct Doorbell {
    inner: Mutex<(Option<Instant>, Option<Waker>)>,
}

impl Doorbell {
    fn ring(&self) {
        let waker = {
            let mut inner = self.inner.lock().unwrap();
            inner.0.get_or_insert_with(Instant::now);
            inner.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(self: &Arc<Self>) -> Ring {
        Ring(self.clone())
    }
}

struct Ring(Arc<Doorbell>);

impl Future for Ring {
    type Output = Instant;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let mut inner = self.0.inner.lock().unwrap();
        match inner.0.take() {
            Some(at) => Poll::Ready(at),
            None => {
                inner.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// What one run measured.
struct Outcome {
    busy: [u64; 3],
    latencies: Vec<Duration>,
}

/// The CPU-bound loop, written once for both runtimes.
async fn burn<Y: Future<Output = ()>>(
    until: Instant,
    busy: Arc<AtomicU64>,
    yield_now: impl Fn() -> Y,
) {
    while Instant::now() < until {
        let start = Instant::now();
        spin(STEP);
        busy.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        yield_now().await;
    }
}

/// The interactive loop: records wake-to-poll latency, works a little.
async fn interact(until: Instant, bell: Arc<Doorbell>, latencies: Arc<Mutex<Vec<Duration>>>) {
    while Instant::now() < until {
        let rung = bell.wait().await;
        latencies.lock().unwrap().push(rung.elapsed());
        spin(WAKE_WORK);
    }
}

/// Rings the doorbell every millisecond until told to stop.
fn ringer(bell: Arc<Doorbell>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(WAKE_EVERY);
            bell.ring();
        }
    })
}

fn run_ours(secs: f64) -> Outcome {
    let rt = runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let busy: [Arc<AtomicU64>; 3] = Default::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let bell = Arc::new(Doorbell::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ring = ringer(bell.clone(), stop.clone());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (nice, busy) in NICES.iter().zip(&busy) {
            let fut = burn(until, busy.clone(), runtime::task::yield_now);
            tasks.push(
                runtime::task::Builder::new()
                    .nice(*nice)
                    .spawn(fut)
                    .expect("spawn"),
            );
        }
        let interactive = runtime::task::Builder::new()
            .slice(Duration::from_micros(100))
            .spawn(interact(until, bell.clone(), latencies.clone()))
            .expect("spawn");
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
    });
    stop.store(true, Ordering::Relaxed);
    ring.join().unwrap();
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome {
        busy: busy.map(|b| b.load(Ordering::Relaxed)),
        latencies,
    }
}

fn run_tokio(secs: f64) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let busy: [Arc<AtomicU64>; 3] = Default::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let bell = Arc::new(Doorbell::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ring = ringer(bell.clone(), stop.clone());
    rt.block_on(async {
        let mut tasks = Vec::new();
        for busy in &busy {
            tasks.push(tokio::spawn(burn(
                until,
                busy.clone(),
                tokio::task::yield_now,
            )));
        }
        let interactive = tokio::spawn(interact(until, bell.clone(), latencies.clone()));
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
    });
    stop.store(true, Ordering::Relaxed);
    ring.join().unwrap();
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome {
        busy: busy.map(|b| b.load(Ordering::Relaxed)),
        latencies,
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((p * sorted.len()).div_ceil(100)).max(1) - 1]
}

fn main() {
    let secs: f64 = match std::env::args().nth(1) {
        None => 3.0,
        Some(arg) => match arg.parse::<f64>() {
            Ok(s) if s > 0.0 && s <= 600.0 => s,
            _ => {
                eprintln!("fairness: SECONDS must be a number in (0, 600], got {arg:?}");
                std::process::exit(2);
            }
        },
    };
    println!("{secs} s per runtime, one worker thread each; CPU-bound tasks work 50 us per poll,");
    println!("the interactive task (slice 100 us) is woken every 1 ms by a plain thread.\n");
    let ours = run_ours(secs);
    let theirs = run_tokio(secs);

    let total_w: f64 = WEIGHTS.iter().sum();
    let shares = |o: &Outcome| {
        let total: u64 = o.busy.iter().sum();
        o.busy.map(|b| b as f64 / total.max(1) as f64)
    };
    let (s_ours, s_tokio) = (shares(&ours), shares(&theirs));
    println!(
        "{:<14} {:>8} {:>10} {:>10}",
        "CPU-bound task", "wants", "runtime", "tokio"
    );
    for i in 0..3 {
        println!(
            "{:<14} {:>8.3} {:>10.3} {:>10.3}",
            format!("nice {}", NICES[i]),
            WEIGHTS[i] / total_w,
            s_ours[i],
            s_tokio[i]
        );
    }
    println!();
    let mut l_ours = ours.latencies;
    let mut l_tokio = theirs.latencies;
    l_ours.sort();
    l_tokio.sort();
    println!(
        "{:<26} {:>10} {:>10}",
        "interactive wake-to-poll", "runtime", "tokio"
    );
    for (label, p) in [("p50", 50), ("p99", 99)] {
        println!(
            "{:<26} {:>8.1}us {:>8.1}us",
            label,
            percentile(&l_ours, p).as_secs_f64() * 1e6,
            percentile(&l_tokio, p).as_secs_f64() * 1e6
        );
    }
    println!(
        "{:<26} {:>10} {:>10}",
        "wakes served",
        l_ours.len(),
        l_tokio.len()
    );
}
