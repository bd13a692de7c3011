//! What every scenario shares: the two runtimes behind one type, the few
//! runtime primitives the workloads use (yield, sleep, interval), busy
//! loops, hand-written wake sources and percentiles.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Which runtime a measurement ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Ours,
    Tokio,
}

impl Which {
    pub(crate) const BOTH: [Which; 2] = [Which::Ours, Which::Tokio];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Which::Ours => "runtime",
            Which::Tokio => "tokio",
        }
    }
}

/// Scheduling parameters for a spawn; tokio has neither, so it ignores them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TaskOpts {
    pub(crate) nice: i8,
    pub(crate) slice: Option<Duration>,
}

/// A spawned task's output, as a future (a task failure is a panic here:
/// every workload task is expected to finish).
pub(crate) type Join<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One of the two runtimes.
#[derive(Debug)]
pub(crate) enum Rt {
    Ours(runtime::Runtime),
    Tokio(tokio::runtime::Runtime),
}

impl Rt {
    /// The current-thread flavor: one worker, the thread inside `block_on`.
    /// `delayed_dequeue` applies to ours only.
    pub(crate) fn current_thread(which: Which, delayed_dequeue: bool) -> Rt {
        match which {
            Which::Ours => Rt::Ours(
                runtime::Builder::new_current_thread()
                    .enable_all()
                    .delayed_dequeue(delayed_dequeue)
                    .build()
                    .expect("build runtime"),
            ),
            Which::Tokio => Rt::Tokio(
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("build tokio"),
            ),
        }
    }

    /// The multi-thread flavor with `workers` worker threads.
    pub(crate) fn multi_thread(which: Which, workers: usize) -> Rt {
        match which {
            Which::Ours => Rt::Ours(
                runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
                    .expect("build runtime"),
            ),
            Which::Tokio => Rt::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_time()
                    .build()
                    .expect("build tokio"),
            ),
        }
    }

    pub(crate) fn which(&self) -> Which {
        match self {
            Rt::Ours(_) => Which::Ours,
            Rt::Tokio(_) => Which::Tokio,
        }
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            Rt::Ours(rt) => rt.block_on(future),
            Rt::Tokio(rt) => rt.block_on(future),
        }
    }

    /// Spawns with `opts` (ours through `task::Builder`; tokio ignores them).
    pub(crate) fn spawn<F>(&self, opts: TaskOpts, future: F) -> Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Rt::Ours(rt) => {
                let mut builder = runtime::task::Builder::new().nice(opts.nice);
                if let Some(slice) = opts.slice {
                    builder = builder.slice(slice);
                }
                let handle = builder.spawn_on(future, rt.handle()).expect("spawn");
                Box::pin(async move { handle.await.expect("task failed") })
            }
            Rt::Tokio(rt) => {
                let handle = rt.spawn(future);
                Box::pin(async move { handle.await.expect("task failed") })
            }
        }
    }

    /// Spawns with default parameters and drops the join handle (the task
    /// keeps running), through each runtime's plain `spawn`.
    pub(crate) fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match self {
            Rt::Ours(rt) => drop(rt.spawn(future)),
            Rt::Tokio(rt) => drop(rt.spawn(future)),
        }
    }
}

/// The runtime's own `yield_now`.
pub(crate) async fn yield_now(which: Which) {
    match which {
        Which::Ours => runtime::task::yield_now().await,
        Which::Tokio => tokio::task::yield_now().await,
    }
}

/// The runtime's own `time::sleep`.
pub(crate) async fn sleep(which: Which, d: Duration) {
    match which {
        Which::Ours => runtime::time::sleep(d).await,
        Which::Tokio => tokio::time::sleep(d).await,
    }
}

/// Yields by a plain self-wake: wakes its own waker during the poll and
/// returns `Pending` once, as hand-written futures commonly do.
#[derive(Debug, Default)]
pub(crate) struct SelfWake {
    woken: bool,
}

impl Future for SelfWake {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken {
            return Poll::Ready(());
        }
        self.woken = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The runtime's `time::interval`, set to skip missed ticks.
///
/// `Skip` rather than the default `Burst`: after a late tick, `Burst` fires
/// the missed ticks back to back, and each of those would count as another
/// late sample of one and the same delay. With `Skip` every served tick is
/// one sample, measured from its own scheduled instant, and the ticks that
/// fell entirely inside a delay are not served (they show as fewer ticks
/// served).
#[derive(Debug)]
pub(crate) enum Ticker {
    Ours(runtime::time::Interval),
    Tokio(tokio::time::Interval),
}

impl Ticker {
    /// Must be called from inside the runtime.
    pub(crate) fn new(which: Which, period: Duration) -> Ticker {
        match which {
            Which::Ours => {
                let mut i = runtime::time::interval(period);
                i.set_missed_tick_behavior(runtime::time::MissedTickBehavior::Skip);
                Ticker::Ours(i)
            }
            Which::Tokio => {
                let mut i = tokio::time::interval(period);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                Ticker::Tokio(i)
            }
        }
    }

    /// Waits for the next tick; returns its scheduled instant.
    pub(crate) async fn tick(&mut self) -> Instant {
        match self {
            Ticker::Ours(i) => i.tick().await,
            Ticker::Tokio(i) => i.tick().await.into_std(),
        }
    }
}

/// Busy-waits for `d`; returns how long it actually ran.
pub(crate) fn spin(d: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let ran = start.elapsed();
        if ran >= d {
            return ran;
        }
        std::hint::spin_loop();
    }
}

/// A small deterministic generator (xorshift64).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A duration uniformly drawn from `lo..hi` (microsecond steps).
    pub(crate) fn micros(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(lo + self.0 % (hi - lo).max(1))
    }
}

/// A wake source driven by a plain thread: the thread stamps the instant of
/// its wake call, the task takes the stamp when it is polled.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
}

#[derive(Debug, Default)]
struct SignalState {
    stamp: Option<Instant>,
    waker: Option<Waker>,
    closed: bool,
}

impl Signal {
    /// Called by the thread. Returns false, without waking, if the previous
    /// signal has not been taken yet (a missed wake, the thread-side
    /// counterpart of a skipped tick).
    pub(crate) fn notify(&self) -> bool {
        let waker = {
            let mut s = self.state.lock().expect("signal lock");
            if s.stamp.is_some() {
                return false;
            }
            s.stamp = Some(Instant::now());
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Ends the stream: the waiting task gets `None`.
    pub(crate) fn close(&self) {
        let waker = {
            let mut s = self.state.lock().expect("signal lock");
            s.closed = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Waits for the next signal; gives the instant of the thread's wake
    /// call, or `None` once closed.
    pub(crate) async fn wait(&self) -> Option<Instant> {
        poll_fn(|cx| {
            let mut s = self.state.lock().expect("signal lock");
            if let Some(stamp) = s.stamp.take() {
                return Poll::Ready(Some(stamp));
            }
            if s.closed {
                return Poll::Ready(None);
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// Completes once `count_down` has been called `n` times (like the channel
/// tokio's own yield_many benchmark waits on), without one join handle per
/// task.
#[derive(Debug)]
pub(crate) struct Countdown {
    left: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Countdown {
    pub(crate) fn new(n: usize) -> Countdown {
        Countdown {
            left: AtomicUsize::new(n),
            waker: Mutex::new(None),
        }
    }

    pub(crate) fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(w) = self.waker.lock().expect("countdown lock").take() {
                w.wake();
            }
        }
    }

    pub(crate) async fn wait(&self) {
        poll_fn(|cx| {
            if self.left.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            *self.waker.lock().expect("countdown lock") = Some(cx.waker().clone());
            if self.left.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await
    }
}

/// p50/p99/max of a set of latencies, and how many there were.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lateness {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
    pub(crate) count: usize,
}

impl Lateness {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Lateness {
        samples.sort_unstable();
        Lateness {
            p50: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            max: samples.last().copied().unwrap_or_default(),
            count: samples.len(),
        }
    }
}

/// The nearest-rank percentile of sorted samples (zero when empty).
pub(crate) fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(p * sorted.len()).div_ceil(100).clamp(1, sorted.len()) - 1]
}

/// Microseconds in `d`, as a float.
pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
