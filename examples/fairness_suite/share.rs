//! Scenario 1, weighted share: three CPU-bound tasks at nice 0, 3 and 6 on
//! one worker (the current-thread flavor), each working 50..100 µs between
//! `yield_now`s. A plain thread samples their cumulative busy time every
//! 50 ms for the plot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Rng, Rt, TaskOpts, Which, spin, yield_now};

pub(crate) const NICES: [i8; 3] = [0, 3, 6];
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The share each nice level's weight asks for.
pub(crate) fn wanted() -> [f64; 3] {
    let w = NICES.map(|n| {
        f64::from(
            runtime::sched::Weight::from_nice(i32::from(n))
                .expect("nice in range")
                .get(),
        )
    });
    let total: f64 = w.iter().sum();
    w.map(|x| x / total)
}

/// What one run measured.
#[derive(Debug, Clone)]
pub(crate) struct ShareRun {
    /// Each task's share of the three's combined busy time, whole run.
    pub(crate) shares: [f64; 3],
    /// Per sampling window: the window's end (seconds from the start) and
    /// each task's share of the busy time in that window.
    pub(crate) windows: Vec<(f64, [f64; 3])>,
}

pub(crate) fn run(which: Which, dur: Duration) -> ShareRun {
    let rt = Rt::current_thread(which, true);
    let busy: Arc<[AtomicU64; 3]> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    // The sampler: a plain thread, so it takes nothing from the worker.
    let sampler = {
        let (busy, stop) = (busy.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = vec![(0.0, [0u64; 3])];
            let mut next = start + SAMPLE_EVERY;
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep(next - now);
                }
                let t = start.elapsed().as_secs_f64();
                samples.push((t, std::array::from_fn(|i| busy[i].load(Ordering::Relaxed))));
                next += SAMPLE_EVERY;
            }
            samples
        })
    };

    let until = Instant::now() + dur;
    rt.block_on(async {
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let busy = busy.clone();
                rt.spawn(
                    TaskOpts {
                        nice: NICES[i],
                        slice: None,
                    },
                    async move {
                        let mut rng = Rng::new(i as u64 + 1);
                        while Instant::now() < until {
                            let ran = spin(rng.micros(50, 100));
                            busy[i].fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
                            yield_now(which).await;
                        }
                    },
                )
            })
            .collect();
        for t in tasks {
            t.await;
        }
    });
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler thread");

    let totals: [u64; 3] = std::array::from_fn(|i| busy[i].load(Ordering::Relaxed));
    let windows = samples
        .windows(2)
        .filter_map(|w| {
            let (_, a) = w[0];
            let (t, b) = w[1];
            let d: [u64; 3] = std::array::from_fn(|i| b[i] - a[i]);
            let sum: u64 = d.iter().sum();
            (sum > 0).then(|| (t, d.map(|x| x as f64 / sum as f64)))
        })
        .collect();
    ShareRun {
        shares: shares(totals),
        windows,
    }
}

/// Each entry's fraction of the sum.
pub(crate) fn shares<const N: usize>(busy: [u64; N]) -> [f64; N] {
    let total: u64 = busy.iter().sum();
    busy.map(|b| b as f64 / total.max(1) as f64)
}
