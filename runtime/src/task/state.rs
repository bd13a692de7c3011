//! The task state word: one atomic holding every fact about a task's lifecycle
//! that more than one thread may read or change, plus its reference count.
//!
//! # Bits
//!
//! | bit | name | meaning |
//! | --- | --- | --- |
//! | 0 | `RUNNING` | a worker is polling (or cancelling) the future; the lock on the future |
//! | 1 | `COMPLETE` | the future finished or was cancelled, and is dropped; never cleared |
//! | 2 | `QUEUED` | the task has an entry on its worker's run queue (runnable, running or delayed); the entry owns one reference |
//! | 3 | `DELAYED` | it blocked while owing service: its entry stays queued, but it is not runnable |
//! | 4 | `NOTIFIED` | woken since its last poll started, and the owner has not acted on it yet |
//! | 5 | `CANCELLED` | abort requested; whoever next holds `RUNNING` cancels instead of polling |
//! | 6 | `JOIN_INTEREST` | a `JoinHandle` exists: it, not the completer, takes the output |
//! | 7 | `JOIN_WAKER` | the join-waker slot holds the handle's waker, shared read-only |
//! | 8.. | refs | reference count, in units of [`REF_ONE`]: queue entry, in-flight messages, wakers, handles |
//!
//! # The join side
//!
//! - The join-waker slot is written only by the `JoinHandle`, and only while
//!   the task is not complete and `JOIN_WAKER` is clear; setting `JOIN_WAKER`
//!   (a CAS that fails once `COMPLETE` is set) publishes it. To replace it the
//!   handle first clears `JOIN_WAKER` the same way.
//! - Completion stores the output while holding `RUNNING`, then swaps
//!   `RUNNING` for `COMPLETE` in one CAS and looks at the bits it replaced: no
//!   `JOIN_INTEREST`, and the completer drops the output itself; `JOIN_WAKER`,
//!   and it wakes the stored waker by reference (the waker is dropped with the
//!   task).
//! - Dropping the `JoinHandle` clears `JOIN_INTEREST` (and, before completion,
//!   `JOIN_WAKER`, taking the slot back) in one CAS; if that CAS saw
//!   `COMPLETE`, the handle drops the output. So the output is dropped exactly
//!   once, by whoever the CAS order makes responsible.
//!
//! *Queued* is not *runnable*: a delayed task is queued and asleep, as in Linux
//! since 6.12. Runnable means `QUEUED && !DELAYED`, and only a decision taken
//! in the same CAS as the change it causes may rely on it.
//!
//! # Who changes what
//!
//! Every transition below is one CAS loop (or one RMW), so each decision is
//! taken on the value it changes, never on an earlier load.
//!
//! - The **owner worker** (the one whose run queue holds the entry):
//!   [`to_running`](State::to_running) when its pick returns the task;
//!   [`after_poll`](State::after_poll) when the poll returns `Pending`, passing
//!   what its run queue would do with a blocking task (dequeue, or keep it
//!   delayed); [`delayed_pick`](State::delayed_pick) when its pick meets the
//!   delayed entry; [`rearm`](State::rearm) when a re-arm message arrives;
//!   [`to_complete`](State::to_complete) when the future is done.
//! - **Wakers**, from any thread: [`wake`](State::wake). Its answer says
//!   what the caller must send to the owner: nothing, a new entry (the task was
//!   off-queue), or a re-arm message (the task is delayed).
//! - **Abort**, from any thread: [`cancel`](State::cancel), answered the same way.
//!
//! # The two races delayed dequeue adds
//!
//! 1. *Wake during poll.* A wake that lands while `RUNNING` sets `NOTIFIED`;
//!    `after_poll` sees it and requeues the task as runnable (a preemption,
//!    not a block). Blocking clears `RUNNING` in the same CAS that checked
//!    `NOTIFIED`, so a later wake finds the task blocked and acts itself.
//! 2. *Wake against the pick that would finish a delayed dequeue.* If the wake
//!    comes first it sets `NOTIFIED` (and sends a re-arm message); the pick sees
//!    it and re-arms the entry in place instead of dropping it, and the message,
//!    arriving later, finds nothing to do. If the pick comes first it clears
//!    `QUEUED` as its last act on the entry, and the wake then finds an
//!    off-queue task and submits a new entry. Either way the task ends up
//!    runnable with exactly one entry.
//!
//! A re-arm message can arrive after the task was re-armed at a pick, ran, and
//! blocked delayed again. It then finds `NOTIFIED` clear (the pick consumed
//! it) and does nothing, so a blocked task is never polled again without a
//! wake since its block; if a newer wake set `NOTIFIED`, the first message to
//! arrive acts on it and the other finds nothing.

use std::fmt;

use crate::loom::sync::atomic::AtomicUsize;
use crate::loom::sync::atomic::Ordering::{self, AcqRel, Acquire};

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const QUEUED: usize = 1 << 2;
const DELAYED: usize = 1 << 3;
const NOTIFIED: usize = 1 << 4;
const CANCELLED: usize = 1 << 5;
const JOIN_INTEREST: usize = 1 << 6;
const JOIN_WAKER: usize = 1 << 7;
const REF_SHIFT: u32 = 8;
/// One reference.
pub(crate) const REF_ONE: usize = 1 << REF_SHIFT;

/// The task state word.
pub(crate) struct State {
    val: AtomicUsize,
}

/// A value of the state word, for inspection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_queued(self) -> bool {
        self.0 & QUEUED != 0
    }
    pub(crate) fn is_delayed(self) -> bool {
        self.0 & DELAYED != 0
    }
    /// Queued and not delayed: Linux's `task_is_runnable`.
    pub(crate) fn is_runnable(self) -> bool {
        self.0 & (QUEUED | DELAYED) == QUEUED
    }
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    #[cfg(all(test, not(loom)))]
    pub(crate) fn refs(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (RUNNING, "RUNNING"),
            (COMPLETE, "COMPLETE"),
            (QUEUED, "QUEUED"),
            (DELAYED, "DELAYED"),
            (NOTIFIED, "NOTIFIED"),
            (CANCELLED, "CANCELLED"),
            (JOIN_INTEREST, "JOIN_INTEREST"),
            (JOIN_WAKER, "JOIN_WAKER"),
        ];
        let mut set = f.debug_set();
        for (bit, name) in names {
            if self.0 & bit != 0 {
                set.entry(&format_args!("{name}"));
            }
        }
        set.entry(&format_args!("refs={}", self.0 >> REF_SHIFT));
        set.finish()
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

/// What the run queue would do with the task if it blocks now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// It is eligible (or delayed dequeue is off): leave the queue.
    Dequeue,
    /// It owes service: stay queued as delayed.
    Delay,
}

/// The result of [`State::to_running`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum ToRunning {
    /// Poll the future.
    Poll,
    /// Abort was requested: drop the future instead, then complete.
    Cancel,
}

/// The result of [`State::after_poll`]; switch-out hooks report from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum AfterPoll {
    /// Woken during the poll: still runnable, stays queued (preempted or yielded).
    Requeue,
    /// Blocked and left the queue.
    Dequeued,
    /// Blocked and stays queued as delayed.
    Delayed,
    /// Abort was requested during the poll: drop the future, then complete.
    Cancel,
}

/// What a waker (or abort) must send to the owner worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum WakeAction {
    /// Nothing: the task is running, runnable, complete, or already re-armed.
    None,
    /// The task was off-queue: submit a new entry.
    Submit,
    /// The task is delayed: send a re-arm message.
    Rearm,
}

/// The result of [`State::delayed_pick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum DelayedPick {
    /// Woken while delayed: runnable again, keep the entry (wake it in place).
    Rearm,
    /// Still asleep: the entry is gone.
    Dequeued,
}

impl State {
    /// A new task: queued with its first entry (one reference) and a
    /// `JoinHandle` (another).
    pub(crate) fn new() -> State {
        State {
            val: AtomicUsize::new(QUEUED | JOIN_INTEREST | (2 * REF_ONE)),
        }
    }

    /// For tests: a task in an arbitrary state.
    #[cfg(test)]
    fn with(bits: usize) -> State {
        State {
            val: AtomicUsize::new(bits),
        }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// One CAS loop: `f` returns the new value and the answer, or `None` to
    /// leave the word unchanged.
    fn update<R>(&self, mut f: impl FnMut(usize) -> (Option<usize>, R)) -> R {
        let mut cur = self.val.load(Acquire);
        loop {
            let (next, out) = f(cur);
            let Some(next) = next else { return out };
            match self.val.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return out,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The owner's pick returned the task (queued, runnable, not running).
    /// Takes `RUNNING` and clears `NOTIFIED`, so that a wake during the poll
    /// can be told apart from one before it.
    pub(crate) fn to_running(&self) -> ToRunning {
        self.update(|cur| {
            debug_assert!(
                Snapshot(cur).is_runnable() && cur & (RUNNING | COMPLETE) == 0,
                "to_running from {:?}",
                Snapshot(cur)
            );
            let next = (cur | RUNNING) & !NOTIFIED;
            let out = if cur & CANCELLED != 0 {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (Some(next), out)
        })
    }

    /// The poll returned `Pending`. `block` is what the run queue would do if the
    /// task blocks; `woken` says the task woke itself during the poll (noted by
    /// the polling thread instead of `NOTIFIED`); the answer says what happened,
    /// decided in one CAS.
    ///
    /// Also returns the value the transition wrote (or found, for `Cancel`):
    /// switch-out hooks report from it, never from a later load.
    pub(crate) fn after_poll(&self, block: BlockKind, woken: bool) -> (AfterPoll, Snapshot) {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0, "after_poll from {:?}", Snapshot(cur));
            let (next, fate) = if cur & CANCELLED != 0 {
                return (None, (AfterPoll::Cancel, Snapshot(cur)));
            } else if woken || cur & NOTIFIED != 0 {
                (cur & !(RUNNING | NOTIFIED), AfterPoll::Requeue)
            } else {
                match block {
                    BlockKind::Delay => ((cur & !RUNNING) | DELAYED, AfterPoll::Delayed),
                    BlockKind::Dequeue => (cur & !(RUNNING | QUEUED), AfterPoll::Dequeued),
                }
            };
            (Some(next), (fate, Snapshot(next)))
        })
    }

    /// The owner's pick met the task's delayed entry. Re-arms it if a wake came
    /// in since it blocked; otherwise finishes the dequeue: once that is visible
    /// a waker may submit a new entry, so this is the last act on the old one.
    pub(crate) fn delayed_pick(&self) -> DelayedPick {
        self.update(|cur| {
            debug_assert!(
                cur & (QUEUED | DELAYED) == QUEUED | DELAYED && cur & RUNNING == 0,
                "delayed_pick from {:?}",
                Snapshot(cur)
            );
            if cur & NOTIFIED != 0 {
                (Some(cur & !(DELAYED | NOTIFIED)), DelayedPick::Rearm)
            } else {
                (Some(cur & !(QUEUED | DELAYED)), DelayedPick::Dequeued)
            }
        })
    }

    /// A re-arm message reached the owner. Returns whether the task was still
    /// delayed with a wake pending and is now runnable (wake it in place on
    /// the run queue).
    pub(crate) fn rearm(&self) -> bool {
        self.update(|cur| {
            if cur & (QUEUED | DELAYED | NOTIFIED) == QUEUED | DELAYED | NOTIFIED {
                (Some(cur & !(DELAYED | NOTIFIED)), true)
            } else {
                (None, false)
            }
        })
    }

    /// A waker fired. Always a read-modify-write, even when there is nothing to
    /// do, so that what the waker wrote before waking is visible to the poll
    /// that follows.
    pub(crate) fn wake(&self) -> WakeAction {
        self.update(|cur| {
            if cur & COMPLETE != 0 {
                return (Some(cur), WakeAction::None);
            }
            let (next, action) = woken(cur);
            (Some(next), action)
        })
    }

    /// Abort. Sets `CANCELLED` and wakes the task like [`wake`](Self::wake), so
    /// that a worker gets to it: a running task is cancelled at the end of its
    /// poll, a queued one at its next pick, an off-queue or delayed one once its
    /// new entry or re-arm message arrives.
    pub(crate) fn cancel(&self) -> WakeAction {
        self.update(|cur| {
            if cur & (COMPLETE | CANCELLED) != 0 {
                return (None, WakeAction::None);
            }
            let (next, action) = woken(cur | CANCELLED);
            (Some(next), action)
        })
    }

    /// The output is stored (or the future dropped on cancel) while
    /// `RUNNING`: swaps `RUNNING` for `COMPLETE`, leaving the queue for good.
    /// Returns the state it replaced, so the caller knows whether a
    /// `JoinHandle` will take the output and whether to wake it.
    pub(crate) fn to_complete(&self) -> Snapshot {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0, "to_complete from {:?}", Snapshot(cur));
            let next = (cur & !(RUNNING | QUEUED | NOTIFIED | DELAYED)) | COMPLETE;
            (Some(next), Snapshot(cur))
        })
    }

    /// Shutdown: marks the task cancelled and, if no worker is polling it,
    /// takes `RUNNING` so that the caller drops its future (then completes it).
    /// False if a worker holds it (it cancels at the end of its poll) or it is
    /// already complete.
    pub(crate) fn to_shutdown(&self) -> bool {
        self.update(|cur| {
            if cur & (COMPLETE | RUNNING) != 0 {
                let next = if cur & COMPLETE != 0 {
                    None
                } else {
                    Some(cur | CANCELLED)
                };
                return (next, false);
            }
            let next = (cur & !(QUEUED | NOTIFIED | DELAYED)) | RUNNING | CANCELLED;
            (Some(next), true)
        })
    }

    /// Adds a reference (a waker clone, a message, a handle).
    pub(crate) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev >> REF_SHIFT > (usize::MAX >> REF_SHIFT) / 2 {
            // Like `Arc`: a count this high means leaked references.
            std::process::abort();
        }
    }

    /// Drops a reference; true if it was the last (free the task).
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = self.val.fetch_sub(REF_ONE, AcqRel);
        debug_assert!(prev >> REF_SHIFT >= 1, "task reference count underflow");
        prev >> REF_SHIFT == 1
    }

    /// The `JoinHandle` publishes the waker it just wrote into the slot.
    /// `Err` if the task completed first (the handle reads the output).
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|cur| {
            debug_assert!(cur & (JOIN_INTEREST | JOIN_WAKER) == JOIN_INTEREST);
            if cur & COMPLETE != 0 {
                (None, Err(Snapshot(cur)))
            } else {
                (Some(cur | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` takes the slot back to replace its waker. `Err` if the
    /// task completed first.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|cur| {
            debug_assert!(cur & (JOIN_INTEREST | JOIN_WAKER) == JOIN_INTEREST | JOIN_WAKER);
            if cur & COMPLETE != 0 {
                (None, Err(Snapshot(cur)))
            } else {
                (Some(cur & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// The `JoinHandle` is dropped: clears `JOIN_INTEREST` (and before
    /// completion `JOIN_WAKER`, giving the slot back to the handle). Returns
    /// the state it replaced: if complete, the handle drops the output; if
    /// not, and `JOIN_WAKER` was set, it drops the waker in the slot.
    pub(crate) fn drop_join_interest(&self) -> Snapshot {
        self.update(|cur| {
            debug_assert!(cur & JOIN_INTEREST != 0);
            let next = if cur & COMPLETE != 0 {
                cur & !JOIN_INTEREST
            } else {
                cur & !(JOIN_INTEREST | JOIN_WAKER)
            };
            (Some(next), Snapshot(cur))
        })
    }
}

/// The word after a wake of a task that is not complete, and what the waker
/// must send to the owner.
fn woken(cur: usize) -> (usize, WakeAction) {
    if cur & RUNNING != 0 {
        // The owner sees NOTIFIED when the poll ends.
        (cur | NOTIFIED, WakeAction::None)
    } else if cur & DELAYED != 0 {
        if cur & NOTIFIED != 0 {
            // A re-arm message is already on its way.
            (cur, WakeAction::None)
        } else {
            (cur | NOTIFIED, WakeAction::Rearm)
        }
    } else if cur & QUEUED != 0 {
        (cur, WakeAction::None)
    } else {
        (cur | QUEUED, WakeAction::Submit)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn poll_then_block_then_wake_then_poll() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(
            s.after_poll(BlockKind::Dequeue, false).0,
            AfterPoll::Dequeued
        );
        let now = s.load();
        assert!(!now.is_queued() && !now.is_running());
        assert_eq!(s.wake(), WakeAction::Submit);
        assert!(s.load().is_runnable());
        assert_eq!(
            s.wake(),
            WakeAction::None,
            "already queued: no second entry"
        );
        assert_eq!(s.to_running(), ToRunning::Poll);
        s.to_complete();
        let done = s.load();
        assert!(done.is_complete() && !done.is_queued() && !done.is_running());
        assert_eq!(s.wake(), WakeAction::None);
        assert!(!s.to_shutdown(), "already complete");
    }

    #[test]
    fn wake_during_poll_requeues_instead_of_blocking() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.wake(), WakeAction::None);
        assert!(s.load().is_notified());
        assert_eq!(
            s.after_poll(BlockKind::Dequeue, false).0,
            AfterPoll::Requeue
        );
        assert!(s.load().is_runnable() && !s.load().is_notified());
        // A wake before the poll does not count as one during it.
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
    }

    #[test]
    fn delayed_is_queued_but_not_runnable() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
        let now = s.load();
        assert!(now.is_queued() && now.is_delayed() && !now.is_runnable());
        // Picked while still asleep: the dequeue finishes.
        assert_eq!(s.delayed_pick(), DelayedPick::Dequeued);
        assert!(!s.load().is_queued());
        assert_eq!(s.wake(), WakeAction::Submit);
    }

    #[test]
    fn wake_of_a_delayed_task_rearms_once() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
        assert_eq!(s.wake(), WakeAction::Rearm);
        assert_eq!(s.wake(), WakeAction::None, "one re-arm message is enough");
        assert!(s.rearm());
        assert!(s.load().is_runnable());
    }

    #[test]
    fn pick_wins_over_an_inflight_rearm_message() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
        assert_eq!(s.wake(), WakeAction::Rearm);
        assert_eq!(s.delayed_pick(), DelayedPick::Rearm);
        assert!(s.load().is_runnable());
        assert!(!s.rearm(), "the message finds nothing to do");
    }

    #[test]
    fn a_stale_rearm_message_does_not_wake_a_task_that_blocked_again() {
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
        assert_eq!(s.wake(), WakeAction::Rearm); // message 1 on its way
        assert_eq!(s.delayed_pick(), DelayedPick::Rearm); // the pick wins
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.after_poll(BlockKind::Delay, false).0, AfterPoll::Delayed);
        // Message 1 arrives: no wake since the block, so the task sleeps on.
        assert!(!s.rearm());
        assert!(s.load().is_delayed());
        // A new wake sends message 2, which re-arms it.
        assert_eq!(s.wake(), WakeAction::Rearm);
        assert!(s.rearm());
        assert!(s.load().is_runnable());
    }

    #[test]
    fn cancel_reaches_tasks_in_every_state() {
        // Running: cancelled at the end of the poll.
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert_eq!(s.cancel(), WakeAction::None);
        assert!(s.load().is_cancelled());
        assert_eq!(s.after_poll(BlockKind::Dequeue, false).0, AfterPoll::Cancel);
        s.to_complete();
        assert!(s.load().is_complete());
        // Queued: cancelled at its next pick.
        let s = State::new();
        assert_eq!(s.cancel(), WakeAction::None);
        assert_eq!(s.to_running(), ToRunning::Cancel);
        // Off-queue: submitted so that a worker cancels it.
        let s = State::with(0);
        assert_eq!(s.cancel(), WakeAction::Submit);
        assert_eq!(s.cancel(), WakeAction::None, "idempotent");
        // Delayed: re-armed so that a worker cancels it.
        let s = State::with(QUEUED | DELAYED);
        assert_eq!(s.cancel(), WakeAction::Rearm);
    }

    #[test]
    fn shutdown_takes_idle_and_delayed_tasks_but_not_running_ones() {
        // Idle (delayed, even woken): shutdown takes RUNNING to drop the future.
        let s = State::with(QUEUED | DELAYED | NOTIFIED | JOIN_INTEREST | REF_ONE);
        assert!(s.to_shutdown());
        let now = s.load();
        assert!(now.is_running() && now.is_cancelled() && !now.is_queued());
        assert_eq!(
            s.wake(),
            WakeAction::None,
            "a wake after shutdown schedules nothing"
        );
        let before = s.to_complete();
        assert!(before.has_join_interest());
        assert!(s.load().is_complete());
        // Running elsewhere: only marked, the worker cancels after its poll.
        let s = State::new();
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert!(!s.to_shutdown());
        assert_eq!(s.after_poll(BlockKind::Dequeue, false).0, AfterPoll::Cancel);
    }

    #[test]
    fn join_waker_protocol() {
        let s = State::new();
        assert_eq!(s.load().refs(), 2);
        // The handle publishes a waker, then replaces it.
        assert!(s.set_join_waker().is_ok());
        assert!(s.load().has_join_waker());
        assert!(s.unset_join_waker().is_ok());
        assert!(s.set_join_waker().is_ok());
        // Completion reports both bits, so the completer wakes the handle.
        assert_eq!(s.to_running(), ToRunning::Poll);
        let before = s.to_complete();
        assert!(before.has_join_interest() && before.has_join_waker());
        // After completion the slot cannot be taken back.
        assert!(s.unset_join_waker().is_err());
        // Dropping the handle now: it saw COMPLETE, so it drops the output.
        assert!(s.drop_join_interest().is_complete());
        assert!(!s.load().has_join_interest());
        assert!(!s.ref_dec() && s.ref_dec());
    }

    #[test]
    fn handle_dropped_before_completion_takes_its_waker_back() {
        let s = State::new();
        assert!(s.set_join_waker().is_ok());
        let before = s.drop_join_interest();
        assert!(!before.is_complete() && before.has_join_waker());
        let now = s.load();
        assert!(!now.has_join_interest() && !now.has_join_waker());
        // The completer then finds nobody to hand the output to.
        assert_eq!(s.to_running(), ToRunning::Poll);
        assert!(!s.to_complete().has_join_interest());
    }
}

/// Model checks of the real transitions. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    /// Scenario 1: a waker publishes an event then wakes, while the owner polls
    /// (reads the event) and blocks. The wake is never lost: the poll saw the
    /// event, or the task was requeued, or the waker submitted / re-armed it.
    /// And there is always exactly one entry, with references to match.
    #[test]
    fn wake_during_poll_is_never_lost() {
        for block in [BlockKind::Dequeue, BlockKind::Delay] {
            loom::model(move || {
                let task = Arc::new((State::new(), AtomicUsize::new(0)));
                assert_eq!(task.0.to_running(), ToRunning::Poll);
                let waker = {
                    let task = task.clone();
                    thread::spawn(move || {
                        task.1.store(1, Ordering::Relaxed);
                        task.0.wake()
                    })
                };
                let seen = task.1.load(Ordering::Relaxed) == 1;
                let (after, _) = task.0.after_poll(block, false);
                let action = waker.join().unwrap();
                let now = task.0.load();
                let woken_later = match (after, action) {
                    (AfterPoll::Requeue, WakeAction::None) => true,
                    (AfterPoll::Dequeued, WakeAction::Submit) => true,
                    (AfterPoll::Delayed, WakeAction::Rearm) => true,
                    (_, WakeAction::None) => false,
                    other => panic!("inconsistent outcome {other:?}, state {now:?}"),
                };
                assert!(seen || woken_later, "lost wake: {after:?} / {action:?}");
                // Whatever happened, the task still has its one entry.
                assert!(now.is_queued(), "task has no entry: {now:?}");
            });
        }
    }

    /// Scenario 2: a wake races the owner's pick that meets the delayed entry.
    /// Either the pick re-arms it in place (and the message finds nothing), or
    /// the pick finishes the dequeue and the wake submits a new entry. The task
    /// ends runnable with exactly one entry.
    #[test]
    fn wake_against_delayed_pick_leaves_one_runnable_entry() {
        loom::model(|| {
            let task = Arc::new(State::with(QUEUED | DELAYED));
            let waker = {
                let task = task.clone();
                thread::spawn(move || task.wake())
            };
            let pick = task.delayed_pick();
            let action = waker.join().unwrap();
            let mut entries = usize::from(pick == DelayedPick::Rearm);
            match action {
                WakeAction::Submit => entries += 1,
                WakeAction::Rearm => {
                    // The owner processes the message: it re-arms only if the
                    // pick has not already done so.
                    entries += usize::from(task.rearm());
                }
                WakeAction::None => panic!("a wake of a delayed task did nothing"),
            }
            let now = task.load();
            assert_eq!(entries, 1, "pick {pick:?}, wake {action:?}, state {now:?}");
            assert!(now.is_runnable(), "{now:?}");
        });
    }
}
