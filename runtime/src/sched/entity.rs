//! Handles to entities and what the run queue's operations return.

use std::time::Duration;

use super::{NICE_0_WEIGHT, Weight};

/// A handle to an entity on one [`RunQueue`](super::RunQueue). Handles are checked: a handle to a
/// removed or migrated entity is refused with [`Error::UnknownEntity`](super::Error::UnknownEntity), even if
/// its slot was reused.
///
/// # Examples
///
/// ```
/// use runtime::sched::{Error, Params, RunQueue};
///
/// let mut q = RunQueue::new(Default::default())?;
/// let id = q.enqueue_new(Params::new(), "task");
/// assert_eq!(q.remove(id), Ok("task"));
/// assert_eq!(q.remove(id), Err(Error::UnknownEntity));
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityId {
    pub(super) index: u32,
    pub(super) generation: u32,
}

impl EntityId {
    /// Packs the handle into 64 bits, for storing it in an atomic.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The inverse of [`to_bits`](Self::to_bits).
    pub(crate) fn from_bits(bits: u64) -> EntityId {
        EntityId {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }

    /// A small dense number, unique among the live entities of one queue (slots are
    /// reused after removal), handy for indexing side tables.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// assert_eq!(q.enqueue_new(Params::new(), ()).index(), 0);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn index(self) -> usize {
        self.index as usize
    }
}

/// Where an entity stands on its queue.
///
/// ```
/// # use runtime::sched::{EntityState, Params, RunQueue};
/// let mut q = RunQueue::new(Default::default())?;
/// let id = q.enqueue_new(Params::new(), ());
/// assert_eq!(q.info(id)?.state, EntityState::Runnable);
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityState {
    /// Queued and waiting to be picked.
    Runnable,
    /// Picked and running.
    Running,
    /// Blocked while ineligible and kept queued until picked (then dequeued, never
    /// run) or woken (then runnable again in place). Queued, but not runnable.
    Delayed,
    /// Not queued: blocked, with its lag stored for the next wake.
    Sleeping,
}

/// A snapshot of one entity, from [`RunQueue::info`](super::RunQueue::info).
///
/// ```
/// # use runtime::sched::{Params, RunQueue};
/// let mut q = RunQueue::new(Default::default())?;
/// let id = q.enqueue_new(Params::new(), ());
/// let info = q.info(id)?;
/// assert_eq!(info.lag_ns, 0); // a new entity joins at the average
/// assert!(info.eligible);
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntityInfo {
    /// Queue position.
    pub state: EntityState,
    /// Weight.
    pub weight: Weight,
    /// Request size.
    pub slice: Duration,
    /// Whether the slice was set by the entity rather than taken from the queue.
    pub custom_slice: bool,
    /// Virtual runtime (wrapping; compare by difference).
    pub vruntime: u64,
    /// Virtual deadline (wrapping; compare by difference).
    pub deadline: u64,
    /// Real lag in nanoseconds, `w·(V − v)/1024`: positive means owed service.
    /// For a sleeping entity, the stored lag it will wake with.
    pub lag_ns: i64,
    /// Queued and `v ≤ V` (always false when sleeping).
    pub eligible: bool,
    /// Total run time charged.
    pub runtime: Duration,
}

/// The outcome of [`RunQueue::pick`](super::RunQueue::pick).
///
/// ```
/// # use runtime::sched::{Params, Pick, RunQueue};
/// let mut q = RunQueue::new(Default::default())?;
/// assert_eq!(q.pick(), Pick::Idle);
/// let id = q.enqueue_new(Params::new(), ());
/// assert_eq!(q.pick(), Pick::Run(id));
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Run this entity; it is now the running entity.
    Run(EntityId),
    /// The pick met a delayed entity and finished its dequeue (lag 0, now
    /// sleeping). It must not run; tell its owner it is fully blocked, then pick
    /// again.
    Dequeued(EntityId),
    /// Nothing is queued.
    Idle,
}

/// The outcome of [`RunQueue::charge`](super::RunQueue::charge).
///
/// ```
/// # use std::time::Duration;
/// # use runtime::sched::{Params, RunQueue};
/// let mut q = RunQueue::new(Default::default())?;
/// q.enqueue_new(Params::new(), ());
/// q.pick();
/// let c = q.charge(Duration::from_millis(1))?;
/// assert!(c.renewed); // a 1 ms run used up the 0.35 ms first request
/// assert!(!c.resched); // but nobody else is waiting
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Charge {
    /// The running entity reached its deadline and was given a new request.
    pub renewed: bool,
    /// A scheduling decision is due: another entity is runnable and the running
    /// one has used its request or its protection (always, with run to parity
    /// off). The caller should [`pick`](super::RunQueue::pick), which may still choose
    /// the same entity. This is Linux's tick-time reschedule test, O(1).
    pub resched: bool,
}

/// The outcome of [`RunQueue::block_current`](super::RunQueue::block_current).
///
/// ```
/// # use runtime::sched::{Block, Params, RunQueue};
/// let mut q = RunQueue::new(Default::default())?;
/// q.enqueue_new(Params::new(), ());
/// q.pick();
/// assert_eq!(q.block_current()?, Block::Dequeued); // alone, so eligible
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// It was eligible (or delayed dequeue is off): removed, lag stored.
    Dequeued,
    /// It was ineligible: kept queued as delayed, still competing, never run.
    Delayed,
}

/// The outcome of [`RunQueue::wake`](super::RunQueue::wake).
///
/// ```
/// # use runtime::sched::{Block, Params, RunQueue, Wake};
/// let mut q = RunQueue::new(Default::default())?;
/// let id = q.enqueue_new(Params::new(), ());
/// q.pick();
/// q.block_current()?;
/// assert_eq!(q.wake(id)?, Wake::Placed);
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// It was sleeping and has been placed with its stored lag.
    Placed,
    /// It was delayed and is runnable again in place, keeping its debt.
    Rearmed,
}

/// An entity in transit between two queues, from [`RunQueue::migrate_out`](super::RunQueue::migrate_out).
/// Its lag is relative: [`RunQueue::migrate_in`](super::RunQueue::migrate_in) places it at the same lag
/// relative to the destination's average.
///
/// ```
/// # use runtime::sched::{Params, RunQueue};
/// let mut a = RunQueue::new(Default::default())?;
/// let mut b = RunQueue::new(Default::default())?;
/// let id = a.enqueue_new(Params::new(), "job");
/// let moving = a.migrate_out(id)?;
/// assert_eq!(moving.payload(), &"job");
/// let id = b.migrate_in(moving);
/// assert_eq!(b.get(id), Some(&"job"));
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug)]
pub struct Migrant<T> {
    pub(super) weight: u32,
    pub(super) slice: u32,
    pub(super) custom_slice: bool,
    pub(super) vlag: i64,
    pub(super) rel_deadline: u64,
    pub(super) queued: bool,
    pub(super) runtime: u64,
    pub(super) payload: T,
}

impl<T> Migrant<T> {
    /// The payload travelling with the entity.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// # let mut q = RunQueue::new(Default::default())?;
    /// # let id = q.enqueue_new(Params::new(), 7);
    /// assert_eq!(*q.migrate_out(id)?.payload(), 7);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn payload(&self) -> &T {
        &self.payload
    }

    /// Real lag in nanoseconds it carries (positive: owed service).
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// # let mut q = RunQueue::new(Default::default())?;
    /// # let id = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.migrate_out(id)?.lag_ns(), 0);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn lag_ns(&self) -> i64 {
        real_lag(self.vlag, self.weight)
    }

    /// Whether it was queued (runnable) when it left; if not, it arrives sleeping.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// # let mut q = RunQueue::new(Default::default())?;
    /// # let id = q.enqueue_new(Params::new(), ());
    /// assert!(q.migrate_out(id)?.is_queued());
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn is_queued(&self) -> bool {
        self.queued
    }
}

/// `w·vlag/1024`, rounded toward minus infinity.
pub(super) fn real_lag(vlag: i64, weight: u32) -> i64 {
    (i128::from(vlag) * i128::from(weight)).div_euclid(i128::from(NICE_0_WEIGHT)) as i64
}
