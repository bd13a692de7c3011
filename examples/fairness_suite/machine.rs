//! How busy the rest of the machine was: every scenario measures time on
//! shared CPUs, so the CPU used by other processes meanwhile is reported
//! beside the figures.

/// A reading of the machine's and this process's CPU counters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSnapshot {
    /// All CPUs' ticks, idle included.
    total: u64,
    /// All CPUs' non-idle ticks.
    busy: u64,
    /// This process's ticks, its waited-for children included.
    own: u64,
    /// CPUs counted in `total`.
    cpus: u64,
}

impl CpuSnapshot {
    /// `None` where `/proc` is unavailable.
    pub(crate) fn now() -> Option<CpuSnapshot> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpus = stat
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count() as u64;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is
        // already inside user and nice).
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may contain spaces): state is
        // field 3, utime..cstime are fields 14..=17.
        let after = own_stat.rsplit_once(')')?.1;
        let own: u64 = after
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|v| v.parse::<u64>().unwrap_or(0))
            .sum();
        Some(CpuSnapshot {
            total,
            busy: total - idle,
            own,
            cpus: cpus.max(1),
        })
    }

    /// Average number of CPUs other processes kept busy since `self`.
    pub(crate) fn others_since(self, later: CpuSnapshot) -> f64 {
        let cpus = self.cpus as f64;
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let others = later
            .busy
            .saturating_sub(self.busy)
            .saturating_sub(later.own.saturating_sub(self.own)) as f64;
        others / total * cpus
    }
}

/// Wall time and other processes' CPU use over one scenario.
#[derive(Debug)]
pub(crate) struct Stopwatch {
    start: std::time::Instant,
    cpu: Option<CpuSnapshot>,
}

impl Stopwatch {
    pub(crate) fn start() -> Stopwatch {
        Stopwatch {
            start: std::time::Instant::now(),
            cpu: CpuSnapshot::now(),
        }
    }

    /// The wall time, and the average CPUs other processes kept busy.
    pub(crate) fn stop(self) -> (std::time::Duration, Option<f64>) {
        let elapsed = self.start.elapsed();
        let others = self
            .cpu
            .zip(CpuSnapshot::now())
            .map(|(a, b)| a.others_since(b));
        (elapsed, others)
    }
}
