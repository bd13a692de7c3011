//! Scenario 5, memory: resident bytes per pending task. Each runtime is
//! measured in a fresh child process (this program re-executed with
//! `--memory-child`), so the two do not share an allocator's history.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Rt, Which};

pub(crate) const CHILD_FLAG: &str = "--memory-child";

/// Resident set size of this process, in bytes, from `/proc/self/statm`.
pub(crate) fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The kernel's page size, from `/proc/self/smaps` (4 KiB if unreadable).
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

/// Spawns `n` tasks that each wait forever, waits until every one has been
/// polled once, and gives the RSS growth per task in bytes, with the runtime
/// (still holding the tasks: the caller chooses whether to drop it). Runs in
/// the calling process.
pub(crate) fn measure(which: Which, workers: usize, n: usize) -> Result<(f64, Rt), String> {
    let rt = Rt::multi_thread(which, workers);
    // Warm the runtime up (threads started, first allocations made).
    let warm = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let warm = warm.clone();
        rt.spawn_detached(async move {
            warm.fetch_add(1, Ordering::Relaxed);
        });
    }
    wait_for(&warm, 1000)?;

    let polled = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes().ok_or("cannot read /proc/self/statm")?;
    for _ in 0..n {
        let polled = polled.clone();
        rt.spawn_detached(async move {
            polled.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        });
    }
    wait_for(&polled, n)?;
    let after = rss_bytes().ok_or("cannot read /proc/self/statm")?;
    Ok((after.saturating_sub(before) as f64 / n as f64, rt))
}

fn wait_for(count: &AtomicUsize, n: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} tasks were polled within 120 s",
                count.load(Ordering::Relaxed)
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The child's entry point: `--memory-child runtime|tokio N WORKERS`.
/// Prints the bytes per task on stdout.
pub(crate) fn child_main(args: &[String]) -> ! {
    let parsed = (|| {
        let which = match args.first()?.as_str() {
            "runtime" => Which::Ours,
            "tokio" => Which::Tokio,
            _ => return None,
        };
        let n: usize = args.get(1)?.parse().ok()?;
        let workers: usize = args.get(2)?.parse().ok()?;
        Some((which, n, workers))
    })();
    let Some((which, n, workers)) = parsed else {
        eprintln!("usage: {CHILD_FLAG} runtime|tokio TASKS WORKERS");
        std::process::exit(2);
    };
    match measure(which, workers, n) {
        Ok((bytes, _rt)) => {
            println!("{bytes}");
            // Exits without dropping the runtime and its tasks: the
            // measurement is done, and tearing down a million tasks is not
            // part of it.
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("memory child ({}): {e}", which.name());
            std::process::exit(1);
        }
    }
}

/// Runs the measurement for `which` in a child process.
pub(crate) fn in_child(which: Which, workers: usize, n: usize) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new(exe)
        .arg(CHILD_FLAG)
        .arg(which.name())
        .arg(n.to_string())
        .arg(workers.to_string())
        .output()
        .map_err(|e| format!("starting the memory child: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "memory child ({}) failed with {}: {}",
            which.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("memory child ({}) printed {stdout:?}", which.name()))
}
