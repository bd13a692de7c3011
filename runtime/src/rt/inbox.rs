//! A worker's inbox: messages from any thread (new entries and re-arms), on a
//! lock-free path.
//!
//! # Protocol
//!
//! - Two intrusive stacks (Treiber): `spawns` holds the first entries of new
//!   tasks, which any worker may adopt; `messages` holds wakes of the owner's
//!   tasks, which only the owner may handle (their entities live on its run
//!   queue). A push is one CAS on the stack's head; taking is one `swap` of the
//!   head, which hands the taker the whole list (reversed back into arrival
//!   order). There is no pop-one, so there is no ABA.
//! - Closing swaps a sentinel into each head. A push either lands before that
//!   swap (and the closer drains it) or sees the sentinel (and cancels its task
//!   itself): one atomic decides, nothing can be stranded.
//! - Parking is the owner's, with a flag: the owner sets `parked`, then (after
//!   a SeqCst fence) rechecks the heads before sleeping; a pusher publishes its
//!   node, then (after a SeqCst fence) reads `parked` and unparks the owner if
//!   set. One of the two sees the other. Only then does a push take a lock (to
//!   reach the owner's thread handle), so the common push is lock-free. The
//!   owner's own pushes (from its thread, running, so not parked) skip the
//!   fence and the flag.

use std::ptr;

use crate::loom::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, Ordering, fence};
use crate::loom::sync::{Mutex, lock};
use crate::loom::thread::{self, Thread};
use crate::task::core::TaskRef;

pub(crate) enum Message {
    /// A new entry: a first spawn, or the wake of a task that left the queue.
    Submit(TaskRef),
    /// The wake of a delayed task.
    Rearm(TaskRef),
}

impl Message {
    pub(crate) fn task(&self) -> &TaskRef {
        let (Message::Submit(task) | Message::Rearm(task)) = self;
        task
    }
}

struct Node {
    message: Message,
    next: *mut Node,
    /// Pushed by the inbox's owner itself.
    own: bool,
}

/// The head value of a closed stack: the address of a static, which no
/// allocation can have.
fn closed() -> *mut Node {
    static MARK: u8 = 0;
    ptr::addr_of!(MARK).cast::<Node>().cast_mut()
}

/// An intrusive lock-free stack, taken whole.
struct Stack {
    head: AtomicPtr<Node>,
    /// About how many messages wait, and how many of those the owner pushed
    /// itself, in one word (`all + own·2^32`, so that a push updates both
    /// with one atomic add): raised after each push lands, lowered by what
    /// each take finds, so it can lag a push or briefly dip below zero, and
    /// settles on the exact counts. For heuristics only.
    counts: AtomicI64,
}

impl Stack {
    fn new() -> Stack {
        Stack {
            head: AtomicPtr::new(ptr::null_mut()),
            counts: AtomicI64::new(0),
        }
    }

    /// About how many messages wait, and how many of them the owner pushed
    /// (see `counts`).
    fn len(&self) -> (usize, usize) {
        let v = self.counts.load(Ordering::Relaxed);
        // Two's complement halves: `all` is the low word, sign-extended.
        let all = i64::from(v as i32);
        let own = (v - all) >> 32;
        (all.max(0) as usize, own.max(0) as usize)
    }

    /// Pushes `message` (`own`: the owner pushes it), or gives it back if
    /// the stack is closed. `Ok(true)` if it found the stack empty.
    fn push(&self, message: Message, own: bool) -> Result<bool, Message> {
        let node = Box::into_raw(Box::new(Node {
            message,
            next: ptr::null_mut(),
            own,
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            if head == closed() {
                // SAFETY: `node` comes from `Box::into_raw` above and was never
                // published, so this thread still owns it exclusively.
                let node = unsafe { Box::from_raw(node) };
                return Err(node.message);
            }
            // SAFETY: `node` is unpublished (the CAS below has not succeeded),
            // so no other thread can read or write it.
            unsafe { (*node).next = head };
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.counts
                        .fetch_add(1 + (i64::from(own) << 32), Ordering::Relaxed);
                    return Ok(head.is_null());
                }
                Err(actual) => head = actual,
            }
        }
    }

    /// Whether messages are waiting.
    fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::Acquire);
        head.is_null() || head == closed()
    }

    /// Takes every message, in arrival order; with `close`, leaves the stack
    /// closed. A closed stack stays closed and yields nothing more.
    fn take_all(&self, close: bool) -> Vec<Message> {
        let mut out = Vec::new();
        self.take_into(close, &mut out);
        out
    }

    /// [`take_all`](Self::take_all), appending to `out` (whose allocation a
    /// caller that takes at every turn keeps).
    fn take_into(&self, close: bool, out: &mut Vec<Message>) {
        let replacement = if close { closed() } else { ptr::null_mut() };
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == closed() || (head.is_null() && !close) {
                return;
            }
            match self.head.compare_exchange_weak(
                head,
                replacement,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        let start = out.len();
        let mut own = 0;
        while !head.is_null() {
            // The swap above detached this list: this thread owns every node.
            // SAFETY: each node came from `Box::into_raw` in `push`, published
            // with Release; our Acquire makes its contents visible.
            let node = unsafe { Box::from_raw(head) };
            head = node.next;
            own += i64::from(node.own);
            out.push(node.message);
        }
        let taken = &mut out[start..];
        self.counts
            .fetch_sub(taken.len() as i64 + (own << 32), Ordering::Relaxed);
        taken.reverse();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Free what was never taken (the runtime closes and drains inboxes at
        // shutdown, so this is normally empty).
        drop(self.take_all(true));
    }
}

// SAFETY: the raw node pointers are owned by the stack and only handed from
// the pushing thread to the taking thread through the head's Release/Acquire;
// the messages they hold are `Send` (task handles).
unsafe impl Send for Stack {}
// SAFETY: every shared access goes through the atomic head (see above).
unsafe impl Sync for Stack {}

pub(crate) struct Inbox {
    /// First entries of new tasks (any worker may take those).
    spawns: Stack,
    /// Wakes of the owner's tasks.
    messages: Stack,
    /// The owner is about to park or parked.
    parked: AtomicBool,
    /// The thread to unpark when a message arrives.
    owner: Mutex<Option<Thread>>,
}

/// Cancels a task that no worker will run again.
pub(crate) fn shutdown_task(task: &TaskRef) {
    if task.header().state.to_shutdown() {
        drop(task.cancel());
    }
}

impl Inbox {
    pub(crate) fn new() -> Inbox {
        Inbox {
            spawns: Stack::new(),
            messages: Stack::new(),
            parked: AtomicBool::new(false),
            owner: Mutex::new(None),
        }
    }

    /// Delivers a message and unparks the owner if it sleeps; on a closed
    /// inbox, cancels the task instead. True if it is the only one of its
    /// kind (spawn or wake) waiting.
    pub(crate) fn push(&self, message: Message) -> bool {
        self.push_as(message, false)
    }

    /// [`push`](Self::push) by the inbox's owner itself (a message it will
    /// file at its next turn), from its own thread: running, so never parked,
    /// and not unparked.
    pub(crate) fn push_own(&self, message: Message) -> bool {
        self.push_as(message, true)
    }

    fn push_as(&self, message: Message, own: bool) -> bool {
        let fresh = matches!(&message, Message::Submit(task) if task.header().entity().is_none());
        let stack = if fresh { &self.spawns } else { &self.messages };
        let alone = match stack.push(message, own) {
            Ok(alone) => alone,
            Err(message) => {
                // The runtime is shutting down: nobody will poll the task again.
                shutdown_task(message.task());
                return false;
            }
        };
        // The owner pushing to its own inbox is running, not parked: no
        // fence and no look at the flag.
        if !own {
            fence(Ordering::SeqCst);
            if self.parked.load(Ordering::Relaxed) {
                self.unpark();
            }
        }
        alone
    }

    /// Unparks the owner, if one is registered.
    pub(crate) fn unpark(&self) {
        if let Some(owner) = lock(&self.owner).as_ref() {
            owner.unpark();
        }
    }

    pub(crate) fn set_owner(&self, owner: Option<Thread>) {
        *lock(&self.owner) = owner;
    }

    /// Whether messages are waiting.
    pub(crate) fn has_messages(&self) -> bool {
        !self.spawns.is_empty() || !self.messages.is_empty()
    }

    /// Whether the waiting messages are work for another worker: more than
    /// one, or one the owner did not push itself (the owner files its own
    /// at its next turn), or any at all once the owner is `stuck` (inside a
    /// long poll). From counts that can lag a push by a moment: a heuristic.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn to_spare(&self, stuck: bool) -> bool {
        let ((a, a_own), (b, b_own)) = (self.spawns.len(), self.messages.len());
        let (all, own) = (a + b, a_own + b_own);
        all >= 2 || all > own || (stuck && self.has_messages())
    }

    /// Whether the owner is parked (or about to park).
    pub(crate) fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// The owner takes everything, in arrival order per kind.
    pub(crate) fn take(&self) -> Vec<Message> {
        let mut all = Vec::new();
        self.take_into(&mut all);
        all
    }

    /// [`take`](Self::take), appending to `out`.
    pub(crate) fn take_into(&self, out: &mut Vec<Message>) {
        self.spawns.take_into(false, out);
        self.messages.take_into(false, out);
    }

    /// Another worker takes the first entries of new tasks.
    pub(crate) fn take_spawns(&self) -> Vec<TaskRef> {
        self.spawns
            .take_all(false)
            .into_iter()
            .map(|m| {
                let (Message::Submit(task) | Message::Rearm(task)) = m;
                task
            })
            .collect()
    }

    /// The owner parks, unless a message is waiting or `idle` says there is
    /// work after all (checked after announcing the park, so that anything
    /// published before a pusher read `parked` is seen here).
    ///
    /// `timeout` gives how long it may sleep (until the next timer's deadline;
    /// `None`: until unparked). It too is read after announcing the park: a
    /// timer registered before that is seen here, and one registered after
    /// finds the owner parked (the runtime's timer wake-up then unparks a
    /// parked worker).
    pub(crate) fn park(
        &self,
        idle: impl FnOnce() -> bool,
        timeout: impl FnOnce() -> Option<std::time::Duration>,
    ) {
        self.parked.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !self.has_messages() && idle() {
            match timeout() {
                None => thread::park(),
                Some(t) if !t.is_zero() => thread::park_timeout(t),
                Some(_) => {}
            }
        }
        // SeqCst: a notifier that set this worker's `woken` flag reads this
        // to learn whether the worker may already have checked the flag.
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Closes the inbox and returns what it held.
    pub(crate) fn close(&self) -> Vec<Message> {
        let mut all = self.spawns.take_all(true);
        all.extend(self.messages.take_all(true));
        all
    }
}

/// Model checks of the inbox protocol. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p runtime --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::Arc;

    use super::*;
    use crate::sched::Params;
    use crate::task::core::{Nowhere, new_task};

    fn task() -> TaskRef {
        new_task(
            async {},
            Params::new(),
            None,
            crate::task::core::sched_ref(Arc::new(Nowhere)),
        )
        .0
    }

    /// Scenario 10: the owner finds the inbox empty and parks while another
    /// thread pushes. It is never left parked with a message waiting (loom
    /// reports a deadlock if it can be).
    #[test]
    fn a_push_always_reaches_a_parking_owner() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            inbox.set_owner(Some(thread::current()));
            let pusher = {
                let inbox = inbox.clone();
                let task = task();
                loom::thread::spawn(move || inbox.push(Message::Submit(task)))
            };
            let mut got = inbox.take();
            while got.is_empty() {
                inbox.park(|| true, || None);
                got = inbox.take();
            }
            assert_eq!(got.len(), 1);
            // Not joined: loom delivers an unpark that arrives while a thread
            // blocks in one of its own primitives (a join, a mutex) as a
            // wake-up of that primitive, where std would keep it as a park
            // token. The pusher's unpark may come late, so the owner must not
            // block on anything after this; loom still runs the pusher to the
            // end and reports any deadlock.
            drop(pusher);
        });
    }

    /// Two pushers and the owner taking as they go: every message arrives
    /// exactly once.
    #[test]
    fn concurrent_pushes_arrive_exactly_once() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            let pushers: Vec<_> = (0..2)
                .map(|_| {
                    let inbox = inbox.clone();
                    let task = task();
                    loom::thread::spawn(move || inbox.push(Message::Submit(task)))
                })
                .collect();
            let mut got = inbox.take().len();
            for p in pushers {
                p.join().unwrap();
            }
            got += inbox.take().len();
            assert_eq!(got, 2);
        });
    }

    /// Shutdown closes the inbox while a message is pushed: the task is either
    /// handed to the closer (which cancels it) or cancelled by the pusher,
    /// never stranded, never both.
    #[test]
    fn close_against_push_strands_nothing() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            let task = task();
            let pusher = {
                let (inbox, task) = (inbox.clone(), task.clone());
                loom::thread::spawn(move || inbox.push(Message::Submit(task)))
            };
            let drained = inbox.close();
            pusher.join().unwrap();
            let cancelled_by_pusher = task.header().state.load().is_complete();
            assert_eq!(drained.len() + usize::from(cancelled_by_pusher), 1);
            assert!(inbox.take().is_empty(), "nothing lands after close");
        });
    }

    /// A stealer takes fresh spawns while the owner takes its inbox: each
    /// spawn goes to exactly one of them.
    #[test]
    fn a_spawn_is_taken_once() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            inbox.push(Message::Submit(task()));
            let stealer = {
                let inbox = inbox.clone();
                loom::thread::spawn(move || inbox.take_spawns().len())
            };
            let mine = inbox.take().len();
            let stolen = stealer.join().unwrap();
            assert_eq!(mine + stolen, 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::{Inbox, Message};
    use crate::sched::Params;
    use crate::task::core::{Nowhere, TaskRef, new_task, sched_ref};

    fn task() -> TaskRef {
        new_task(async {}, Params::new(), None, sched_ref(Arc::new(Nowhere))).0
    }

    #[test]
    fn only_the_owners_lone_message_is_left_to_it() {
        let inbox = Inbox::new();
        assert!(!inbox.to_spare(true), "nothing waits");
        assert!(inbox.push_own(Message::Submit(task())), "alone");
        assert!(!inbox.to_spare(false), "the owner files its own");
        assert!(inbox.to_spare(true), "unless it is stuck in a long poll");
        assert!(!inbox.push_own(Message::Submit(task())), "not alone");
        assert!(inbox.to_spare(false), "a second one is spare work");
        assert_eq!(inbox.take().len(), 2);
        assert!(!inbox.to_spare(true), "taken");
        inbox.push(Message::Submit(task()));
        assert!(inbox.to_spare(false), "one from elsewhere is for anyone");
        assert_eq!(inbox.take_spawns().len(), 1);
        assert!(!inbox.to_spare(false));
    }
}
