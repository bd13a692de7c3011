//! Reading a workload file: JSON in, a validated `sim::Workload` out, with every
//! error naming the field it is about (`tasks[1].pattern[0].run_us: ...`).

use std::time::Duration;

use runtime::sched::sim::{self, Step, TaskSpec, Workload, WorkloadError};
use runtime::sched::{Config, MAX_SLICE, MIN_SLICE, Params, WakeLag, Weight};
use serde_json::{Map, Value};

const TOP_FIELDS: &[&str] = &[
    "workers",
    "duration_us",
    "quantum_us",
    "delayed_dequeue",
    "wake_lag",
    "run_to_parity",
    "base_slice_us",
    "tasks",
];
const TASK_FIELDS: &[&str] = &["name", "nice", "slice_us", "start_us", "pattern"];

fn err(field: impl Into<String>, message: impl Into<String>) -> WorkloadError {
    WorkloadError::new(field, message)
}

/// Rejects keys outside `allowed`, naming the first unknown one.
fn check_keys(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), WorkloadError> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let field = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            return Err(err(
                field,
                format!("unknown field; expected one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// The values a time field accepts, in ns.
#[derive(Clone, Copy)]
struct Range {
    min: u64,
    max: u64,
}

impl Range {
    fn new(min: Duration, max: Duration) -> Range {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Range {
            min: ns(min),
            max: ns(max),
        }
    }
}

/// Durations (`duration_us`, steps): 1 ns up to the longest simulation.
fn span() -> Range {
    Range::new(Duration::from_nanos(1), sim::MAX_DURATION)
}

/// Slices (`base_slice_us`, `tasks[].slice_us`).
fn slice_range() -> Range {
    Range::new(MIN_SLICE, MAX_SLICE)
}

/// `ns` in microseconds as a workload file would write it: `100`, `0.5`.
fn as_micros(ns: u64) -> String {
    if ns.is_multiple_of(1000) {
        (ns / 1000).to_string()
    } else {
        (ns as f64 / 1000.0).to_string()
    }
}

/// A time in microseconds, fractional and rounded to the nearest ns, within
/// `range`. A negative number or a non-number is refused as such, a value
/// outside the range (one too large to represent included) with the range, and
/// where any positive time would do (`range.min` is 1 ns), zero as "must be
/// positive".
fn micros(v: &Value, field: &str, range: Range) -> Result<Duration, WorkloadError> {
    let out_of_range = || {
        err(
            field,
            format!(
                "{} is out of range: expected {}..={} (microseconds)",
                describe(v),
                as_micros(range.min),
                as_micros(range.max)
            ),
        )
    };
    let ns = if let Some(n) = v.as_u64() {
        n.checked_mul(1000).ok_or_else(out_of_range)?
    } else {
        let x = v.as_f64().filter(|x| *x >= 0.0).ok_or_else(|| {
            err(
                field,
                format!(
                    "expected a non-negative number of microseconds, got {}",
                    describe(v)
                ),
            )
        })?;
        // serde_json never yields NaN or infinities; anything this large
        // overflows u64 nanoseconds and is out of every range.
        if x * 1000.0 >= u64::MAX as f64 {
            return Err(out_of_range());
        }
        (x * 1000.0).round() as u64
    };
    if ns == 0 && range.min == 1 {
        return Err(err(field, "must be positive"));
    }
    if !(range.min..=range.max).contains(&ns) {
        return Err(out_of_range());
    }
    Ok(Duration::from_nanos(ns))
}

fn boolean(v: &Value, field: &str) -> Result<bool, WorkloadError> {
    v.as_bool().ok_or_else(|| {
        err(
            field,
            format!("expected true or false, got {}", describe(v)),
        )
    })
}

/// Parses and validates a workload file's text.
pub(crate) fn parse(text: &str) -> Result<Workload, WorkloadError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| err("(file)", format!("not valid JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| err("(file)", "expected a JSON object at the top level"))?;
    check_keys(obj, TOP_FIELDS, "")?;

    let duration = micros(
        obj.get("duration_us")
            .ok_or_else(|| err("duration_us", "is required"))?,
        "duration_us",
        span(),
    )?;
    let mut w = Workload::new(duration);
    if let Some(v) = obj.get("workers") {
        let n = v.as_u64().filter(|&n| n > 0).ok_or_else(|| {
            err(
                "workers",
                format!("expected a positive integer, got {}", describe(v)),
            )
        })?;
        w.workers = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(v) = obj.get("quantum_us") {
        w.quantum = micros(
            v,
            "quantum_us",
            Range::new(sim::MIN_QUANTUM, sim::MAX_QUANTUM),
        )?;
    }
    let mut config = Config::new();
    if let Some(v) = obj.get("delayed_dequeue") {
        config = config.delayed_dequeue(boolean(v, "delayed_dequeue")?);
    }
    if let Some(v) = obj.get("run_to_parity") {
        config = config.run_to_parity(boolean(v, "run_to_parity")?);
    }
    if let Some(v) = obj.get("wake_lag") {
        let policy = v.as_str().and_then(WakeLag::parse).ok_or_else(|| {
            err(
                "wake_lag",
                format!("expected \"keep\" or \"reset\", got {}", describe(v)),
            )
        })?;
        config = config.wake_lag(policy);
    }
    if let Some(v) = obj.get("base_slice_us") {
        config = config.base_slice(micros(v, "base_slice_us", slice_range())?);
    }
    w.config = config;

    let tasks = obj
        .get("tasks")
        .ok_or_else(|| err("tasks", "is required"))?
        .as_array()
        .ok_or_else(|| err("tasks", "expected an array of tasks"))?;
    for (i, t) in tasks.iter().enumerate() {
        w.tasks.push(parse_task(t, i)?);
    }
    Ok(w)
}

fn parse_task(t: &Value, i: usize) -> Result<TaskSpec, WorkloadError> {
    let path = format!("tasks[{i}]");
    let obj = t
        .as_object()
        .ok_or_else(|| err(&path, format!("expected an object, got {}", describe(t))))?;
    check_keys(obj, TASK_FIELDS, &path)?;
    let name = match obj.get("name") {
        None => format!("task{i}"),
        Some(v) => v
            .as_str()
            .ok_or_else(|| {
                err(
                    format!("{path}.name"),
                    format!("expected a string, got {}", describe(v)),
                )
            })?
            .to_owned(),
    };
    let mut params = Params::new();
    if let Some(v) = obj.get("nice") {
        let field = format!("{path}.nice");
        let nice = v.as_i64().ok_or_else(|| {
            err(
                &field,
                format!("expected an integer in -20..=19, got {}", describe(v)),
            )
        })?;
        let weight = i32::try_from(nice)
            .ok()
            .and_then(|n| Weight::from_nice(n).ok())
            .ok_or_else(|| err(&field, format!("{nice} is out of range: expected -20..=19")))?;
        params = params.weight(weight);
    }
    if let Some(v) = obj.get("slice_us") {
        params = params.slice(micros(v, &format!("{path}.slice_us"), slice_range())?);
    }
    let mut spec = TaskSpec::new(name, Vec::new()).params(params);
    if let Some(v) = obj.get("start_us") {
        let latest = Range::new(Duration::ZERO, sim::MAX_DURATION);
        spec = spec.start(micros(v, &format!("{path}.start_us"), latest)?);
    }
    let field = format!("{path}.pattern");
    let steps = obj
        .get("pattern")
        .ok_or_else(|| err(&field, "is required"))?
        .as_array()
        .ok_or_else(|| err(&field, "expected an array of steps"))?;
    if steps.is_empty() {
        return Err(err(&field, "is empty: expected at least one run step"));
    }
    for (j, s) in steps.iter().enumerate() {
        let at = format!("{field}[{j}]");
        let step = s.as_object().ok_or_else(|| {
            err(
                &at,
                format!(
                    "expected {{\"run_us\": N}} or {{\"sleep_us\": N}}, got {}",
                    describe(s)
                ),
            )
        })?;
        check_keys(step, &["run_us", "sleep_us"], &at)?;
        spec.pattern
            .push(match (step.get("run_us"), step.get("sleep_us")) {
                (Some(v), None) => Step::Run(micros(v, &format!("{at}.run_us"), span())?),
                (None, Some(v)) => Step::Sleep(micros(v, &format!("{at}.sleep_us"), span())?),
                _ => return Err(err(&at, "expected exactly one of run_us or sleep_us")),
            });
    }
    if !spec.pattern.iter().any(|s| matches!(s, Step::Run(_))) {
        return Err(err(
            &field,
            "has no run step: a task that only sleeps never needs the worker",
        ));
    }
    Ok(spec)
}
