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
//! - one interactive task with a 100 µs slice, woken every millisecond by the
//!   runtime's `time::interval` (tokio's on the tokio side), doing 20 µs of
//!   work per tick.
//!
//! It prints each CPU-bound task's share of their combined run time against
//! the share its weight asks for, and the interactive task's latency from each
//! tick's deadline to its poll. Figures, not adjectives.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NICES: [i8; 3] = [0, 3, 6];
const WEIGHTS: [f64; 3] = [1024.0, 526.0, 272.0];
const STEP: Duration = Duration::from_micros(50);
const TICK_WORK: Duration = Duration::from_micros(20);
const TICK_EVERY: Duration = Duration::from_millis(1);

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
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

/// Records how late a tick was polled, then works a little.
fn on_tick(deadline: Instant, latencies: &Mutex<Vec<Duration>>) {
    latencies.lock().unwrap().push(deadline.elapsed());
    spin(TICK_WORK);
}

fn run_ours(secs: f64) -> Outcome {
    let rt = runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let busy: [Arc<AtomicU64>; 3] = Default::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
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
        let lat = latencies.clone();
        let interactive = runtime::task::Builder::new()
            .slice(Duration::from_micros(100))
            .spawn(async move {
                let mut every = runtime::time::interval(TICK_EVERY);
                while Instant::now() < until {
                    on_tick(every.tick().await, &lat);
                }
            })
            .expect("spawn");
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
    });
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome {
        busy: busy.map(|b| b.load(Ordering::Relaxed)),
        latencies,
    }
}

fn run_tokio(secs: f64) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let busy: [Arc<AtomicU64>; 3] = Default::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for busy in &busy {
            tasks.push(tokio::spawn(burn(
                until,
                busy.clone(),
                tokio::task::yield_now,
            )));
        }
        let lat = latencies.clone();
        let interactive = tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK_EVERY);
            while Instant::now() < until {
                on_tick(every.tick().await.into_std(), &lat);
            }
        });
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
    });
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
    println!("the interactive task (slice 100 us) ticks every 1 ms on the runtime's interval.\n");
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
        "interactive tick-to-poll", "runtime", "tokio"
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
        "ticks served",
        l_ours.len(),
        l_tokio.len()
    );
}
