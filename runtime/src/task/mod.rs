//! Tasks: spawning, joining, aborting and yielding.
//!
//! A task is a future the runtime polls on one of its workers. Each lives in
//! one allocation (header, future, output); its lifecycle runs through one
//! atomic state word (`state.rs`) whose transitions are model-checked under
//! loom, including the delayed state that EEVDF's delayed dequeue adds.
//!
//! # Examples
//!
//! ```
//! use runtime::task;
//!
//! let rt = runtime::Builder::new_current_thread().build()?;
//! let out = rt.block_on(async {
//!     let a = task::spawn(async { 1 });
//!     let b = task::spawn(async { task::yield_now().await; 2 });
//!     a.await.unwrap() + b.await.unwrap()
//! });
//! assert_eq!(out, 3);
//! # Ok::<(), std::io::Error>(())
//! ```

mod builder;
pub(crate) mod core;
mod error;
mod id;
mod join;
mod resched;
pub(crate) mod state;
mod yield_now;

pub use builder::Builder;
pub use error::JoinError;
pub use id::Id;
pub use join::{AbortHandle, JoinHandle};
pub use resched::{cond_resched, need_resched, set_nice};
pub use yield_now::yield_now;

pub use crate::rt::spawn;
