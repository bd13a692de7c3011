//! Preempt notifiers: a task's own switch-in and switch-out callbacks.
//!
//! A task's notifier list lives in its header and, like its future, is only
//! touched by the thread holding the task's `RUNNING` bit: the task itself
//! registers during its poll, its worker calls `sched_in` after taking
//! `RUNNING` and snapshots the list for `sched_out` before giving `RUNNING` up.
//! Unregistering (dropping the guard) may happen on any thread, so it only
//! clears the entry's `live` flag; the worker prunes dead entries at the next
//! switch-in. The list is an immutable shared slice, replaced on change, so a
//! snapshot costs one reference count.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::SwitchReason;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::rt::context;

/// Callbacks around each poll of the task that registered them, like Linux's
/// preempt notifiers (which KVM uses to save and restore a vCPU's state when
/// its thread is switched out and in).
///
/// [`sched_in`](PreemptNotifier::sched_in) runs on the worker just before each
/// poll of the task; [`sched_out`](PreemptNotifier::sched_out) just after it,
/// with the reason the poll ended. The reason is decided by the same atomic
/// transition that decides the task's fate, so
/// [`SwitchReason::is_runnable`] is exact: if it says runnable, the task will
/// be polled again without a wake; if not, only a wake brings it back (even if
/// it stays queued as a delayed task).
///
/// Calls for one task never overlap, and the final
/// `sched_out(`[`Completed`](SwitchReason::Completed)`)` is delivered before
/// the task's `JoinHandle` is woken. A panic in a callback is caught and
/// reported on stderr; the worker carries on.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use runtime::task::{PreemptNotifier, SwitchReason};
///
/// /// Marks a "vCPU" as preempted while it is switched out but runnable.
/// struct Vcpu {
///     preempted: AtomicBool,
/// }
///
/// impl PreemptNotifier for Vcpu {
///     fn sched_in(&self, _worker: usize) {
///         self.preempted.store(false, Ordering::SeqCst);
///     }
///     fn sched_out(&self, reason: SwitchReason) {
///         // Not `TaskInfo::is_queued`: a delayed task is queued yet asleep.
///         self.preempted.store(reason.is_runnable(), Ordering::SeqCst);
///     }
/// }
///
/// let rt = runtime::Runtime::new()?;
/// let vcpu = Arc::new(Vcpu { preempted: AtomicBool::new(false) });
/// let watched = vcpu.clone();
/// rt.block_on(rt.spawn(async move {
///     let _guard = runtime::task::register_preempt_notifier(watched);
///     runtime::task::yield_now().await; // sched_out(Yielded), then sched_in
/// }))
/// .unwrap();
/// assert!(!vcpu.preempted.load(Ordering::SeqCst)); // it ended Completed
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait PreemptNotifier: Send + Sync + 'static {
    /// The task is about to be polled on worker `worker`.
    fn sched_in(&self, worker: usize);
    /// The task's poll ended for `reason`.
    fn sched_out(&self, reason: SwitchReason);
}

struct Entry {
    notifier: Arc<dyn PreemptNotifier>,
    live: AtomicBool,
}

/// A thin pointer, so that every task header carries one word for it.
type List = Arc<Vec<Arc<Entry>>>;

/// Keeps a notifier registered; dropping it unregisters the notifier.
///
/// The notifier still gets the `sched_out` that ends the poll during which
/// the guard was dropped, so `sched_in` and `sched_out` calls always pair up,
/// and a guard kept in the task's own future delivers its
/// [`Completed`](SwitchReason::Completed). After that, no call starts.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use runtime::task::{PreemptNotifier, SwitchReason};
///
/// #[derive(Default)]
/// struct Count(AtomicUsize);
/// impl PreemptNotifier for Count {
///     fn sched_in(&self, _: usize) {
///         self.0.fetch_add(1, Ordering::SeqCst);
///     }
///     fn sched_out(&self, _: SwitchReason) {}
/// }
///
/// let rt = runtime::Builder::new_current_thread().build()?;
/// let count = Arc::new(Count::default());
/// let c = count.clone();
/// rt.block_on(rt.spawn(async move {
///     let guard = runtime::task::register_preempt_notifier(c);
///     runtime::task::yield_now().await; // one sched_in
///     drop(guard);
///     runtime::task::yield_now().await; // none
/// }))
/// .unwrap();
/// assert_eq!(count.0.load(Ordering::SeqCst), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping the guard unregisters the notifier"]
pub struct NotifierGuard {
    entry: Arc<Entry>,
}

impl Drop for NotifierGuard {
    fn drop(&mut self) {
        self.entry.live.store(false, Ordering::Release);
    }
}

impl fmt::Debug for NotifierGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifierGuard").finish_non_exhaustive()
    }
}

/// Registers `notifier` on the calling task: from the next switch-out on, it
/// hears about every switch of this task until the returned guard is dropped.
///
/// # Panics
///
/// When called outside a task of this runtime (for example in `block_on`'s
/// own future, or on a plain thread), with a message saying so.
///
/// # Examples
///
/// See [`PreemptNotifier`] for use inside a task; outside one it panics:
///
/// ```
/// use std::sync::Arc;
/// use runtime::task::{PreemptNotifier, SwitchReason};
///
/// struct Quiet;
/// impl PreemptNotifier for Quiet {
///     fn sched_in(&self, _: usize) {}
///     fn sched_out(&self, _: SwitchReason) {}
/// }
///
/// let outside = std::panic::catch_unwind(|| {
///     runtime::task::register_preempt_notifier(Arc::new(Quiet))
/// });
/// assert!(outside.is_err());
/// ```
#[track_caller]
pub fn register_preempt_notifier(notifier: Arc<dyn PreemptNotifier>) -> NotifierGuard {
    let Some(task) = context::poll_context().map(|ctx| ctx.task) else {
        panic!(
            "runtime::task::register_preempt_notifier called outside a task: \
             it watches the calling task, so call it from inside a spawned task"
        );
    };
    let entry = Arc::new(Entry {
        notifier,
        live: AtomicBool::new(true),
    });
    // SAFETY: the poll context names the task this thread is polling, which
    // stays alive for the poll, and the poll holds its `RUNNING` bit.
    unsafe { task.as_ref().notifiers.push(entry.clone()) };
    NotifierGuard { entry }
}

/// Reports a panicking callback and carries on.
pub(crate) fn guarded(what: &str, f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        eprintln!("runtime: {what} panicked ({msg}); ignored, the worker carries on");
    }
}

/// A task's notifiers. Every method requires the caller to hold the task's
/// `RUNNING` bit.
pub(crate) struct Notifiers {
    list: UnsafeCell<Option<List>>,
}

/// The notifiers to tell about a switch-out, taken while still `RUNNING`.
pub(crate) struct Pending(List);

impl Pending {
    /// Calls `sched_out` on each.
    pub(crate) fn sched_out(self, reason: SwitchReason) {
        for e in self.0.iter() {
            guarded("a preempt notifier's sched_out", || {
                e.notifier.sched_out(reason)
            });
        }
    }
}

impl Notifiers {
    pub(crate) fn new() -> Notifiers {
        Notifiers {
            list: UnsafeCell::new(None),
        }
    }

    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    unsafe fn get(&self) -> Option<List> {
        // SAFETY: the caller holds `RUNNING`, which serializes every access.
        self.list.with(|l| unsafe { (*l).clone() })
    }

    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    unsafe fn set(&self, list: Option<List>) {
        // SAFETY: as in `get`; no reference into the cell outlives `get`.
        self.list.with_mut(|l| unsafe { *l = list });
    }

    /// Whether any notifier is registered: the poll path's one branch.
    ///
    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    pub(crate) unsafe fn is_empty(&self) -> bool {
        // SAFETY: the caller's promise.
        self.list.with(|l| unsafe { (*l).is_none() })
    }

    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    unsafe fn push(&self, entry: Arc<Entry>) {
        // SAFETY: the caller's promise.
        let list: List = match unsafe { self.get() } {
            Some(old) => Arc::new(old.iter().cloned().chain([entry]).collect()),
            None => Arc::new(vec![entry]),
        };
        // SAFETY: the caller's promise.
        unsafe { self.set(Some(list)) };
    }

    /// Drops unregistered notifiers, then calls `sched_in` on the others.
    ///
    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    pub(crate) unsafe fn sched_in(&self, worker: usize) {
        // SAFETY: the caller's promise.
        let Some(list) = (unsafe { self.get() }) else {
            return;
        };
        let live = |e: &&Arc<Entry>| e.live.load(Ordering::Acquire);
        let list = if list.iter().all(|e| live(&e)) {
            list
        } else {
            let kept: List = Arc::new(list.iter().filter(live).cloned().collect());
            let kept = (!kept.is_empty()).then_some(kept);
            // SAFETY: the caller's promise.
            unsafe { self.set(kept.clone()) };
            match kept {
                Some(kept) => kept,
                None => return,
            }
        };
        for e in list.iter() {
            guarded("a preempt notifier's sched_in", || {
                e.notifier.sched_in(worker)
            });
        }
    }

    /// The notifiers to tell about the coming switch-out (those registered
    /// at any point of the poll), or `None`.
    ///
    /// # Safety
    ///
    /// The caller holds the task's `RUNNING` bit.
    pub(crate) unsafe fn pending(&self) -> Option<Pending> {
        // SAFETY: the caller's promise.
        unsafe { self.get() }.map(Pending)
    }
}
