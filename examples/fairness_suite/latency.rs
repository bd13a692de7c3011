//! Scenario 2, interactive latency under load, and scenario 4, one bad task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::{
    Lateness, Rt, SelfWake, Signal, TaskOpts, Ticker, Which, sleep, spin, yield_now,
};

/// How often the interactive task is woken.
pub(crate) const PERIOD: Duration = Duration::from_millis(1);
/// The interactive task's slice on our runtime: the smallest allowed
/// (`runtime::sched::MIN_SLICE`, 100 µs).
pub(crate) const INTERACTIVE_SLICE: Duration = runtime::sched::MIN_SLICE;
/// CPU-bound hog tasks per worker.
pub(crate) const HOGS_PER_WORKER: usize = 8;

/// How the hogs behave, and what wakes the interactive task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// Hogs poll ~100 µs, then `yield_now`; interval-driven interactive task.
    YieldNow,
    /// Hogs poll ~100 µs, then yield by a plain self-wake.
    SelfWake,
    /// Hogs poll ~1 ms, then `yield_now`.
    LongPolls,
    /// `YieldNow` hogs; the interactive task is woken by a plain thread.
    ThreadWoken,
}

impl Variant {
    pub(crate) const ALL: [Variant; 4] = [
        Variant::YieldNow,
        Variant::SelfWake,
        Variant::LongPolls,
        Variant::ThreadWoken,
    ];

    pub(crate) fn key(self) -> &'static str {
        match self {
            Variant::YieldNow => "2a",
            Variant::SelfWake => "2b",
            Variant::LongPolls => "2c",
            Variant::ThreadWoken => "2d",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Variant::YieldNow => "interval tick, hogs 100us + yield_now",
            Variant::SelfWake => "interval tick, hogs 100us + self-wake",
            Variant::LongPolls => "interval tick, hogs 1ms + yield_now",
            Variant::ThreadWoken => "thread wake, hogs 100us + yield_now",
        }
    }

    fn hog_poll(self) -> Duration {
        match self {
            Variant::LongPolls => Duration::from_millis(1),
            _ => Duration::from_micros(100),
        }
    }
}

/// A CPU-bound task: polls for `poll` of work, then yields, until `until`.
async fn hog(which: Which, until: Instant, poll: Duration, self_wake: bool) {
    while Instant::now() < until {
        spin(poll);
        if self_wake {
            SelfWake::default().await;
        } else {
            yield_now(which).await;
        }
    }
}

/// Lateness of the interactive task: from each tick's scheduled instant (or
/// the waking thread's wake call) to the task's poll.
pub(crate) fn interactive(
    which: Which,
    workers: usize,
    variant: Variant,
    dur: Duration,
) -> Lateness {
    let rt = Rt::multi_thread(which, workers);
    let until = Instant::now() + dur;
    let signal = Arc::new(Signal::default());
    let waker_thread = (variant == Variant::ThreadWoken).then(|| {
        let signal = signal.clone();
        std::thread::spawn(move || {
            let mut next = Instant::now() + PERIOD;
            while next < until {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep(next - now);
                }
                signal.notify();
                next += PERIOD;
            }
            signal.close();
        })
    });

    let samples = rt.block_on(async {
        let hogs: Vec<_> = (0..HOGS_PER_WORKER * workers)
            .map(|_| {
                rt.spawn(
                    TaskOpts::default(),
                    hog(
                        which,
                        until,
                        variant.hog_poll(),
                        variant == Variant::SelfWake,
                    ),
                )
            })
            .collect();
        let opts = TaskOpts {
            nice: 0,
            slice: Some(INTERACTIVE_SLICE),
        };
        let interactive = if variant == Variant::ThreadWoken {
            let signal = signal.clone();
            rt.spawn(opts, async move {
                let mut late = Vec::new();
                while let Some(woken_at) = signal.wait().await {
                    late.push(woken_at.elapsed());
                }
                late
            })
        } else {
            rt.spawn(opts, async move {
                let mut late = Vec::new();
                let mut ticker = Ticker::new(which, PERIOD);
                loop {
                    let scheduled = ticker.tick().await;
                    let now = Instant::now();
                    if now >= until {
                        break late;
                    }
                    late.push(now - scheduled);
                }
            })
        };
        let late = interactive.await;
        for h in hogs {
            h.await;
        }
        late
    });
    if let Some(t) = waker_thread {
        t.join().expect("waker thread");
    }
    Lateness::of(samples)
}

/// Parameters of scenario 4.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BadTask {
    pub(crate) workers: usize,
    pub(crate) poll: Duration,
    pub(crate) reps: u32,
    pub(crate) gap: Duration,
    pub(crate) others: usize,
}

/// Scenario 4: one task polls for `poll` without yielding, `reps` times
/// with a sleep of `gap` between; `others` tasks tick every 1 ms meanwhile.
/// Gives the others' lateness from each tick's scheduled instant.
pub(crate) fn bad_task(which: Which, p: BadTask) -> Lateness {
    let rt = Rt::multi_thread(which, p.workers);
    let stop = Arc::new(AtomicBool::new(false));
    let samples = rt.block_on(async {
        let others: Vec<_> = (0..p.others)
            .map(|_| {
                let stop = stop.clone();
                rt.spawn(TaskOpts::default(), async move {
                    let mut late = Vec::new();
                    let mut ticker = Ticker::new(which, PERIOD);
                    loop {
                        let scheduled = ticker.tick().await;
                        if stop.load(Ordering::Relaxed) {
                            break late;
                        }
                        late.push(scheduled.elapsed());
                    }
                })
            })
            .collect();
        // Let the tickers start before the bad task does.
        sleep(which, Duration::from_millis(5)).await;
        let bad = rt.spawn(TaskOpts::default(), async move {
            for _ in 0..p.reps {
                spin(p.poll);
                sleep(which, p.gap).await;
            }
        });
        bad.await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for o in others {
            all.extend(o.await);
        }
        all
    });
    Lateness::of(samples)
}
