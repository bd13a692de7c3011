//! Six scheduling scenarios, each on this runtime and on tokio, in one table.
//!
//! ```text
//! cargo run --release --example fairness_suite [-- --quick] [-- --json]
//! ```
//!
//! 1. Weighted share: three CPU-bound tasks at nice 0/3/6 on one worker;
//!    each task's share error against its weight's share. The shares per
//!    50 ms window are plotted to `target/fairness.svg`.
//! 2. Interactive latency: one task woken every 1 ms beside 8 CPU-bound hogs
//!    per worker (W = available parallelism, at most 4): by an interval with
//!    hogs that yield through `yield_now` (a), through a plain self-wake (b),
//!    or after 1 ms polls (c); and (d) by a plain thread. Lateness is measured
//!    from each tick's scheduled instant (the interval skips missed ticks,
//!    `MissedTickBehavior::Skip`, so one delay is one sample), or from the
//!    thread's wake call, to the poll. On ours the task has a 100 µs slice.
//! 3. Micro-sleep gaming: a task that runs a whole slice and then sleeps
//!    1 µs, against two CPU-bound tasks, on one worker; its share against 1/3,
//!    with delayed dequeue on and off.
//! 4. One bad task: one task polls 100 ms without yielding, repeatedly, on 2
//!    workers; the lateness of other tasks ticking every 1 ms.
//! 5. Memory: resident bytes per pending task, each runtime in a fresh child
//!    process.
//! 6. Scale: tokio's `yield_many` shape with 100 to 1 000 000 tasks; the
//!    marginal cost per yield (one more yield with that many tasks queued,
//!    spawning and completion cancelled out), and the wall time per yield.
//!
//! `--quick` shortens every scenario (for scripts and smoke runs); `--json`
//! prints one JSON object instead of the table. Progress goes to stderr.
//!
//! Every figure is wall-clock time on shared CPUs, so the output also gives,
//! per scenario, how many CPUs other processes kept busy meanwhile (from
//! `/proc/stat`): latency figures taken beside other work are not comparable
//! to quiet ones.

mod common;
mod gaming;
mod latency;
mod machine;
mod memory;
mod report;
mod scale;
mod share;
mod svg;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use common::{Lateness, Which, us};
use latency::{BadTask, Variant};
use report::{Row, Target};

/// Everything a run is parameterised by.
#[derive(Debug, Clone)]
struct Config {
    mode: &'static str,
    workers: usize,
    share: Duration,
    latency: Duration,
    gaming: Duration,
    bad: BadTask,
    memory_tasks: usize,
    /// Measure memory in child processes (false only under `cargo test`,
    /// where the current executable is the test harness).
    memory_in_child: bool,
    scale_sizes: [usize; 3],
    scale_total_yields: usize,
    scale_repeats: usize,
    svg: Option<PathBuf>,
}

impl Config {
    fn full(workers: usize) -> Config {
        Config {
            mode: "full",
            workers,
            share: Duration::from_secs(2),
            latency: Duration::from_secs(2),
            gaming: Duration::from_secs(2),
            bad: BadTask {
                workers: 2,
                poll: Duration::from_millis(100),
                reps: 10,
                gap: Duration::from_millis(10),
                others: 4,
            },
            memory_tasks: 1_000_000,
            memory_in_child: true,
            scale_sizes: [100, 10_000, 1_000_000],
            scale_total_yields: 2_000_000,
            scale_repeats: 3,
            svg: Some(svg_path()),
        }
    }

    fn quick(workers: usize) -> Config {
        Config {
            mode: "quick",
            share: Duration::from_millis(500),
            latency: Duration::from_millis(500),
            gaming: Duration::from_millis(500),
            bad: BadTask {
                reps: 3,
                ..Config::full(workers).bad
            },
            memory_tasks: 100_000,
            scale_sizes: [100, 10_000, 100_000],
            scale_total_yields: 200_000,
            scale_repeats: 1,
            ..Config::full(workers)
        }
    }
}

/// `target/fairness.svg` in the workspace root.
fn svg_path() -> PathBuf {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    examples
        .parent()
        .unwrap_or(&examples)
        .join("target")
        .join("fairness.svg")
}

/// Available parallelism, at most 4.
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4)
}

/// What a run produced.
#[derive(Debug)]
struct Results {
    rows: Vec<Row>,
    /// Scenario key, wall time, and the CPUs other processes kept busy
    /// meanwhile (on average).
    times: Vec<(&'static str, Duration, Option<f64>)>,
    /// Failures to report below the table.
    notes: Vec<String>,
    details: serde_json::Value,
}

fn progress(what: &str) {
    eprintln!("fairness_suite: {what}");
}

fn lateness_rows(rows: &mut Vec<Row>, scenario: &str, what: &str, o: &Lateness, t: &Lateness) {
    for (name, a, b) in [
        ("p50", o.p50, t.p50),
        ("p99", o.p99, t.p99),
        ("max", o.max, t.max),
    ] {
        rows.push(
            Row::new(scenario, format!("{what}: {name}"), "us", 1)
                .ours(us(a))
                .tokio(us(b)),
        );
    }
}

fn lateness_json(l: &Lateness) -> serde_json::Value {
    json!({ "p50_us": us(l.p50), "p99_us": us(l.p99), "max_us": us(l.max), "count": l.count })
}

fn run_all(cfg: &Config) -> Results {
    let mut rows = Vec::new();
    let mut times = Vec::new();
    let mut notes = Vec::new();
    let mut details = serde_json::Map::new();
    let w = cfg.workers;

    // 1. Weighted share.
    let watch = machine::Stopwatch::start();
    let wanted = share::wanted();
    let runs: Vec<_> = Which::BOTH
        .iter()
        .map(|&which| {
            progress(&format!("1 weighted share on {}", which.name()));
            share::run(which, cfg.share)
        })
        .collect();
    let scenario = "1 weighted share (1 worker)";
    for (i, want) in wanted.iter().enumerate() {
        let err = |r: &share::ShareRun| (r.shares[i] - want).abs() * 100.0;
        rows.push(
            Row::new(
                scenario,
                format!(
                    "nice {} wants {:.1}%: |share error|",
                    share::NICES[i],
                    want * 100.0
                ),
                "pp",
                2,
            )
            .ours(err(&runs[0]))
            .tokio(err(&runs[1]))
            .target(Target::AtMost(1.0), "1 pp"),
        );
    }
    details.insert(
        "share".into(),
        json!({
            "nices": share::NICES,
            "wanted": wanted,
            "runtime": runs[0].shares,
            "tokio": runs[1].shares,
            "sample_every_ms": share::SAMPLE_EVERY.as_millis() as u64,
        }),
    );
    if let Some(path) = &cfg.svg {
        let labels = share::NICES.map(|n| format!("nice {n}"));
        let doc = svg::render(
            "Scenario 1: CPU share of 3 CPU-bound tasks on one worker, per 50 ms window",
            [&labels[0], &labels[1], &labels[2]],
            wanted,
            &[
                svg::Panel {
                    title: "runtime (EEVDF, nice 0/3/6)".to_owned(),
                    windows: &runs[0].windows,
                },
                svg::Panel {
                    title: "tokio (no nice levels: the three are equals)".to_owned(),
                    windows: &runs[1].windows,
                },
            ],
        );
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, doc));
        if let Err(e) = written {
            notes.push(format!("writing {}: {e}", path.display()));
        }
    }
    let (d, others) = watch.stop();
    times.push(("1", d, others));

    // 2. Interactive latency under load.
    let watch = machine::Stopwatch::start();
    let mut latency_details = serde_json::Map::new();
    for variant in Variant::ALL {
        let l: Vec<Lateness> = Which::BOTH
            .iter()
            .map(|&which| {
                progress(&format!(
                    "{} {} on {}",
                    variant.key(),
                    variant.describe(),
                    which.name()
                ));
                latency::interactive(which, w, variant, cfg.latency)
            })
            .collect();
        let scenario = format!("{} latency, {w} workers", variant.key());
        let what = variant.describe();
        lateness_rows(&mut rows, &scenario, what, &l[0], &l[1]);
        // The p99 row carries the target.
        let p99 = rows.len() - 2;
        let tokio_p99 = us(l[1].p99);
        rows[p99] = if variant == Variant::ThreadWoken {
            rows[p99]
                .clone()
                .target(Target::AtMost(tokio_p99), "tokio's p99")
        } else {
            rows[p99]
                .clone()
                .target(Target::AtMost(tokio_p99 / 4.0), "tokio's p99 / 4")
        };
        let served = if variant == Variant::ThreadWoken {
            "wakes served"
        } else {
            "ticks served"
        };
        rows.push(
            Row::new(&scenario, format!("{what}: {served}"), "count", 0)
                .ours(l[0].count as f64)
                .tokio(l[1].count as f64),
        );
        latency_details.insert(
            variant.key().into(),
            json!({
                "describe": what,
                "runtime": lateness_json(&l[0]),
                "tokio": lateness_json(&l[1]),
            }),
        );
    }
    details.insert("latency".into(), latency_details.into());
    let (d, others) = watch.stop();
    times.push(("2", d, others));

    // 3. Micro-sleep gaming.
    let watch = machine::Stopwatch::start();
    progress("3 micro-sleep on runtime, delayed dequeue on");
    let on = gaming::run(Which::Ours, true, cfg.gaming);
    progress("3 micro-sleep on runtime, delayed dequeue off");
    let off = gaming::run(Which::Ours, false, cfg.gaming);
    progress("3 micro-sleep on tokio");
    let tokio_share = gaming::run(Which::Tokio, true, cfg.gaming);
    let scenario = "3 micro-sleep (1 worker)";
    let what = format!(
        "runs {} us, sleeps 1 us: share",
        gaming::slice().as_micros()
    );
    rows.push(
        Row::new(scenario, format!("{what}, delayed dequeue on"), "%", 1)
            .ours(on * 100.0)
            .tokio(tokio_share * 100.0)
            .target(
                Target::Within {
                    center: 100.0 / 3.0,
                    tolerance: 2.0,
                },
                "fair share 1/3, within 2 pp",
            ),
    );
    rows.push(Row::new(scenario, format!("{what}, delayed dequeue off"), "%", 1).ours(off * 100.0));
    details.insert(
        "micro_sleep".into(),
        json!({ "runtime_dd_on": on, "runtime_dd_off": off, "tokio": tokio_share, "fair": 1.0 / 3.0 }),
    );
    let (d, others) = watch.stop();
    times.push(("3", d, others));

    // 4. One bad task.
    let watch = machine::Stopwatch::start();
    let l: Vec<Lateness> = Which::BOTH
        .iter()
        .map(|&which| {
            progress(&format!("4 one bad task on {}", which.name()));
            latency::bad_task(which, cfg.bad)
        })
        .collect();
    let scenario = format!("4 bad task, {} workers", cfg.bad.workers);
    let what = format!(
        "{} tickers, 1 task polls {} ms x{}",
        cfg.bad.others,
        cfg.bad.poll.as_millis(),
        cfg.bad.reps
    );
    lateness_rows(&mut rows, &scenario, &what, &l[0], &l[1]);
    rows.push(
        Row::new(&scenario, format!("{what}: ticks served"), "count", 0)
            .ours(l[0].count as f64)
            .tokio(l[1].count as f64),
    );
    details.insert(
        "bad_task".into(),
        json!({ "runtime": lateness_json(&l[0]), "tokio": lateness_json(&l[1]) }),
    );
    let (d, others) = watch.stop();
    times.push(("4", d, others));

    // 5. Memory.
    let watch = machine::Stopwatch::start();
    let n = cfg.memory_tasks;
    let bytes: Vec<Option<f64>> = Which::BOTH
        .iter()
        .map(|&which| {
            progress(&format!("5 memory, {n} pending tasks on {}", which.name()));
            let measured = if cfg.memory_in_child {
                memory::in_child(which, w, n)
            } else {
                memory::measure(which, w, n).map(|(b, _rt)| b)
            };
            measured.map_err(|e| notes.push(e)).ok()
        })
        .collect();
    let mut row = Row::new(
        format!("5 memory, {w} workers"),
        format!("{n} pending tasks: RSS growth per task"),
        "bytes",
        0,
    );
    row.ours = bytes[0];
    row.tokio = bytes[1];
    if let Some(t) = bytes[1] {
        row = row.target(Target::AtMost(t), "tokio's");
    }
    rows.push(row);
    details.insert(
        "memory".into(),
        json!({ "tasks": n, "runtime_bytes_per_task": bytes[0], "tokio_bytes_per_task": bytes[1] }),
    );
    let (d, others) = watch.stop();
    times.push(("5", d, others));

    // 6. Scale.
    let watch = machine::Stopwatch::start();
    let costs: Vec<Vec<scale::Cost>> = Which::BOTH
        .iter()
        .map(|&which| {
            progress(&format!("6 yield_many on {}", which.name()));
            scale::run(
                which,
                w,
                &cfg.scale_sizes,
                cfg.scale_total_yields,
                cfg.scale_repeats,
            )
        })
        .collect();
    let scenario = format!("6 yield_many, {w} workers");
    for (k, &n) in cfg.scale_sizes.iter().enumerate() {
        let y = scale::yields_per_task(n, cfg.scale_total_yields);
        rows.push(
            Row::new(
                &scenario,
                format!(
                    "{n} tasks: marginal cost per yield ({y} vs {} yields)",
                    3 * y
                ),
                "ns",
                1,
            )
            .ours(costs[0][k].marginal)
            .tokio(costs[1][k].marginal),
        );
        rows.push(
            Row::new(
                &scenario,
                format!("{n} tasks x {y} yields: wall time per yield, spawns included"),
                "ns",
                1,
            )
            .ours(costs[0][k].wall)
            .tokio(costs[1][k].wall),
        );
    }
    let (big, small) = (cfg.scale_sizes[2], cfg.scale_sizes[0]);
    let ratio_row = |label: String, f: fn(&scale::Cost) -> f64| {
        let ratio = |c: &[scale::Cost]| f(&c[2]) / f(&c[0]);
        Row::new(&scenario, label, "ratio", 2)
            .ours(ratio(&costs[0]))
            .tokio(ratio(&costs[1]))
    };
    rows.push(
        ratio_row(format!("marginal cost({big})/cost({small})"), |c| {
            c.marginal
        })
        .target(Target::AtMost(3.0), "3"),
    );
    rows.push(ratio_row(
        format!("wall cost({big})/cost({small}), spawns included"),
        |c| c.wall,
    ));
    let field = |c: &[scale::Cost], f: fn(&scale::Cost) -> f64| c.iter().map(f).collect::<Vec<_>>();
    details.insert(
        "scale".into(),
        json!({
            "sizes": cfg.scale_sizes,
            "yields_per_task": cfg.scale_sizes.map(|n| scale::yields_per_task(n, cfg.scale_total_yields)),
            "repeats_best_of": cfg.scale_repeats,
            "runtime_marginal_ns_per_yield": field(&costs[0], |c| c.marginal),
            "tokio_marginal_ns_per_yield": field(&costs[1], |c| c.marginal),
            "runtime_wall_ns_per_yield": field(&costs[0], |c| c.wall),
            "tokio_wall_ns_per_yield": field(&costs[1], |c| c.wall),
        }),
    );
    let (d, others) = watch.stop();
    times.push(("6", d, others));

    Results {
        rows,
        times,
        notes,
        details: details.into(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(memory::CHILD_FLAG) {
        memory::child_main(&args[1..]);
    }
    let (mut quick, mut as_json) = (false, false);
    for a in &args {
        match a.as_str() {
            "--quick" => quick = true,
            "--json" => as_json = true,
            "-h" | "--help" => {
                println!("usage: fairness_suite [--quick] [--json]");
                return;
            }
            other => {
                eprintln!("fairness_suite: unknown argument {other:?} (expected --quick, --json)");
                std::process::exit(2);
            }
        }
    }
    let workers = default_workers();
    let cfg = if quick {
        Config::quick(workers)
    } else {
        Config::full(workers)
    };
    let start = Instant::now();
    let results = run_all(&cfg);
    let total = start.elapsed();

    if as_json {
        let out = json!({
            "mode": cfg.mode,
            "workers": cfg.workers,
            "config": {
                "share_s": cfg.share.as_secs_f64(),
                "latency_s": cfg.latency.as_secs_f64(),
                "micro_sleep_s": cfg.gaming.as_secs_f64(),
                "bad_task": {
                    "workers": cfg.bad.workers,
                    "poll_ms": cfg.bad.poll.as_secs_f64() * 1e3,
                    "reps": cfg.bad.reps,
                    "gap_ms": cfg.bad.gap.as_secs_f64() * 1e3,
                    "tickers": cfg.bad.others,
                },
                "memory_tasks": cfg.memory_tasks,
                "scale_sizes": cfg.scale_sizes,
                "scale_total_yields": cfg.scale_total_yields,
            },
            "rows": report::json_rows(&results.rows),
            "details": results.details,
            "seconds": results
                .times
                .iter()
                .map(|(k, d, _)| (k.to_string(), json!(d.as_secs_f64())))
                .collect::<serde_json::Map<_, _>>(),
            "other_processes_cpus": results
                .times
                .iter()
                .map(|(k, _, o)| (k.to_string(), json!(o)))
                .collect::<serde_json::Map<_, _>>(),
            "total_seconds": total.as_secs_f64(),
            "svg": cfg.svg.as_ref().map(|p| p.display().to_string()),
            "errors": results.notes,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    } else {
        println!(
            "fairness_suite ({} mode): W = {} workers; \"runtime\" is this crate, targets apply to it.\n",
            cfg.mode, cfg.workers
        );
        print!("{}", report::table(&results.rows));
        let times: Vec<String> = results
            .times
            .iter()
            .map(|(k, d, _)| format!("{k}: {:.1} s", d.as_secs_f64()))
            .collect();
        println!(
            "\nwall time per scenario: {}; total {:.1} s",
            times.join(", "),
            total.as_secs_f64()
        );
        let others: Vec<String> = results
            .times
            .iter()
            .map(|(k, _, o)| match o {
                Some(o) => format!("{k}: {o:.2}"),
                None => format!("{k}: -"),
            })
            .collect();
        println!(
            "CPUs kept busy by other processes meanwhile (average): {}",
            others.join(", ")
        );
        if let Some(p) = &cfg.svg {
            println!("plot of scenario 1: {}", p.display());
        }
        for n in &results.notes {
            println!("error: {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario at toy sizes: it completes and produces figures.
    #[test]
    fn smoke() {
        let cfg = Config {
            mode: "test",
            workers: 2,
            share: Duration::from_millis(120),
            latency: Duration::from_millis(60),
            gaming: Duration::from_millis(60),
            bad: BadTask {
                workers: 2,
                poll: Duration::from_millis(10),
                reps: 2,
                gap: Duration::from_millis(2),
                others: 2,
            },
            memory_tasks: 2000,
            memory_in_child: false,
            scale_sizes: [10, 100, 1000],
            scale_total_yields: 2000,
            scale_repeats: 1,
            svg: None,
        };
        let r = run_all(&cfg);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        for row in &r.rows {
            if let Some(v) = row.ours {
                assert!(v.is_finite() && v >= 0.0, "{row:?}");
            }
        }
        let table = report::table(&r.rows);
        assert!(table.contains("6 yield_many"), "{table}");
    }

    #[test]
    fn svg_has_both_panels_and_references() {
        let windows = vec![(0.05, [0.5, 0.3, 0.2]), (0.1, [0.6, 0.25, 0.15])];
        let doc = svg::render(
            "t",
            ["a", "b", "c"],
            [0.562, 0.289, 0.149],
            &[
                svg::Panel {
                    title: "one".into(),
                    windows: &windows,
                },
                svg::Panel {
                    title: "two".into(),
                    windows: &windows,
                },
            ],
        );
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        // Per panel: the axes and one series per task.
        assert_eq!(doc.matches("<polyline").count(), 2 * 4);
        assert_eq!(doc.matches("stroke-dasharray").count(), 1 + 2 * 3);
        assert!(doc.contains("time (s)") && doc.contains("wanted share"));
    }

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(common::percentile(&d, 50), Duration::from_micros(50));
        assert_eq!(common::percentile(&d, 99), Duration::from_micros(99));
        assert_eq!(common::percentile(&[], 99), Duration::ZERO);
        assert_eq!(scale::yields_per_task(1_000_000, 2_000_000), 10);
        assert_eq!(scale::yields_per_task(100, 2_000_000), 20_000);
    }
}
