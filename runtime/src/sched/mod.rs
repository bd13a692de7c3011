//! The scheduling policy: an exact EEVDF run queue with delayed dequeue, and a
//! deterministic simulator that drives it in virtual time.
//!
//! This module is pure: it owns no clock, lock, atomic or `Arc`. Time and
//! weights come in as arguments, so everything here can be tested, simulated
//! and benchmarked on its own, and the executor's workers each wrap one
//! [`RunQueue`].
//!
//! # The policy in brief
//!
//! Each entity (a task) has a [`Weight`] (its share) and a slice (its latency
//! request). Run time is charged as *virtual runtime*, `v += dt·1024/w`. The
//! queue's weighted average `V` is where an entity would be had it received
//! exactly its share; its *lag* `w·(V − v)/1024` is the service it is owed.
//! [`RunQueue::pick`] runs the **eligible** entity (lag ≥ 0) with the earliest
//! **virtual deadline** `v + slice·1024/w`: weight sets throughput, slice sets
//! latency.
//!
//! Lag survives sleeping ([`WakeLag::Keep`]), and an entity that blocks while it
//! owes service is **delayed**: it stays queued, keeps competing with its debt,
//! and is dequeued without running when a pick reaches it (by which time its
//! debt is paid). A sleep therefore never forgives debt, which is what defeats
//! tasks that micro-sleep at the end of each slice to jump the queue.
//!
//! # Guarantees
//!
//! - `V` is exact: `Σ w·(v − v0)` is kept in `i128` and eligibility is tested by
//!   cross-multiplication, so a non-empty queue always has an eligible entity and
//!   [`RunQueue::pick`] never fails, whatever the weights.
//! - Vruntime carries its division remainder, so it is exactly
//!   `⌊1024·service/w⌋`: no drift over any run length.
//! - Always-runnable entities with decisions every `q` keep `-r_max < lag <
//!   max(r_max, q)` (the EEVDF paper's bound) with run to parity off, and
//!   `|lag| ≤ r_max + q` with it on.
//! - Delayed entities are never returned to run; picked, they leave with lag 0.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use runtime::sched::{Block, Config, Params, Pick, RunQueue, Weight};
//!
//! let mut q = RunQueue::new(Config::new())?;
//! let batch = q.enqueue_new(Params::new().weight(Weight::from_nice(5)?), "batch");
//! let ui = q.enqueue_new(Params::new().slice(Duration::from_micros(200)), "ui");
//!
//! // The worker loop: pick, run, charge, and report how the run ended.
//! for _ in 0..100 {
//!     match q.pick() {
//!         Pick::Run(id) => {
//!             q.charge(Duration::from_micros(50))?;
//!         }
//!         Pick::Dequeued(_) => continue, // a delayed entity left; pick again
//!         Pick::Idle => break,
//!     }
//! }
//! assert!(q.info(ui)?.runtime > q.info(batch)?.runtime);
//! # Ok::<(), runtime::sched::Error>(())
//! ```

mod config;
mod entity;
mod error;
mod queue;
mod tree;
mod weight;

pub mod sim;

pub use config::{Config, MAX_SLICE, MIN_SLICE, Params, WakeLag};
pub use entity::{Block, Charge, EntityId, EntityInfo, EntityState, Migrant, Pick, Wake};
pub use error::Error;
pub use queue::RunQueue;
pub use weight::{MAX_WEIGHT, NICE_0_WEIGHT, Weight};

#[cfg(test)]
mod tests;
