//! Reading a workload file: JSON in, a validated `sim::Workload` out, with every
//! error naming the field it is about (`tasks[1].pattern[0].run_us: ...`).

use std::time::Duration;

use runtime::sched::sim::{Step, TaskSpec, Workload, WorkloadError};
use runtime::sched::{Config, Params, WakeLag, Weight};
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

/// A time in microseconds: a non-negative number, fractional down to 1 ns.
fn micros(v: &Value, field: &str) -> Result<Duration, WorkloadError> {
    let bad = || {
        err(
            field,
            format!(
                "expected a non-negative number of microseconds, got {}",
                describe(v)
            ),
        )
    };
    if let Some(n) = v.as_u64() {
        return n
            .checked_mul(1000)
            .map(Duration::from_nanos)
            .ok_or_else(bad);
    }
    let x = v.as_f64().ok_or_else(bad)?;
    if !x.is_finite() || x < 0.0 || x * 1000.0 > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos((x * 1000.0).round() as u64))
}

fn positive_micros(v: &Value, field: &str) -> Result<Duration, WorkloadError> {
    let d = micros(v, field)?;
    if d.is_zero() {
        return Err(err(field, "must be positive"));
    }
    Ok(d)
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

    let duration = positive_micros(
        obj.get("duration_us")
            .ok_or_else(|| err("duration_us", "is required"))?,
        "duration_us",
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
        w.quantum = positive_micros(v, "quantum_us")?;
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
        let slice = micros(v, "base_slice_us")?;
        if !(Duration::from_micros(100)..=Duration::from_millis(100)).contains(&slice) {
            return Err(err(
                "base_slice_us",
                format!("{} is out of range: expected 100..=100000", describe(v)),
            ));
        }
        config = config.base_slice(slice);
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
        let field = format!("{path}.slice_us");
        let slice = micros(v, &field)?;
        if !(Duration::from_micros(100)..=Duration::from_millis(100)).contains(&slice) {
            return Err(err(
                field,
                format!("{} is out of range: expected 100..=100000", describe(v)),
            ));
        }
        params = params.slice(slice);
    }
    let mut spec = TaskSpec::new(name, Vec::new()).params(params);
    if let Some(v) = obj.get("start_us") {
        spec = spec.start(micros(v, &format!("{path}.start_us"))?);
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
                (Some(v), None) => Step::Run(positive_micros(v, &format!("{at}.run_us"))?),
                (None, Some(v)) => Step::Sleep(positive_micros(v, &format!("{at}.sleep_us"))?),
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
