//! Wake storms: thousands of tasks woken many times, concurrently, from outside
//! and inside the runtime, checking that no wake is ever lost.
//!
//! Each of `N` tasks waits `K` times on its own [`Doorbell`] (a
//! `Mutex<(rings, waker)>`; a wait completes once `rings > seen`). A lost wake
//! leaves a task waiting forever, so each scenario runs the runtime on its own
//! thread and the test waits for it on a channel with a timeout, failing with
//! the stuck tasks' state instead of hanging. Each wait lingers briefly after
//! registering its waker, so that wakes and aborts often land during a poll.
//!
//! - `external_ringers`: 3 std threads ring random doorbells (xorshift RNG),
//!   only those whose task waits, while `block_on` awaits every `JoinHandle`:
//!   every task must see exactly `K` rings and finish.
//! - `tasks_ring_each_other`: in each of `K` rounds task `i` rings task
//!   `(i*7+1) % N`, then waits for its own ring of that round; every task must
//!   finish all rounds.
//! - `wakes_race_aborts`: as `external_ringers`, while another thread aborts a
//!   random quarter of the tasks at random moments. Each aborted task ends
//!   cancelled or `Ok` (never lost, never a panic), and surely cancelled if it
//!   was still two rings short when `abort` returned; no task that was not
//!   aborted is cancelled; every future is dropped exactly once.
//!
//! Every scenario runs on each runtime from [`runtimes`] (the one place to add
//! a flavor), once per seed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use runtime::Runtime;
use runtime::task::{AbortHandle, JoinHandle};
use tests::all_runtimes as runtimes;

/// Each runtime from [`runtimes`], once per seed.
fn seeded_runtimes() -> Vec<(u64, (&'static str, Runtime))> {
    (0..SEEDS)
        .flat_map(|seed| runtimes().into_iter().map(move |rt| (seed, rt)))
        .collect()
}

/// Tasks per scenario (coprime with 7, so `i -> (7i+1) % N` is a permutation).
const N: usize = 3000;
/// Waits per task.
const K: u64 = 20;
/// Ringer threads.
const RINGERS: u64 = 3;
/// Busy time at the end of each `Pending` poll of a wait.
const LINGER: Duration = Duration::from_micros(2);
/// Repetitions of each scenario on each runtime, with different RNG seeds.
const SEEDS: u64 = 2;
/// How long a scenario may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// xorshift64: a tiny deterministic RNG.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ===== the doorbell =====

#[derive(Default)]
struct Bell {
    rings: u64,
    waker: Option<Waker>,
}

/// A task's doorbell: a ring count and the waker of the task waiting on it.
#[derive(Default)]
struct Doorbell {
    state: Mutex<Bell>,
    /// A wait on this doorbell is being polled (set on entry, cleared before
    /// it returns `Pending`).
    in_poll: AtomicBool,
}

impl Doorbell {
    /// Rings: one more ring, and wakes the waiter if there is one.
    fn ring(&self) {
        let waker = {
            let mut bell = lock(&self.state);
            bell.rings += 1;
            bell.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Rings only if a task is waiting (has registered its waker); returns
    /// whether it rang. Every such ring is consumed by its own wait.
    fn ring_if_waiting(&self) -> bool {
        let waker = {
            let mut bell = lock(&self.state);
            let Some(waker) = bell.waker.take() else {
                return false;
            };
            bell.rings += 1;
            waker
        };
        waker.wake();
        true
    }

    /// Completes with the ring count once it exceeds `seen`.
    fn wait(&self, seen: u64) -> Wait<'_> {
        Wait { bell: self, seen }
    }

    fn rings(&self) -> u64 {
        lock(&self.state).rings
    }

    fn has_waiter(&self) -> bool {
        lock(&self.state).waker.is_some()
    }
}

struct Wait<'a> {
    bell: &'a Doorbell,
    seen: u64,
}

impl Future for Wait<'_> {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        self.bell.in_poll.store(true, SeqCst);
        let mut bell = lock(&self.bell.state);
        if bell.rings > self.seen {
            return Poll::Ready(bell.rings);
        }
        if !bell.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            bell.waker = Some(cx.waker().clone());
        }
        drop(bell);
        // Linger a little with the waker registered, so that wakes (and
        // aborts) from other threads often land while this poll still runs.
        let start = Instant::now();
        while start.elapsed() < LINGER {
            std::hint::spin_loop();
        }
        self.bell.in_poll.store(false, SeqCst);
        Poll::Pending
    }
}

// ===== shared state of a scenario =====

/// Everything the tasks, the helper threads and the test share.
struct Storm {
    bells: Vec<Doorbell>,
    /// Rings each task has seen so far (for the diagnostics).
    seen: Vec<AtomicU64>,
    /// Drops of each task's future.
    drops: Vec<AtomicU32>,
    /// Set just before a task is aborted.
    aborted: Vec<AtomicBool>,
    /// The task's doorbell rings, read just after `abort` returned.
    rings_at_abort: Vec<AtomicU64>,
    /// Rings so far, all doorbells together.
    total_rings: AtomicU64,
    /// Tells the helper threads to stop.
    stop: AtomicBool,
}

impl Storm {
    fn new() -> Arc<Storm> {
        Arc::new(Storm {
            bells: (0..N).map(|_| Doorbell::default()).collect(),
            seen: (0..N).map(|_| AtomicU64::new(0)).collect(),
            drops: (0..N).map(|_| AtomicU32::new(0)).collect(),
            aborted: (0..N).map(|_| AtomicBool::new(false)).collect(),
            rings_at_abort: (0..N).map(|_| AtomicU64::new(u64::MAX)).collect(),
            total_rings: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// The state of the first unfinished tasks (those whose future is still
    /// alive), for a failure message.
    fn stuck_report(&self) -> String {
        let stuck: Vec<usize> = (0..N)
            .filter(|&i| self.drops[i].load(SeqCst) == 0)
            .collect();
        let mut report = format!(
            "{} of {N} tasks unfinished (a task that saw every ring of its \
             doorbell and has no waker registered was woken and never polled again)",
            stuck.len()
        );
        for &i in stuck.iter().take(8) {
            report += &format!(
                "\n  task {i}: seen {} of {K}, doorbell rings {}, waker registered {}, aborted {}",
                self.seen[i].load(SeqCst),
                self.bells[i].rings(),
                self.bells[i].has_waiter(),
                self.aborted[i].load(SeqCst),
            );
        }
        report
    }
}

/// Counts the drop of task `i`'s future. Created before the task's async block
/// and moved into it, so it goes with the future whether that completes, is
/// dropped unfinished, or is dropped before its first poll.
struct DropGuard {
    storm: Arc<Storm>,
    i: usize,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.storm.drops[self.i].fetch_add(1, SeqCst);
    }
}

/// Task `i` of the external-ringer scenarios: waits until its doorbell has
/// rung `K` times; returns the rings it saw.
fn wait_k_times(storm: Arc<Storm>, i: usize) -> impl Future<Output = u64> + Send + 'static {
    let guard = DropGuard {
        storm: storm.clone(),
        i,
    };
    async move {
        let _guard = guard;
        let mut seen = 0;
        while seen < K {
            seen = storm.bells[i].wait(seen).await;
            storm.seen[i].store(seen, SeqCst);
        }
        seen
    }
}

/// A ringer thread: rings random doorbells whose task waits, until told to
/// stop. Returns how many times it rang.
fn ringer(storm: Arc<Storm>, seed: u64) -> u64 {
    let mut rng = XorShift::new(seed);
    let mut rung = 0;
    let mut misses = 0u32;
    while !storm.stop.load(SeqCst) {
        let i = rng.below(N);
        if storm.bells[i].ring_if_waiting() {
            rung += 1;
            misses = 0;
            storm.total_rings.fetch_add(1, SeqCst);
        } else {
            misses += 1;
            if misses.is_multiple_of(32) {
                thread::yield_now();
            }
            if misses >= 4096 {
                // Nobody is waiting (the runtime is behind): let it catch up.
                thread::sleep(Duration::from_micros(100));
                misses = 0;
            }
        }
    }
    rung
}

/// Runs `scenario` (which drives `rt`) on its own thread and waits for its
/// result; on timeout, stops the helper threads and fails with the stuck
/// tasks' state.
fn run_guarded<T: Send + 'static>(
    name: &str,
    storm: &Arc<Storm>,
    scenario: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let worker = thread::spawn(move || {
        let out = scenario();
        let _ = tx.send(out);
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(out) => {
            worker.join().unwrap();
            eprintln!("{name}: {:?}", start.elapsed());
            out
        }
        Err(RecvTimeoutError::Timeout) => {
            storm.stop.store(true, SeqCst);
            panic!(
                "{name}: lost wake? the runtime did not finish within {TIMEOUT:?}: {}",
                storm.stuck_report()
            );
        }
        Err(RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the scenario thread ended without sending"),
        },
    }
}

/// Awaits every handle inside `block_on`; returns the results in task order.
fn join_all<T: Send + 'static>(
    rt: &Runtime,
    handles: Vec<JoinHandle<T>>,
) -> Vec<Result<T, runtime::task::JoinError>> {
    rt.block_on(async {
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await);
        }
        results
    })
}

// ===== scenarios =====

/// Ringer threads wake random waiting tasks from outside the runtime, while
/// `block_on` awaits every `JoinHandle`.
#[test]
fn external_ringers() {
    for (seed, (flavor, rt)) in seeded_runtimes() {
        let storm = Storm::new();
        let name = format!("external_ringers, {flavor}, seed {seed}");
        let s = storm.clone();
        let rings = run_guarded(&name, &storm, move || {
            let ringers: Vec<_> = (0..RINGERS)
                .map(|t| {
                    let s = s.clone();
                    thread::spawn(move || ringer(s, seed * 16 + t))
                })
                .collect();
            let handles = rt.block_on(async {
                (0..N)
                    .map(|i| runtime::spawn(wait_k_times(s.clone(), i)))
                    .collect::<Vec<_>>()
            });
            let results = join_all(&rt, handles);
            s.stop.store(true, SeqCst);
            let rings: u64 = ringers.into_iter().map(|r| r.join().unwrap()).sum();
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Ok(seen) => {
                        assert_eq!(seen, K, "{flavor}, seed {seed}: task {i} saw {seen} rings")
                    }
                    Err(e) => panic!("{flavor}, seed {seed}: task {i}: {e:?}"),
                }
            }
            drop(rt);
            rings
        });
        assert_eq!(
            rings,
            N as u64 * K,
            "{flavor}, seed {seed}: rings consumed by waits"
        );
        for i in 0..N {
            assert_eq!(
                storm.bells[i].rings(),
                K,
                "{flavor}, seed {seed}: task {i}: doorbell rings"
            );
            assert_eq!(
                storm.drops[i].load(SeqCst),
                1,
                "{flavor}, seed {seed}: task {i}: drops"
            );
        }
    }
}

/// Tasks wake each other from inside the runtime: in each of `K` rounds, task
/// `i` rings task `(i*7+1) % N`, then waits for its own ring of that round.
#[test]
fn tasks_ring_each_other() {
    fn next(i: usize) -> usize {
        (i * 7 + 1) % N
    }
    // Each doorbell has exactly one ringer, or the rounds would not add up.
    let mut hit = vec![false; N];
    for i in 0..N {
        assert!(!hit[next(i)], "(i*7+1) % {N} is not a permutation");
        hit[next(i)] = true;
    }

    for (seed, (flavor, rt)) in seeded_runtimes() {
        let storm = Storm::new();
        let name = format!("tasks_ring_each_other, {flavor}, seed {seed}");
        let s = storm.clone();
        run_guarded(&name, &storm, move || {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let s = s.clone();
                    let guard = DropGuard {
                        storm: s.clone(),
                        i,
                    };
                    rt.spawn(async move {
                        let _guard = guard;
                        let mut seen = 0;
                        for round in 1..=K {
                            s.bells[next(i)].ring();
                            while seen < round {
                                seen = s.bells[i].wait(seen).await;
                                s.seen[i].store(seen, SeqCst);
                            }
                        }
                        seen
                    })
                })
                .collect();
            let results = join_all(&rt, handles);
            for (i, result) in results.into_iter().enumerate() {
                match result {
                    Ok(seen) => assert_eq!(
                        seen, K,
                        "{flavor}, seed {seed}: task {i} ended at {seen} rings"
                    ),
                    Err(e) => panic!("{flavor}, seed {seed}: task {i}: {e:?}"),
                }
            }
            drop(rt);
        });
        for i in 0..N {
            assert_eq!(
                storm.bells[i].rings(),
                K,
                "{flavor}, seed {seed}: task {i}: doorbell rings"
            );
            assert_eq!(
                storm.drops[i].load(SeqCst),
                1,
                "{flavor}, seed {seed}: task {i}: drops"
            );
        }
    }
}

/// Ringer threads wake random waiting tasks while an aborter thread aborts a
/// random quarter of them at random moments of the storm (one victim in four
/// while it is being polled, if it manages).
#[test]
fn wakes_race_aborts() {
    for (seed, (flavor, rt)) in seeded_runtimes() {
        let storm = Storm::new();
        let name = format!("wakes_race_aborts, {flavor}, seed {seed}");
        let s = storm.clone();
        let (results, victims) = run_guarded(&name, &storm, move || {
            let handles: Vec<_> = (0..N)
                .map(|i| rt.spawn(wait_k_times(s.clone(), i)))
                .collect();
            // A random quarter of the tasks, each to be aborted once the storm
            // has rung a random number of times (within its first quarter).
            let mut rng = XorShift::new(seed * 16 + 4);
            let mut victims: Vec<(u64, usize, AbortHandle)> = Vec::new();
            for (i, handle) in handles.iter().enumerate() {
                if rng.below(4) == 0 {
                    let at = rng.next() % (N as u64 * K / 4);
                    victims.push((at, i, handle.abort_handle()));
                }
            }
            victims.sort_by_key(|v| v.0);
            let victim_count = victims.len();
            let aborter = {
                let s = s.clone();
                thread::spawn(move || {
                    for (n, (at, i, abort)) in victims.into_iter().enumerate() {
                        while s.total_rings.load(SeqCst) < at {
                            if s.stop.load(SeqCst) {
                                return;
                            }
                            thread::yield_now();
                        }
                        if n % 4 == 0 {
                            // Aim at a running poll: ring the victim if it
                            // waits, then abort as soon as it is being polled
                            // (or after 2 ms).
                            let bell = &s.bells[i];
                            let deadline = Instant::now() + Duration::from_millis(2);
                            while !bell.in_poll.load(SeqCst) && Instant::now() < deadline {
                                if bell.ring_if_waiting() {
                                    s.total_rings.fetch_add(1, SeqCst);
                                }
                                std::hint::spin_loop();
                            }
                        }
                        s.aborted[i].store(true, SeqCst);
                        abort.abort();
                        s.rings_at_abort[i].store(s.bells[i].rings(), SeqCst);
                    }
                })
            };
            let ringers: Vec<_> = (0..RINGERS)
                .map(|t| {
                    let s = s.clone();
                    thread::spawn(move || ringer(s, seed * 16 + 8 + t))
                })
                .collect();
            let results = join_all(&rt, handles);
            s.stop.store(true, SeqCst);
            aborter.join().unwrap();
            for r in ringers {
                r.join().unwrap();
            }
            // Every future is gone once its handle resolved; dropping the
            // runtime must not drop any of them again.
            for (i, result) in results.iter().enumerate() {
                assert_eq!(
                    s.drops[i].load(SeqCst),
                    1,
                    "{flavor}, seed {seed}: task {i}: drops once its JoinHandle resolved to {result:?} (aborted {})",
                    s.aborted[i].load(SeqCst)
                );
            }
            drop(rt);
            let results: Vec<Result<u64, String>> = results
                .into_iter()
                .map(|r| {
                    r.map_err(|e| {
                        if e.is_cancelled() {
                            "cancelled".to_owned()
                        } else {
                            format!("{e:?}")
                        }
                    })
                })
                .collect();
            (results, victim_count)
        });

        let mut cancelled = 0;
        let mut live_victims = 0;
        for (i, result) in results.into_iter().enumerate() {
            let aborted = storm.aborted[i].load(SeqCst);
            // Two rings short when the abort returned: no poll can start any
            // more, the one that may be running can see at most one more ring
            // (to the waker registered before the abort), so it cannot finish.
            let rings_at_abort = storm.rings_at_abort[i].load(SeqCst);
            let live = rings_at_abort <= K - 2;
            live_victims += usize::from(live);
            match result {
                Ok(seen) => {
                    assert_eq!(seen, K, "{flavor}, seed {seed}: task {i} saw {seen} rings");
                    assert!(
                        !live,
                        "{flavor}, seed {seed}: task {i} finished Ok although aborted \
                         with only {rings_at_abort} of {K} rings"
                    );
                }
                Err(e) if e == "cancelled" => {
                    assert!(
                        aborted,
                        "{flavor}, seed {seed}: task {i} cancelled but never aborted"
                    );
                    cancelled += 1;
                }
                Err(e) => panic!("{flavor}, seed {seed}: task {i}: {e}"),
            }
            assert_eq!(
                storm.drops[i].load(SeqCst),
                1,
                "{flavor}, seed {seed}: task {i}: drops"
            );
        }
        let aborted = storm.aborted.iter().filter(|a| a.load(SeqCst)).count();
        assert_eq!(
            aborted, victims,
            "{flavor}, seed {seed}: the aborter did not abort every victim"
        );
        // Victims are aborted while the storm is in its first quarter, when
        // most still wait for many rings.
        assert!(
            live_victims > 0,
            "{flavor}, seed {seed}: no victim was aborted while it still waited: \
             the race under test did not happen"
        );
        eprintln!(
            "{flavor}, seed {seed}: {cancelled} of {victims} aborted tasks cancelled \
             ({live_victims} aborted at least two rings short)"
        );
    }
}
