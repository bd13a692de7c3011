//! Runs a workload through the real EEVDF run queue in virtual time.
//!
//! ```text
//! cargo run --release --example simulate -- WORKLOAD.json [--json]
//! ```
//!
//! The workload file describes one worker's tasks, each repeating a pattern of
//! run and sleep steps; see `examples/workloads/` and the README. Prints a table
//! per task (service, share, polls, lag range, wait percentiles), or the same as
//! JSON with `--json`. A malformed workload prints an error naming the field and
//! exits with code 2.

mod workload;

use std::process::ExitCode;

use runtime::sched::sim::{self, Report, Workload};
use serde_json::{Value, json};

const USAGE: &str = "usage: simulate WORKLOAD.json [--json]   (use - to read standard input)";

/// Why the command failed; every failure exits with code 2.
#[derive(Debug)]
struct Failure(String);

/// The exit status for what [`run`] returned: 0 for success, 2 for any failure
/// (bad arguments, an unreadable file, a malformed workload).
fn exit_status(result: &Result<String, Failure>) -> u8 {
    match result {
        Ok(_) => 0,
        Err(_) => 2,
    }
}

/// The whole command: runs it, prints the output on standard output or the
/// error on standard error, and returns the exit status.
fn cli(args: &[String]) -> u8 {
    let result = run(args);
    match &result {
        Ok(out) => print!("{out}"),
        Err(Failure(msg)) => eprintln!("simulate: {msg}"),
    }
    exit_status(&result)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(cli(&args))
}

fn run(args: &[String]) -> Result<String, Failure> {
    let mut path = None;
    let mut as_json = false;
    for arg in args {
        match arg.as_str() {
            "--json" => as_json = true,
            "-h" | "--help" => return Ok(format!("{USAGE}\n")),
            a if a.starts_with("--") => {
                return Err(Failure(format!("unknown option {a}\n{USAGE}")));
            }
            a if path.is_none() => path = Some(a.to_owned()),
            a => return Err(Failure(format!("unexpected argument {a}\n{USAGE}"))),
        }
    }
    let path = path.ok_or_else(|| Failure(format!("no workload file given\n{USAGE}")))?;
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&path)
    }
    .map_err(|e| Failure(format!("cannot read {path}: {e}")))?;
    let workload = workload::parse(&text).map_err(|e| Failure(format!("{path}: {e}")))?;
    let report = sim::simulate(&workload).map_err(|e| Failure(format!("{path}: {e}")))?;
    Ok(if as_json {
        let mut s = serde_json::to_string_pretty(&to_json(&report)).expect("JSON values serialize");
        s.push('\n');
        s
    } else {
        table(&workload, &report)
    })
}

fn micros(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

/// Whole microseconds as an integer when exact, else a float.
fn micros_number(d: std::time::Duration) -> Value {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1000) {
        json!(u64::try_from(ns / 1000).unwrap_or(u64::MAX))
    } else {
        json!(micros(d))
    }
}

fn to_json(report: &Report) -> Value {
    let tasks: Vec<Value> = report
        .tasks
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "service_us": micros_number(t.service),
                "share": t.share,
                "polls": t.polls,
                "min_lag_us": t.min_lag_ns as f64 / 1000.0,
                "max_lag_us": t.max_lag_ns as f64 / 1000.0,
                "wait_p50_us": micros(t.wait_p50),
                "wait_p99_us": micros(t.wait_p99),
            })
        })
        .collect();
    json!({ "duration_us": micros_number(report.duration), "tasks": tasks })
}

fn table(workload: &Workload, report: &Report) -> String {
    use std::fmt::Write;
    let c = &workload.config;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ms simulated, quantum {} us, base slice {} us, delayed dequeue {}, wake lag {:?}, run to parity {}",
        micros(report.duration) / 1000.0,
        micros(workload.quantum),
        micros(c.get_base_slice()),
        if c.get_delayed_dequeue() { "on" } else { "off" },
        c.get_wake_lag(),
        if c.get_run_to_parity() { "on" } else { "off" },
    );
    let width = report
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$} {:>6} {:>11} {:>7} {:>8} {:>11} {:>11} {:>11} {:>11}",
        "task",
        "weight",
        "service_ms",
        "share",
        "polls",
        "min_lag_us",
        "max_lag_us",
        "wait_p50_us",
        "wait_p99_us"
    );
    for (t, spec) in report.tasks.iter().zip(&workload.tasks) {
        let _ = writeln!(
            out,
            "{:<width$} {:>6} {:>11.3} {:>7.4} {:>8} {:>11.1} {:>11.1} {:>11.1} {:>11.1}",
            t.name,
            spec.params.get_weight().get(),
            micros(t.service) / 1000.0,
            t.share,
            t.polls,
            t.min_lag_ns as f64 / 1000.0,
            t.max_lag_ns as f64 / 1000.0,
            micros(t.wait_p50),
            micros(t.wait_p99),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        workload::parse(text).unwrap_err().to_string()
    }

    const GOOD: &str = r#"{ "workers": 1, "duration_us": 100000, "quantum_us": 100,
        "delayed_dequeue": true, "wake_lag": "keep", "run_to_parity": true,
        "base_slice_us": 700,
        "tasks": [ { "name": "a", "nice": 0, "slice_us": 700, "start_us": 0,
                     "pattern": [ { "run_us": 500 }, { "sleep_us": 10 } ] },
                   { "name": "b", "nice": 5, "pattern": [ { "run_us": 1000 } ] } ] }"#;

    #[test]
    fn the_documented_workload_parses_and_runs() {
        let w = workload::parse(GOOD).unwrap();
        assert_eq!(w.tasks.len(), 2);
        assert_eq!(w.tasks[1].params.get_weight().get(), 335);
        let r = sim::simulate(&w).unwrap();
        let total: f64 = r.tasks.iter().map(|t| t.share).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn json_output_has_exactly_the_documented_shape() {
        let w = workload::parse(GOOD).unwrap();
        let v = to_json(&sim::simulate(&w).unwrap());
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&v), ["duration_us", "tasks"]);
        assert_eq!(v["duration_us"], json!(100000));
        let task = &v["tasks"][0];
        assert_eq!(
            keys(task),
            [
                "name",
                "service_us",
                "share",
                "polls",
                "min_lag_us",
                "max_lag_us",
                "wait_p50_us",
                "wait_p99_us"
            ]
        );
        assert_eq!(task["name"], json!("a"));
        assert!(task["share"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn json_lag_and_wait_figures_are_exact() {
        // Two nice-0 CPU-bound tasks, a decision after every 100 µs poll, 100 µs
        // slices, 1 ms. Scheduled by hand (see `exact_lags_and_waits_two_equal_hogs`
        // in tests/sched_sim.rs): they alternate a, b, a, b, ...; before each of
        // b's polls a is 50 µs ahead of the average and b 50 µs behind, and they
        // are level before each of a's. Every wait is one poll (100 µs) except
        // a's first (0 of 5 waits, below the median).
        let text = r#"{ "duration_us": 1000, "quantum_us": 100, "base_slice_us": 100,
            "run_to_parity": false,
            "tasks": [ { "name": "a", "pattern": [ { "run_us": 1000 } ] },
                       { "name": "b", "pattern": [ { "run_us": 1000 } ] } ] }"#;
        let v = to_json(&sim::simulate(&workload::parse(text).unwrap()).unwrap());
        let figures = |t: &Value| {
            [
                "service_us",
                "polls",
                "min_lag_us",
                "max_lag_us",
                "wait_p50_us",
                "wait_p99_us",
            ]
            .map(|k| t[k].as_f64().unwrap())
        };
        assert_eq!(
            figures(&v["tasks"][0]),
            [500.0, 5.0, -50.0, 0.0, 100.0, 100.0]
        );
        assert_eq!(
            figures(&v["tasks"][1]),
            [500.0, 5.0, 0.0, 50.0, 100.0, 100.0]
        );
    }

    #[test]
    fn malformed_workloads_name_the_field() {
        let cases = [
            (
                r#"{"duration_us": 10, "tasks": [], "colour": 1}"#,
                "colour: unknown field",
            ),
            (
                r#"{"duration_us": -5, "tasks": []}"#,
                "duration_us: expected a non-negative number of microseconds, got -5",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "nice": 25, "pattern": [{"run_us": 1}]}]}"#,
                "tasks[0].nice: 25 is out of range: expected -20..=19",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": []}]}"#,
                "tasks[0].pattern: is empty",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": [{"run_us": 5}, {"sleep_us": -1}]}]}"#,
                "tasks[0].pattern[1].sleep_us: expected a non-negative",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": [{"run_us": 5, "sleep_us": 1}]}]}"#,
                "tasks[0].pattern[0]: expected exactly one of run_us or sleep_us",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": [{"walk_us": 5}]}]}"#,
                "tasks[0].pattern[0].walk_us: unknown field",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": [{"sleep_us": 5}]}]}"#,
                "tasks[0].pattern: has no run step",
            ),
            (
                r#"{"duration_us": 10, "wake_lag": "forgive", "tasks": []}"#,
                "wake_lag: expected \"keep\" or \"reset\", got \"forgive\"",
            ),
            (
                r#"{"duration_us": 10, "base_slice_us": 5, "tasks": []}"#,
                "base_slice_us: 5 is out of range",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"slice_us": 1e9, "pattern": [{"run_us": 1}]}]}"#,
                "tasks[0].slice_us: 1000000000.0 is out of range",
            ),
            (r#"{"tasks": []}"#, "duration_us: is required"),
            (
                r#"{"duration_us": 10, "tasks": [{"name": "a", "pattern": [{"run_us": 0}]}]}"#,
                "tasks[0].pattern[0].run_us: must be positive",
            ),
            (
                r#"{"duration_us": 10, "quantum_us": 0.001, "tasks": []}"#,
                "quantum_us: 0.001 is out of range: expected 1..=1000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "quantum_us": 0, "tasks": []}"#,
                "quantum_us: 0 is out of range: expected 1..=1000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "quantum_us": 1000000.5, "tasks": []}"#,
                "quantum_us: 1000000.5 is out of range: expected 1..=1000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 1000000001, "tasks": []}"#,
                "duration_us: 1000000001 is out of range: expected 0.001..=1000000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"start_us": 1e30, "pattern": [{"run_us": 1}]}]}"#,
                "tasks[0].start_us: 1e+30 is out of range: expected 0..=1000000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"start_us": 18446744073709551615, "pattern": [{"run_us": 1}]}]}"#,
                "tasks[0].start_us: 18446744073709551615 is out of range: expected 0..=1000000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"pattern": [{"run_us": 1}, {"sleep_us": 2e9}]}]}"#,
                "tasks[0].pattern[1].sleep_us: 2000000000.0 is out of range: expected 0.001..=1000000000 (microseconds)",
            ),
            (
                r#"{"duration_us": 10, "tasks": [{"start_us": -1, "pattern": [{"run_us": 1}]}]}"#,
                "tasks[0].start_us: expected a non-negative number of microseconds, got -1",
            ),
            (r#"[1, 2]"#, "(file): expected a JSON object"),
            (r#"{"duration_us": 10,"#, "(file): not valid JSON"),
        ];
        for (text, want) in cases {
            let got = parse_err(text);
            assert!(
                got.starts_with(want),
                "for {text}\n got: {got}\nwant: {want}..."
            );
        }
    }

    #[test]
    fn limits_themselves_are_accepted() {
        let text = r#"{"duration_us": 1000000000, "quantum_us": 1000000,
            "tasks": [{"start_us": 1000000000, "pattern": [{"run_us": 1000000000}]},
                      {"pattern": [{"run_us": 0.001}, {"sleep_us": 1000000000}]}]}"#;
        let w = workload::parse(text).unwrap();
        assert_eq!(w.duration, sim::MAX_DURATION);
        assert_eq!(w.quantum, sim::MAX_QUANTUM);
        assert_eq!(w.tasks[0].start, sim::MAX_DURATION);
        assert_eq!(
            w.tasks[1].pattern[0],
            runtime::sched::sim::Step::Run(std::time::Duration::from_nanos(1))
        );
        let w = workload::parse(r#"{"duration_us": 10, "quantum_us": 1, "tasks": []}"#).unwrap();
        assert_eq!(w.quantum, sim::MIN_QUANTUM);
    }

    #[test]
    fn a_workload_needing_too_many_polls_is_refused() {
        // 1000 s with a 1 µs quantum: 10^9 polls possible, over the budget.
        let text = r#"{"duration_us": 1000000000, "quantum_us": 1,
            "tasks": [{"pattern": [{"run_us": 100}]}]}"#;
        let e = sim::simulate(&workload::parse(text).unwrap()).unwrap_err();
        assert_eq!(e.field(), "duration_us");
        assert!(
            e.to_string().contains(&format!(
                "may need up to 1010000001 polls (duration/quantum + duration/shortest run \
                 step + 1), more than the {} simulated at most",
                sim::MAX_POLLS
            )),
            "{e}"
        );
    }

    #[test]
    fn more_than_one_worker_is_refused_clearly() {
        let w = workload::parse(r#"{"workers": 2, "duration_us": 10, "tasks": []}"#).unwrap();
        let e = sim::simulate(&w).unwrap_err();
        assert_eq!(e.field(), "workers");
        assert!(e.to_string().contains("2 workers requested"), "{e}");
    }

    #[test]
    fn cli_errors_are_failures_not_panics() {
        let Failure(msg) = run(&["/nonexistent/workload.json".to_owned()]).unwrap_err();
        assert!(
            msg.contains("cannot read /nonexistent/workload.json"),
            "{msg}"
        );
        let Failure(msg) = run(&["a.json".to_owned(), "--fast".to_owned()]).unwrap_err();
        assert!(msg.contains("unknown option --fast"), "{msg}");
        let Failure(msg) = run(&[]).unwrap_err();
        assert!(msg.contains("no workload file"), "{msg}");
    }

    #[test]
    fn every_failure_maps_to_exit_status_2() {
        assert_eq!(exit_status(&Ok(String::new())), 0);
        assert_eq!(exit_status(&Err(Failure("anything".to_owned()))), 2);
        assert_eq!(exit_status(&run(&["--help".to_owned()])), 0);
        for args in [
            vec![],
            vec!["--fast".to_owned()],
            vec!["a.json".to_owned(), "b.json".to_owned()],
            vec!["/nonexistent/workload.json".to_owned()],
        ] {
            assert_eq!(exit_status(&run(&args)), 2, "{args:?}");
        }
    }

    /// Set (to a JSON array of arguments) in the child processes that
    /// `the_process_exits_with_the_status` starts from this test binary.
    const CHILD_ARGS: &str = "SIMULATE_TEST_CHILD_ARGS";

    /// The entry point of those child processes: with [`CHILD_ARGS`] set it
    /// runs the command as `main` does and exits the process with its status.
    /// In an ordinary test run it checks the statuses `cli` returns.
    #[test]
    fn cli_child() {
        if let Ok(args) = std::env::var(CHILD_ARGS) {
            let args: Vec<String> = serde_json::from_str(&args).expect("a JSON array of strings");
            let status = cli(&args);
            std::io::Write::flush(&mut std::io::stdout()).expect("stdout is writable");
            std::process::exit(i32::from(status));
        }
        assert_eq!(cli(&["--help".to_owned()]), 0);
        assert_eq!(cli(&["--fast".to_owned()]), 2);
    }

    /// Runs `simulate ARGS` in a child process (this test binary, running
    /// only `cli_child`) with `stdin` as its standard input.
    fn child(args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "tests::cli_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ARGS, serde_json::to_string(args).unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the test binary can be started again");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    #[test]
    fn the_process_exits_with_the_status() {
        // A malformed workload on standard input: code 2 and the field named.
        let bad = r#"{"duration_us": 10, "tasks": [{"nice": 25, "pattern": [{"run_us": 1}]}]}"#;
        let out = child(&["-"], bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
        assert!(
            stderr.contains("simulate: -: tasks[0].nice: 25 is out of range: expected -20..=19"),
            "stderr: {stderr}"
        );
        // A bad argument: code 2 and the usage.
        let out = child(&["-", "--fast"], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
        assert!(stderr.contains("unknown option --fast"), "stderr: {stderr}");
        // A good one: code 0 and the report on standard output.
        let out = child(&["-", "--json"], GOOD);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(r#""duration_us": 100000"#),
            "stdout: {stdout}"
        );
    }

    #[test]
    fn shipped_workloads_run() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let out = run(&[path.display().to_string(), "--json".to_owned()])
                    .unwrap_or_else(|Failure(m)| panic!("{m}"));
                let v: Value = serde_json::from_str(&out).unwrap();
                assert!(!v["tasks"].as_array().unwrap().is_empty());
                seen += 1;
            }
        }
        assert!(
            seen >= 3,
            "expected the shipped workloads in {}",
            dir.display()
        );
    }
}
