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
//! - two interactive tasks with a 100 µs slice, each doing 20 µs of work per
//!   event: one ticks every millisecond on the runtime's `time::interval`
//!   (tokio's on the tokio side), the other is woken every millisecond by a
//!   plain thread through its `Waker`.
//!
//! It prints each CPU-bound task's share of their combined run time against
//! the share its weight asks for, the ticking task's latency from each tick's
//! deadline to its poll, and the thread-woken task's latency from the wake to
//! its poll. Figures, not adjectives.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
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
    woken: Vec<Duration>,
}

/// A task woken from a plain thread: the thread stamps the time and wakes the
/// task's waker; the task records how long after the stamp it was polled.
#[derive(Default)]
struct Doorbell {
    state: Mutex<(Option<Waker>, Option<Instant>)>,
    latencies: Mutex<Vec<Duration>>,
    stop: AtomicBool,
}

impl Doorbell {
    /// Rings every `TICK_EVERY` until `until` (run on its own thread).
    fn ring_until(&self, until: Instant) {
        while Instant::now() < until {
            std::thread::sleep(TICK_EVERY);
            let waker = {
                let mut state = self.state.lock().unwrap();
                state.1.get_or_insert_with(Instant::now);
                state.0.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.state.lock().unwrap().0.take() {
            w.wake();
        }
    }
}

/// The thread-woken task's future: answers each ring with 20 µs of work.
struct Answer(Arc<Doorbell>);

impl Future for Answer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let bell = &self.0;
        let rung = {
            let mut state = bell.state.lock().unwrap();
            state.0 = Some(cx.waker().clone());
            state.1.take()
        };
        if let Some(at) = rung {
            bell.latencies.lock().unwrap().push(at.elapsed());
            spin(TICK_WORK);
        }
        if bell.stop.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
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
    let (bell, ringer) = ringer(until);
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
        let answer = runtime::task::Builder::new()
            .slice(Duration::from_micros(100))
            .spawn(Answer(bell.clone()))
            .expect("spawn");
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
        answer.await.expect("task");
    });
    ringer.join().expect("ringer");
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome {
        busy: busy.map(|b| b.load(Ordering::Relaxed)),
        latencies,
        woken: std::mem::take(&mut *bell.latencies.lock().unwrap()),
    }
}

/// The plain thread that wakes the second interactive task.
fn ringer(until: Instant) -> (Arc<Doorbell>, std::thread::JoinHandle<()>) {
    let bell = Arc::new(Doorbell::default());
    let b = bell.clone();
    (bell, std::thread::spawn(move || b.ring_until(until)))
}

fn run_tokio(secs: f64) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let busy: [Arc<AtomicU64>; 3] = Default::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let (bell, ringer) = ringer(until);
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
        let answer = tokio::spawn(Answer(bell.clone()));
        for t in tasks {
            t.await.expect("task");
        }
        interactive.await.expect("task");
        answer.await.expect("task");
    });
    ringer.join().expect("ringer");
    let latencies = std::mem::take(&mut *latencies.lock().unwrap());
    Outcome {
        busy: busy.map(|b| b.load(Ordering::Relaxed)),
        latencies,
        woken: std::mem::take(&mut *bell.latencies.lock().unwrap()),
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
    println!("{secs} s per runtime, one worker thread each; CPU-bound tasks work 50 us per poll;");
    println!("two interactive tasks (slice 100 us) work 20 us every 1 ms: one ticks on the");
    println!("runtime's interval, one is woken by a plain thread.\n");
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
    for (title, count, mut l_ours, mut l_tokio) in [
        (
            "interactive tick-to-poll",
            "ticks served",
            ours.latencies,
            theirs.latencies,
        ),
        (
            "thread wake-to-poll",
            "wakes served",
            ours.woken,
            theirs.woken,
        ),
    ] {
        l_ours.sort();
        l_tokio.sort();
        println!("\n{:<26} {:>10} {:>10}", title, "runtime", "tokio");
        for (label, p) in [("p50", 50), ("p99", 99)] {
            println!(
                "{:<26} {:>8.1}us {:>8.1}us",
                label,
                percentile(&l_ours, p).as_secs_f64() * 1e6,
                percentile(&l_tokio, p).as_secs_f64() * 1e6
            );
        }
        println!("{:<26} {:>10} {:>10}", count, l_ours.len(), l_tokio.len());
    }
}
