//! A deterministic simulator: runs a workload through the real [`RunQueue`] in
//! virtual time, with no threads and no clock.
//!
//! A workload is a set of tasks, each repeating a pattern of run and sleep
//! steps forever. One simulated worker polls the task the queue picks; a poll
//! lasts at most one quantum `q` and ends early when the task's run step ends.
//! When a run step is followed by a sleep step the task blocks (the queue
//! decides between dequeue and delayed dequeue) and is woken when the sleep
//! ends. Wakes that fall inside a poll are delivered at their exact time: the
//! running task is charged up to that instant first, as a kernel's wakeup path
//! would, so placement sees the exact `V`.
//!
//! The `simulate` example reads workloads from JSON; tests build them in code.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use runtime::sched::sim::{self, Step, TaskSpec, Workload};
//! use runtime::sched::{Params, Weight};
//!
//! let mut w = Workload::new(Duration::from_secs(1));
//! w.tasks.push(TaskSpec::new("a", vec![Step::Run(Duration::from_millis(1))]));
//! w.tasks.push(
//!     TaskSpec::new("b", vec![Step::Run(Duration::from_millis(1))])
//!         .params(Params::new().weight(Weight::from_nice(5)?)),
//! );
//! let report = sim::simulate(&w)?;
//! let share = report.tasks[0].share;
//! assert!((share - 1024.0 / (1024.0 + 335.0)).abs() < 0.001);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Duration;

use super::{Config, EntityId, EntityState, Params, Pick, RunQueue, WakeLag};

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The longest simulated span (and the latest spawn time): 1000 s.
pub const MAX_DURATION: Duration = Duration::from_secs(1000);

/// The shortest quantum.
pub const MIN_QUANTUM: Duration = Duration::from_micros(1);

/// The longest quantum.
pub const MAX_QUANTUM: Duration = Duration::from_secs(1);

/// The most polls a workload may need. A poll ends when its quantum is used
/// up, when a run step ends, or at the end of the simulation, so a workload
/// needs at most `duration/quantum + duration/shortest run step + 1` of them;
/// that bound must not exceed this. Each switch-in (at most one per poll)
/// records one wait, so this also bounds the memory the wait percentiles take
/// (8 bytes a poll, 400 MB at most) and the run time.
pub const MAX_POLLS: u64 = 50_000_000;

/// One step of a task's repeating pattern.
///
/// ```
/// # use std::time::Duration;
/// use runtime::sched::sim::Step;
/// let burst_then_nap = [Step::Run(Duration::from_micros(500)), Step::Sleep(Duration::from_micros(10))];
/// # let _ = burst_then_nap;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Use the CPU for this long (served in polls of at most one quantum).
    Run(Duration),
    /// Block for this long.
    Sleep(Duration),
}

/// A simulated task.
///
/// ```
/// # use std::time::Duration;
/// use runtime::sched::sim::{Step, TaskSpec};
/// let t = TaskSpec::new("spinner", vec![Step::Run(Duration::from_millis(1))])
///     .start(Duration::from_millis(5));
/// assert_eq!(t.start, Duration::from_millis(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// Name shown in reports.
    pub name: String,
    /// Weight and optional custom slice.
    pub params: Params,
    /// When the task is spawned, at most [`MAX_DURATION`].
    pub start: Duration,
    /// The steps, repeated forever. A single run step makes a CPU-bound task.
    pub pattern: Vec<Step>,
}

impl TaskSpec {
    /// A nice-0 task with the queue's base slice, spawned at time 0.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::sim::{Step, TaskSpec};
    /// let t = TaskSpec::new("a", vec![Step::Run(Duration::from_millis(1))]);
    /// assert_eq!(t.name, "a");
    /// ```
    pub fn new(name: impl Into<String>, pattern: Vec<Step>) -> TaskSpec {
        TaskSpec {
            name: name.into(),
            params: Params::new(),
            start: Duration::ZERO,
            pattern,
        }
    }

    /// Sets weight and slice.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::sim::{Step, TaskSpec};
    /// # use runtime::sched::{Params, Weight};
    /// let t = TaskSpec::new("a", vec![Step::Run(Duration::from_millis(1))])
    ///     .params(Params::new().weight(Weight::from_nice(3)?));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn params(mut self, params: Params) -> TaskSpec {
        self.params = params;
        self
    }

    /// Sets the spawn time.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::sim::{Step, TaskSpec};
    /// let t = TaskSpec::new("a", vec![Step::Run(Duration::from_millis(1))]).start(Duration::from_secs(1));
    /// # let _ = t;
    /// ```
    pub fn start(mut self, start: Duration) -> TaskSpec {
        self.start = start;
        self
    }
}

/// A complete simulation input.
///
/// ```
/// # use std::time::Duration;
/// use runtime::sched::sim::Workload;
/// let w = Workload::new(Duration::from_secs(2));
/// assert_eq!(w.quantum, Duration::from_micros(100));
/// assert_eq!(w.workers, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Worker threads; only 1 is supported for now.
    pub workers: usize,
    /// Simulated time span, at most [`MAX_DURATION`].
    pub duration: Duration,
    /// The longest single poll `q`, in [`MIN_QUANTUM`]`..=`[`MAX_QUANTUM`]. It
    /// is also the queue's tick (lag clamp slack).
    pub quantum: Duration,
    /// Queue policy. Its tick is replaced by `quantum`.
    pub config: Config,
    /// The tasks.
    pub tasks: Vec<TaskSpec>,
}

impl Workload {
    /// One worker, 100 µs quantum, default policy, no tasks.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::sim::Workload;
    /// assert!(Workload::new(Duration::from_secs(1)).tasks.is_empty());
    /// ```
    pub fn new(duration: Duration) -> Workload {
        Workload {
            workers: 1,
            duration,
            quantum: Duration::from_micros(100),
            config: Config::new(),
            tasks: Vec::new(),
        }
    }
}

/// A workload the simulator cannot run, naming the offending field.
///
/// ```
/// # use std::time::Duration;
/// use runtime::sched::sim::{self, Workload};
/// let mut w = Workload::new(Duration::from_secs(1));
/// w.workers = 4;
/// let err = sim::simulate(&w).unwrap_err();
/// assert_eq!(err.field(), "workers");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadError {
    field: String,
    message: String,
}

impl WorkloadError {
    /// An error about `field` (a path such as `tasks[2].pattern`).
    ///
    /// ```
    /// # use runtime::sched::sim::WorkloadError;
    /// let e = WorkloadError::new("quantum_us", "must be positive");
    /// assert_eq!(e.to_string(), "quantum_us: must be positive");
    /// ```
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> WorkloadError {
        WorkloadError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The offending field.
    ///
    /// ```
    /// # use runtime::sched::sim::WorkloadError;
    /// assert_eq!(WorkloadError::new("x", "y").field(), "x");
    /// ```
    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for WorkloadError {}

/// Per-task results.
///
/// ```
/// # use std::time::Duration;
/// # use runtime::sched::sim::{self, Step, TaskSpec, Workload};
/// let mut w = Workload::new(Duration::from_millis(10));
/// w.tasks.push(TaskSpec::new("solo", vec![Step::Run(Duration::from_millis(1))]));
/// let r = sim::simulate(&w)?;
/// assert_eq!(r.tasks[0].service, Duration::from_millis(10));
/// assert_eq!(r.tasks[0].polls, 100);
/// # Ok::<(), sim::WorkloadError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskReport {
    /// The task's name.
    pub name: String,
    /// CPU time received.
    pub service: Duration,
    /// `service` over all tasks' service.
    pub share: f64,
    /// Polls received.
    pub polls: u64,
    /// Smallest lag `w·(V − v)/1024` seen at any decision while queued, in ns.
    pub min_lag_ns: i64,
    /// Largest lag seen at any decision while queued, in ns.
    pub max_lag_ns: i64,
    /// Median wait from becoming runnable (spawn, wake, or switch-out while
    /// runnable) until switched in.
    pub wait_p50: Duration,
    /// 99th-percentile wait.
    pub wait_p99: Duration,
}

/// The outcome of a simulation.
///
/// ```
/// # use std::time::Duration;
/// # use runtime::sched::sim::{self, Workload};
/// let r = sim::simulate(&Workload::new(Duration::from_millis(1)))?;
/// assert!(r.tasks.is_empty());
/// # Ok::<(), sim::WorkloadError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// Simulated span.
    pub duration: Duration,
    /// One entry per task, in workload order.
    pub tasks: Vec<TaskReport>,
}

/// Where a simulated task stands, as seen by an observer.
///
/// ```
/// use runtime::sched::sim::TaskStatus;
/// let s = TaskStatus { service_ns: 0, lag_ns: None, queued: false };
/// assert!(!s.queued);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskStatus {
    /// CPU time received so far, in ns.
    pub service_ns: u64,
    /// Lag in ns while queued (runnable, running or delayed).
    pub lag_ns: Option<i64>,
    /// Whether the task is on the queue (runnable, running or delayed).
    pub queued: bool,
}

/// What the simulator reports to an observer.
///
/// ```
/// # use std::time::Duration;
/// use runtime::sched::sim::{self, Event, Step, TaskSpec, Workload};
/// let mut w = Workload::new(Duration::from_millis(1));
/// w.tasks.push(TaskSpec::new("a", vec![Step::Run(Duration::from_millis(1))]));
/// let mut decisions = 0;
/// sim::simulate_observed(&w, |e| if let Event::Decision { .. } = e { decisions += 1 })?;
/// assert_eq!(decisions, 10);
/// # Ok::<(), sim::WorkloadError>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The worker is about to poll `task`; `tasks` is the state of every task
    /// just before the poll, with lags read off the queue.
    Decision {
        /// Virtual time in ns.
        now: u64,
        /// Index of the task to be polled.
        task: usize,
        /// Every task's state.
        tasks: &'a [TaskStatus],
    },
    /// `task` was switched in after `waited` ns runnable; `woken` tells whether
    /// it had been asleep (or not yet spawned) rather than switched out.
    SwitchIn {
        /// Virtual time in ns.
        now: u64,
        /// The task.
        task: usize,
        /// Runnable time before this switch-in, in ns.
        waited: u64,
        /// Whether this follows a wake (or the spawn).
        woken: bool,
    },
    /// A delayed task was met by a pick and dequeued without running.
    DelayedDequeue {
        /// Virtual time in ns.
        now: u64,
        /// The task.
        task: usize,
    },
}

/// Runs a workload and returns the per-task report.
///
/// # Errors
///
/// A [`WorkloadError`] naming the field, for a workload outside what the
/// simulator supports: more than one worker, a duration outside
/// `1 ns..=`[`MAX_DURATION`], a quantum outside
/// [`MIN_QUANTUM`]`..=`[`MAX_QUANTUM`], a spawn time after [`MAX_DURATION`], an
/// empty pattern, a zero-length step, a pattern without a run step, an invalid
/// base slice, or more than [`MAX_POLLS`] polls possibly needed.
///
/// # Examples
///
/// See the [module documentation](self).
pub fn simulate(workload: &Workload) -> Result<Report, WorkloadError> {
    simulate_observed(workload, |_| {})
}

/// Like [`simulate`], and calls `observer` at every decision and switch-in.
///
/// # Errors
///
/// As [`simulate`].
///
/// # Examples
///
/// See [`Event`].
pub fn simulate_observed(
    workload: &Workload,
    observer: impl FnMut(&Event<'_>),
) -> Result<Report, WorkloadError> {
    let mut sim = Sim::new(workload)?;
    sim.run(observer);
    Ok(sim.report())
}

fn validate(w: &Workload) -> Result<Config, WorkloadError> {
    if w.workers != 1 {
        return Err(WorkloadError::new(
            "workers",
            format!(
                "{} workers requested; the simulator runs exactly 1 worker for now",
                w.workers
            ),
        ));
    }
    if w.duration.is_zero() || w.duration > MAX_DURATION {
        return Err(WorkloadError::new(
            "duration_us",
            format!(
                "{:?} is out of range: expected 1ns..={MAX_DURATION:?}",
                w.duration
            ),
        ));
    }
    if !(MIN_QUANTUM..=MAX_QUANTUM).contains(&w.quantum) {
        return Err(WorkloadError::new(
            "quantum_us",
            format!(
                "{:?} is out of range: expected {MIN_QUANTUM:?}..={MAX_QUANTUM:?}",
                w.quantum
            ),
        ));
    }
    let config = w.config.tick(w.quantum);
    RunQueue::<()>::new(config).map_err(|e| WorkloadError::new("base_slice_us", e.to_string()))?;
    for (i, t) in w.tasks.iter().enumerate() {
        if t.start > MAX_DURATION {
            return Err(WorkloadError::new(
                format!("tasks[{i}].start_us"),
                format!(
                    "{:?} is out of range: expected 0ns..={MAX_DURATION:?}",
                    t.start
                ),
            ));
        }
        if t.pattern.is_empty() {
            return Err(WorkloadError::new(
                format!("tasks[{i}].pattern"),
                "is empty: expected at least one run step",
            ));
        }
        for (j, s) in t.pattern.iter().enumerate() {
            let (Step::Run(d) | Step::Sleep(d)) = s;
            if d.is_zero() {
                let kind = if matches!(s, Step::Run(_)) {
                    "run_us"
                } else {
                    "sleep_us"
                };
                return Err(WorkloadError::new(
                    format!("tasks[{i}].pattern[{j}].{kind}"),
                    "must be positive",
                ));
            }
        }
        if !t.pattern.iter().any(|s| matches!(s, Step::Run(_))) {
            return Err(WorkloadError::new(
                format!("tasks[{i}].pattern"),
                "has no run step: a task that only sleeps never needs the worker",
            ));
        }
    }
    let shortest_run = w
        .tasks
        .iter()
        .flat_map(|t| &t.pattern)
        .filter_map(|s| match s {
            Step::Run(d) => Some(ns(*d)),
            Step::Sleep(_) => None,
        })
        .min();
    if let Some(shortest_run) = shortest_run {
        let d = ns(w.duration);
        let polls = d / ns(w.quantum) + d / shortest_run + 1;
        if polls > MAX_POLLS {
            return Err(WorkloadError::new(
                "duration_us",
                format!(
                    "{:?} may need up to {polls} polls (duration/quantum + duration/shortest \
                     run step + 1), more than the {MAX_POLLS} simulated at most: shorten the \
                     duration or lengthen the quantum or the shortest run step",
                    w.duration
                ),
            ));
        }
    }
    Ok(config)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Spawn,
    Wake,
}

#[derive(Debug)]
struct Task {
    /// Normalized pattern: alternating, starting with a run step.
    pattern: Vec<Step>,
    params: Params,
    id: Option<EntityId>,
    /// Index of the current step.
    step: usize,
    /// Run time left in the current run step.
    left: u64,
    /// When it last became runnable.
    ready_since: u64,
    woken: bool,
    service: u64,
    polls: u64,
    min_lag: i64,
    max_lag: i64,
    sampled: bool,
    waits: Vec<u64>,
}

/// Merges adjacent steps of one kind and rotates a leading sleep to the end
/// (merging it with a trailing one), so sleeps never follow sleeps, even across
/// the wrap, and the pattern starts with a run step. Returns the pattern and the
/// initial sleep to wait before the spawn.
fn normalize(pattern: &[Step]) -> (Vec<Step>, u64) {
    let mut out: Vec<Step> = Vec::new();
    for &s in pattern {
        match (out.last_mut(), s) {
            (Some(Step::Run(a)), Step::Run(b)) | (Some(Step::Sleep(a)), Step::Sleep(b)) => *a += b,
            _ => out.push(s),
        }
    }
    let mut initial = 0;
    if let Some(&Step::Sleep(d)) = out.first() {
        initial = ns(d);
        out.remove(0);
        // The leading sleep also belongs at the end of the cycle.
        match out.last_mut() {
            Some(Step::Sleep(a)) => *a += d,
            _ => out.push(Step::Sleep(d)),
        }
    }
    (out, initial)
}

struct Sim {
    queue: RunQueue<usize>,
    tasks: Vec<Task>,
    names: Vec<String>,
    events: BinaryHeap<Reverse<(u64, Kind, usize)>>,
    now: u64,
    end: u64,
    quantum: u64,
    duration: Duration,
    status: Vec<TaskStatus>,
}

impl Sim {
    fn new(w: &Workload) -> Result<Sim, WorkloadError> {
        let config = validate(w)?;
        let queue = RunQueue::new(config).expect("validated");
        let mut events = BinaryHeap::new();
        let mut tasks = Vec::with_capacity(w.tasks.len());
        for (i, spec) in w.tasks.iter().enumerate() {
            let (pattern, initial) = normalize(&spec.pattern);
            let left = match pattern[0] {
                Step::Run(d) => ns(d),
                Step::Sleep(_) => unreachable!("normalized patterns start with a run step"),
            };
            events.push(Reverse((
                ns(spec.start).saturating_add(initial),
                Kind::Spawn,
                i,
            )));
            tasks.push(Task {
                pattern,
                params: spec.params,
                id: None,
                step: 0,
                left,
                ready_since: 0,
                woken: true,
                service: 0,
                polls: 0,
                min_lag: 0,
                max_lag: 0,
                sampled: false,
                waits: Vec::new(),
            });
        }
        Ok(Sim {
            queue,
            names: w.tasks.iter().map(|t| t.name.clone()).collect(),
            status: vec![
                TaskStatus {
                    service_ns: 0,
                    lag_ns: None,
                    queued: false
                };
                tasks.len()
            ],
            tasks,
            events,
            now: 0,
            end: ns(w.duration),
            quantum: ns(w.quantum),
            duration: w.duration,
        })
    }

    /// Delivers the next event if it is due at or before `limit`.
    fn deliver_next(&mut self, limit: u64) -> bool {
        let Some(&Reverse((t, kind, i))) = self.events.peek() else {
            return false;
        };
        if t > limit {
            return false;
        }
        self.events.pop();
        let task = &mut self.tasks[i];
        task.ready_since = t;
        task.woken = true;
        match kind {
            Kind::Spawn => {
                let id = self.queue.enqueue_new(task.params, i);
                task.id = Some(id);
            }
            Kind::Wake => {
                let id = task.id.expect("spawned before it sleeps");
                self.queue.wake(id).expect("a sleeping task is not queued");
            }
        }
        true
    }

    fn sample(&mut self) {
        for (i, task) in self.tasks.iter_mut().enumerate() {
            let info = task.id.and_then(|id| self.queue.info(id).ok());
            let queued = info.is_some_and(|i| i.state != EntityState::Sleeping);
            let lag = queued.then(|| info.map_or(0, |i| i.lag_ns));
            if let Some(lag) = lag {
                if task.sampled {
                    task.min_lag = task.min_lag.min(lag);
                    task.max_lag = task.max_lag.max(lag);
                } else {
                    (task.min_lag, task.max_lag, task.sampled) = (lag, lag, true);
                }
            }
            self.status[i] = TaskStatus {
                service_ns: task.service,
                lag_ns: lag,
                queued,
            };
        }
    }

    fn charge(&mut self, i: usize, dt: u64) {
        if dt > 0 {
            self.queue
                .charge(Duration::from_nanos(dt))
                .expect("a task is running");
            self.tasks[i].service += dt;
        }
    }

    fn run(&mut self, mut observer: impl FnMut(&Event<'_>)) {
        let mut last: Option<usize> = None;
        while self.now < self.end {
            while self.deliver_next(self.now) {}
            let i = match self.queue.pick() {
                Pick::Run(id) => *self.queue.get(id).expect("live entity"),
                Pick::Dequeued(id) => {
                    let task = *self.queue.get(id).expect("live entity");
                    observer(&Event::DelayedDequeue {
                        now: self.now,
                        task,
                    });
                    continue;
                }
                Pick::Idle => {
                    last = None;
                    self.now = match self.events.peek() {
                        Some(&Reverse((t, _, _))) => t.min(self.end),
                        None => self.end,
                    };
                    continue;
                }
            };
            self.sample();
            observer(&Event::Decision {
                now: self.now,
                task: i,
                tasks: &self.status,
            });
            if last != Some(i) {
                let task = &mut self.tasks[i];
                let waited = self.now - task.ready_since;
                task.waits.push(waited);
                observer(&Event::SwitchIn {
                    now: self.now,
                    task: i,
                    waited,
                    woken: task.woken,
                });
                task.woken = false;
            }
            let len = self
                .quantum
                .min(self.tasks[i].left)
                .min(self.end - self.now);
            let poll_end = self.now + len;
            // Wakes during the poll: charge up to the instant, then deliver.
            while let Some(&Reverse((t, _, _))) = self.events.peek() {
                if t >= poll_end {
                    break;
                }
                let t = t.max(self.now);
                self.charge(i, t - self.now);
                self.now = t;
                self.deliver_next(t);
            }
            self.charge(i, poll_end - self.now);
            self.now = poll_end;
            let task = &mut self.tasks[i];
            task.polls += 1;
            task.left -= len;
            last = Some(i);
            if task.left == 0 {
                task.step = (task.step + 1) % task.pattern.len();
                if let Step::Sleep(d) = task.pattern[task.step] {
                    task.step = (task.step + 1) % task.pattern.len();
                    let wake_at = self.now.saturating_add(ns(d));
                    self.queue.block_current().expect("the task is running");
                    self.events.push(Reverse((wake_at, Kind::Wake, i)));
                    last = None;
                }
                let task = &mut self.tasks[i];
                task.left = match task.pattern[task.step] {
                    Step::Run(d) => ns(d),
                    Step::Sleep(_) => {
                        unreachable!("normalized patterns never sleep twice in a row")
                    }
                };
            }
            // Runnable from now on unless it blocked; a re-pick continues it.
            self.tasks[i].ready_since = self.now;
        }
    }

    fn report(&self) -> Report {
        let total: u64 = self.tasks.iter().map(|t| t.service).sum();
        let tasks = self
            .tasks
            .iter()
            .zip(&self.names)
            .map(|(t, name)| {
                let mut waits = t.waits.clone();
                waits.sort_unstable();
                TaskReport {
                    name: name.clone(),
                    service: Duration::from_nanos(t.service),
                    share: if total == 0 {
                        0.0
                    } else {
                        t.service as f64 / total as f64
                    },
                    polls: t.polls,
                    min_lag_ns: t.min_lag,
                    max_lag_ns: t.max_lag,
                    wait_p50: Duration::from_nanos(percentile(&waits, 50)),
                    wait_p99: Duration::from_nanos(percentile(&waits, 99)),
                }
            })
            .collect();
        Report {
            duration: self.duration,
            tasks,
        }
    }
}

/// Nearest-rank percentile of sorted samples (0 for none).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

impl WakeLag {
    /// The workload-file spelling: `"keep"` or `"reset"`.
    ///
    /// ```
    /// use runtime::sched::WakeLag;
    /// assert_eq!(WakeLag::parse("reset"), Some(WakeLag::Reset));
    /// assert_eq!(WakeLag::parse("forgive"), None);
    /// ```
    pub fn parse(s: &str) -> Option<WakeLag> {
        match s {
            "keep" => Some(WakeLag::Keep),
            "reset" => Some(WakeLag::Reset),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn normalize_merges_and_rotates() {
        let (p, init) = normalize(&[Step::Sleep(us(5)), Step::Run(us(1)), Step::Run(us(2))]);
        assert_eq!(p, [Step::Run(us(3)), Step::Sleep(us(5))]);
        assert_eq!(init, 5_000);
        let (p, init) = normalize(&[Step::Sleep(us(1)), Step::Run(us(1)), Step::Sleep(us(2))]);
        assert_eq!(p, [Step::Run(us(1)), Step::Sleep(us(3))]);
        assert_eq!(init, 1_000);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    fn error(w: &Workload) -> String {
        simulate(w).unwrap_err().to_string()
    }

    #[test]
    fn ranges_are_enforced_with_field_value_and_range() {
        let spinner = || TaskSpec::new("a", vec![Step::Run(us(100))]);
        let mut w = Workload::new(MAX_DURATION + Duration::from_nanos(1));
        assert_eq!(
            error(&w),
            "duration_us: 1000.000000001s is out of range: expected 1ns..=1000s"
        );
        w.duration = MAX_DURATION;
        w.quantum = Duration::from_nanos(999);
        assert_eq!(
            error(&w),
            "quantum_us: 999ns is out of range: expected 1µs..=1s"
        );
        w.quantum = MIN_QUANTUM;
        w.duration = us(1000);
        w.tasks
            .push(spinner().start(MAX_DURATION + Duration::from_nanos(1)));
        assert_eq!(
            error(&w),
            "tasks[0].start_us: 1000.000000001s is out of range: expected 0ns..=1000s"
        );
        // Each limit itself is accepted.
        w.tasks[0].start = MAX_DURATION;
        w.quantum = MAX_QUANTUM;
        assert!(simulate(&w).is_ok());
    }

    #[test]
    fn the_poll_budget_bounds_duration_over_quantum_and_shortest_run() {
        // 1000 s of 100 µs polls: 10^7 + 10^7 + 1 polls, within the budget.
        let mut w = Workload::new(MAX_DURATION);
        w.tasks.push(TaskSpec::new(
            "a",
            vec![Step::Run(us(100)), Step::Sleep(us(1))],
        ));
        assert_eq!(validate(&w).map(|_| ()), Ok(()));
        // A 10 µs quantum: 10^8 + 10^7 + 1.
        w.quantum = us(10);
        assert_eq!(
            validate(&w).unwrap_err().to_string(),
            "duration_us: 1000s may need up to 110000001 polls (duration/quantum + \
             duration/shortest run step + 1), more than the 50000000 simulated at most: \
             shorten the duration or lengthen the quantum or the shortest run step"
        );
        // A 1 ns run step of a second task, over 1 s: 10^4 + 10^9 + 1.
        let mut w = Workload::new(Duration::from_secs(1));
        w.tasks.push(TaskSpec::new("a", vec![Step::Run(us(100))]));
        w.tasks
            .push(TaskSpec::new("b", vec![Step::Run(Duration::from_nanos(1))]));
        assert!(
            error(&w).contains("may need up to 1000010001 polls"),
            "{}",
            error(&w)
        );
        // No tasks, no polls.
        w.tasks.clear();
        w.quantum = MIN_QUANTUM;
        w.duration = MAX_DURATION;
        assert!(simulate(&w).is_ok());
    }

    #[test]
    fn sleeper_is_woken_on_time() {
        let mut w = Workload::new(Duration::from_millis(10));
        w.tasks.push(TaskSpec::new(
            "s",
            vec![Step::Run(us(100)), Step::Sleep(us(900))],
        ));
        let r = simulate(&w).unwrap();
        // Alone: 100 µs of every 1 ms.
        assert_eq!(r.tasks[0].service, Duration::from_millis(1));
        assert_eq!(r.tasks[0].wait_p99, Duration::ZERO);
    }
}
