//! Voluntary preemption points: [`need_resched`], [`cond_resched`], and
//! [`set_nice`].

use super::yield_now;
use crate::rt::context;
use crate::sched::Weight;

/// Whether the calling task should let others run: it has used up its current
/// request (its slice) during this poll and another task is runnable on its
/// worker. Always false outside a task.
///
/// A long computation can check it between steps and yield only when it
/// matters, instead of yielding on a guess.
///
/// "Runnable" is judged when the poll starts (the worker's queue is not
/// consulted again mid-poll, so this costs one clock read). A task that has
/// used its whole request has usually run past the queue's average and made
/// a competitor eligible; if none is (the task still had credit), the yield
/// that [`cond_resched`] makes costs one pick and the task is polled again at
/// once, charged only for the time it ran.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let task = runtime::spawn(async {
///         // Alone on the worker: never asked to step aside.
///         runtime::task::need_resched()
///     });
///     assert!(!task.await.unwrap());
/// });
/// assert!(!runtime::task::need_resched());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn need_resched() -> bool {
    context::poll_context().is_some_and(|ctx| {
        ctx.others && crate::clock::now().saturating_sub(ctx.start) >= ctx.budget.as_nanos() as u64
    })
}

/// Yields if [`need_resched`] says so (the kernel's voluntary preemption
/// point); otherwise returns at once, costing one clock read.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     let worker = runtime::spawn(async {
///         let mut sum = 0u64;
///         for i in 0..100_000u64 {
///             sum += i;
///             if i % 1000 == 0 {
///                 runtime::task::cond_resched().await;
///             }
///         }
///         sum
///     });
///     assert_eq!(worker.await.unwrap(), 4_999_950_000);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn cond_resched() {
    if need_resched() {
        context::update_poll(|ctx| ctx.preempted = true);
        yield_now().await;
    }
}

/// Sets the calling task's nice level (`-20..=19`, lower is a larger share).
/// The change applies when the current poll ends: the run queue's average is
/// unchanged and the task's real lag is kept.
///
/// # Errors
///
/// `InvalidInput` naming the value, for a nice level outside `-20..=19`;
/// `Other` when called outside a task.
///
/// # Examples
///
/// ```
/// let rt = runtime::Builder::new_current_thread().build()?;
/// rt.block_on(async {
///     runtime::spawn(async {
///         runtime::task::set_nice(5).unwrap();
///         assert!(runtime::task::set_nice(40).is_err());
///     })
///     .await
///     .unwrap();
/// });
/// assert!(runtime::task::set_nice(0).is_err()); // not in a task
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn set_nice(nice: i8) -> std::io::Result<()> {
    let weight = Weight::from_nice(i32::from(nice))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    if context::update_poll(|ctx| ctx.reweight = Some(weight)) {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "runtime::task::set_nice called outside a task: it reweights the calling task",
        ))
    }
}
