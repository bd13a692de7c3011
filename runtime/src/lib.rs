//! `runtime`: an async runtime for Rust whose scheduler is EEVDF (earliest
//! eligible virtual deadline first), the proportional-share policy of Linux
//! since 6.6, with the 6.12 *delayed dequeue*.
//!
//! Tasks get weights (nice levels) for fair CPU shares and slices for latency,
//! so a few latency-sensitive tasks stay responsive while others burn CPU.
//!
//! The policy lives in [`sched`]: a pure, exact run queue and a deterministic
//! simulator. The executor ([`Runtime`], [`spawn`], [`task`], [`time`]) runs
//! tasks on it, one run queue per worker, and reports what it does through
//! hooks, preempt notifiers and schedstats ([`task::TaskInfo`],
//! [`Handle::metrics`]).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use runtime::sched::{Config, Params, Pick, RunQueue, Weight};
//!
//! let mut q = RunQueue::new(Config::new())?;
//! q.enqueue_new(Params::new().weight(Weight::from_nice(-5)?), "important");
//! q.enqueue_new(Params::new(), "normal");
//! assert!(matches!(q.pick(), Pick::Run(_)));
//! q.charge(Duration::from_micros(100))?;
//! # Ok::<(), runtime::sched::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod sched;
pub mod task;
pub mod time;

mod clock;
mod loom;
mod rt;

pub use rt::{Builder, Handle, Runtime, RuntimeMetrics, TryCurrentError, WorkerMetrics, spawn};

/// Attribute macros that run an `async fn` on a runtime of its own: `main`
/// for a program's entry point, `test` for a test (it adds `#[test]`). Both
/// take `flavor`, `worker_threads` and `crate` options, and a mistake in them
/// is a compile error on the offending token.
pub use runtime_macros::{main, test};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
