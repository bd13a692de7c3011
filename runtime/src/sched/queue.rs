//! The EEVDF run queue: placement, charging, picking, blocking with delayed
//! dequeue, waking, migration and reweighting.
//!
//! # Bookkeeping
//!
//! Every entity owns a slot (cold data: weight, lag, state, payload) and a tree
//! node (hot data: vruntime, deadline, slice, links). Every queued entity is
//! linked in the tree, the running one included, so switching between entities
//! moves nothing in the tree; the one exception is a burst of new entities
//! with one vruntime and deadline, which waits in a lane beside the tree (in
//! order, with its sequence numbers) and is linked one entity at a time as
//! picks take it. Deadline ties are broken in turn after the entity picked
//! last; a pick right after a yield searches forward from the yielder
//! (`finger`), so a round of yields costs O(1) per pick and visits the tree
//! in order. Charging the running entity advances its vruntime
//! in place; the min-vruntime augmentation above it is brought up to date
//! lazily, by one walk up from it that stops at the first unchanged ancestor,
//! only when a pick has to search the tree or the tree is about to change
//! shape (an insertion or removal compares summaries before and after, which
//! a stale one would spoil) (`stale` names the node). The sums, over all queued entities, are
//!
//! - `sum_wkey = Σ w·(v − zero)` (`i128`) and `sum_w = Σ w`.
//!
//! `V = zero + ⌊sum_wkey / sum_w⌋`, and eligibility
//! `v ≤ V` is tested without dividing: `(v − zero)·W ≤ K`. The zero point is moved
//! to `V` whenever keys drift far from it, so products stay small; `i128` makes
//! overflow impossible in any case (|key| < 2^63, weights ≤ 2^20, n < 2^32).
//!
//! Virtual time advances by `dt·1024/w` with the division remainder carried per
//! entity, so vruntime is exactly `⌊1024·service/w⌋` and rounding never
//! accumulates: a simulation can compare against the ideal fluid schedule exactly.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::Duration;

use super::config::ns;
use super::entity::real_lag;
use super::tree::{NIL, Tree, vt_before, vt_min};
use super::{
    Block, Charge, Config, EntityId, EntityInfo, EntityState, Error, Migrant, NICE_0_WEIGHT,
    Params, Pick, Wake, WakeLag, Weight,
};

/// `v ≤ V` with V divided out: `v − zero ≤ ⌊K/W⌋` (see
/// [`RunQueue::eligibility`]). Valid until the sums or the zero point change.
#[derive(Clone, Copy)]
struct Eligibility {
    zero: u64,
    bound: i64,
}

impl Eligibility {
    #[inline]
    fn holds(self, v: u64) -> bool {
        (v.wrapping_sub(self.zero) as i64) <= self.bound
    }

    #[inline]
    fn test(self) -> impl Fn(u64) -> bool {
        move |v| self.holds(v)
    }
}

/// Recenter the zero point when a key grows past this many virtual nanoseconds.
const RECENTER_THRESHOLD: u64 = 1 << 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Sleeping,
    Runnable,
    /// Runnable, waiting in the lane (not linked): see `RunQueue::lane`.
    Lane,
    Running,
    Delayed,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    state: SlotState,
    weight: u32,
    custom_slice: bool,
    /// Remainder of `dt·1024 mod w` not yet turned into vruntime.
    vrem: u32,
    /// Stored virtual lag `V − v` (sleeping entities).
    vlag: i64,
    runtime: u64,
    payload: Option<T>,
}

/// One worker's EEVDF run queue: picks the eligible entity (lag ≥ 0) with the
/// earliest virtual deadline, in O(1) when the earliest deadline is eligible and
/// O(log n) otherwise.
///
/// It owns no clock, lock or atomic: run time is passed to [`charge`](Self::charge),
/// so the policy can be tested and simulated exactly. It is `Send` but not
/// `Sync`: it remembers its last computation of V in a `Cell`. `T` is a payload stored with
/// each entity (a task pointer, a name).
///
/// # Lifecycle
///
/// [`enqueue_new`](Self::enqueue_new) → [`pick`](Self::pick) returns
/// [`Pick::Run`] → [`charge`](Self::charge) the time it ran → then either nothing
/// (it stays runnable and competes at the next `pick`), [`yield_current`](Self::yield_current),
/// [`block_current`](Self::block_current) (later [`wake`](Self::wake)), or
/// [`remove`](Self::remove).
///
/// # Examples
///
/// Two CPU-bound entities at nice 0 and nice 5 share the worker about 3:1.
///
/// ```
/// use std::time::Duration;
/// use runtime::sched::{Config, Params, Pick, RunQueue, Weight};
///
/// let mut q = RunQueue::new(Config::new())?;
/// let a = q.enqueue_new(Params::new(), "a");
/// let b = q.enqueue_new(Params::new().weight(Weight::from_nice(5)?), "b");
/// let mut ran = [0u32; 2];
/// for _ in 0..10_000 {
///     let Pick::Run(id) = q.pick() else { unreachable!() };
///     q.charge(Duration::from_micros(100))?;
///     ran[usize::from(id == b)] += 1;
/// }
/// let share = f64::from(ran[0]) / 10_000.0;
/// assert!((share - 1024.0 / (1024.0 + 335.0)).abs() < 0.01);
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug)]
pub struct RunQueue<T> {
    tree: Tree,
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    config: Config,
    base_slice: u32,
    tick: u64,
    /// Reference point of the keys.
    pub(super) zero: u64,
    /// Σ w·(v − zero) over linked entities.
    sum_wkey: i128,
    /// Σ w over linked entities.
    sum_w: u64,
    /// The last `⌊K/W⌋` computed, with the `(K, W)` it was computed from: a
    /// poll asks for V when it is filed and again when the next is picked,
    /// usually with nothing changed in between, and a division costs tens
    /// of cycles.
    avg_memo: std::cell::Cell<(i128, u64, i64)>,
    /// The running entity, or NIL.
    curr: u32,
    /// A linked entity whose vruntime moved since its ancestors' augmentation
    /// was computed, or NIL.
    stale: u32,
    /// The vruntime `stale` had when that augmentation was computed.
    stale_from: u64,
    /// The entity that yielded to others: the next pick passes it over if any
    /// other entity is eligible. NIL if none.
    skip: u32,
    /// The entity the last pick chose to run, while it stays linked under
    /// the same sequence number (else NIL): deadline ties are broken in turn
    /// after it. With it, lower bounds on the vruntimes of the linked
    /// entities before it in tree order: those with an earlier deadline
    /// (`before_finger`) and those tied with it (`tied_before_finger`);
    /// [`bound_none`](Self::bound_none) for none, and anything eligible
    /// forces a search from the root. When it yields, the next pick searches
    /// forward from it instead of from the root: the first eligible entity
    /// after it is the answer if no entity with an earlier deadline can be
    /// eligible and it is tied with the yielder (next in turn), or if nothing
    /// before the yielder can be eligible at all. A round of yields then
    /// costs O(1) per pick when it goes through the queue in order, and the
    /// bounds carry over from pick to pick.
    finger: u32,
    before_finger: u64,
    tied_before_finger: u64,
    /// New entities that arrived together (a spawn burst: one vruntime, one
    /// deadline, one slice), waiting in insertion order outside the tree.
    /// They count in the sums like linked entities and hold their sequence
    /// numbers, so the order is what it would be with them linked. A pick
    /// compares the front with the tree's candidate and links it only when
    /// it wins, so a burst that runs to completion in order never fills the
    /// tree; anything else that concerns a waiting entity links the lane
    /// first.
    lane: VecDeque<u32>,
    /// The running entity is protected until its vruntime reaches this (run
    /// to parity); meaningless while nothing runs. One per queue, as only
    /// the running entity is ever protected.
    vprot: u64,
    nr_queued: usize,
    nr_delayed: usize,
    live: usize,
}

impl<T> RunQueue<T> {
    /// An empty queue with the given policy.
    ///
    /// # Errors
    ///
    /// [`Error::BaseSliceOutOfRange`] or [`Error::TickOutOfRange`] for a config
    /// outside the documented ranges.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runtime::sched::{Config, Error, RunQueue};
    ///
    /// let q: RunQueue<()> = RunQueue::new(Config::new())?;
    /// let err = RunQueue::<()>::new(Config::new().base_slice(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err, Error::BaseSliceOutOfRange(Duration::ZERO));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(config: Config) -> Result<RunQueue<T>, Error> {
        config.validate()?;
        Ok(RunQueue {
            tree: Tree::new(),
            slots: Vec::new(),
            free: Vec::new(),
            base_slice: ns(config.base_slice) as u32,
            tick: ns(config.tick),
            config,
            zero: 0,
            sum_wkey: 0,
            sum_w: 0,
            avg_memo: std::cell::Cell::new((0, 0, 0)),
            curr: NIL,
            stale: NIL,
            stale_from: 0,
            skip: NIL,
            finger: NIL,
            before_finger: 0,
            tied_before_finger: 0,
            lane: VecDeque::new(),
            vprot: 0,
            nr_queued: 0,
            nr_delayed: 0,
            live: 0,
        })
    }

    /// The policy this queue was built with.
    ///
    /// ```
    /// # use runtime::sched::{Config, RunQueue};
    /// let q: RunQueue<()> = RunQueue::new(Config::new())?;
    /// assert_eq!(q.config(), &Config::new());
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- lookups -----

    fn slot_of(&self, id: EntityId) -> Result<u32, Error> {
        match self.slots.get(id.index as usize) {
            Some(s) if s.generation == id.generation && s.state != SlotState::Free => Ok(id.index),
            _ => Err(Error::UnknownEntity),
        }
    }

    fn id_of(&self, idx: u32) -> EntityId {
        EntityId {
            index: idx,
            generation: self.slots[idx as usize].generation,
        }
    }

    /// The payload of a live entity.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), "hello");
    /// assert_eq!(q.get(id), Some(&"hello"));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn get(&self, id: EntityId) -> Option<&T> {
        let idx = self.slot_of(id).ok()?;
        self.slots[idx as usize].payload.as_ref()
    }

    /// The payload of a live entity, mutably.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), 1);
    /// *q.get_mut(id).unwrap() += 1;
    /// assert_eq!(q.get(id), Some(&2));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn get_mut(&mut self, id: EntityId) -> Option<&mut T> {
        let idx = self.slot_of(id).ok()?;
        self.slots[idx as usize].payload.as_mut()
    }

    /// The running entity, if any.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.current(), None);
    /// q.pick();
    /// assert_eq!(q.current(), Some(id));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn current(&self) -> Option<EntityId> {
        (self.curr != NIL).then(|| self.id_of(self.curr))
    }

    /// Entities queued, *including* delayed ones and the running one (Linux's
    /// `nr_queued`).
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.nr_queued(), 1);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn nr_queued(&self) -> usize {
        self.nr_queued
    }

    /// Entities queued and runnable, *excluding* delayed ones (Linux's
    /// `nr_runnable`): what idle and steal decisions must look at.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.nr_runnable(), 1);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn nr_runnable(&self) -> usize {
        self.nr_queued - self.nr_delayed
    }

    /// Entities blocked but still queued as delayed.
    ///
    /// ```
    /// # use runtime::sched::RunQueue;
    /// let q: RunQueue<()> = RunQueue::new(Default::default())?;
    /// assert_eq!(q.nr_delayed(), 0);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn nr_delayed(&self) -> usize {
        self.nr_delayed
    }

    /// Live entities, queued or sleeping.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.len(), 1);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.live
    }

    /// No live entities.
    ///
    /// ```
    /// # use runtime::sched::RunQueue;
    /// assert!(RunQueue::<()>::new(Default::default())?.is_empty());
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Total weight of the queued entities (delayed and running included).
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.total_weight(), 2048);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn total_weight(&self) -> u64 {
        self.load().1
    }

    /// The weighted average vruntime `V` of the queued entities, rounded toward
    /// minus infinity, so an entity exactly at `V` is eligible.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// q.charge(Duration::from_nanos(1000))?;
    /// // One entity ran 1000 virtual ns, the other none: V moved by 500.
    /// assert_eq!(q.avg_vruntime().wrapping_sub(q.info(a)?.vruntime.wrapping_sub(1000)), 500);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn avg_vruntime(&self) -> u64 {
        self.avg()
    }

    /// A snapshot of an entity.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEntity`] for a handle that is not live here.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{EntityState, Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new().slice(Duration::from_millis(2)), ());
    /// let info = q.info(id)?;
    /// assert_eq!(info.slice, Duration::from_millis(2));
    /// assert!(info.custom_slice);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn info(&self, id: EntityId) -> Result<EntityInfo, Error> {
        let idx = self.slot_of(id)?;
        let s = &self.slots[idx as usize];
        let n = self.tree.node(idx);
        let (lag_ns, eligible, state) = match s.state {
            SlotState::Sleeping => (real_lag(s.vlag, s.weight), false, EntityState::Sleeping),
            st => {
                let state = match st {
                    SlotState::Running => EntityState::Running,
                    SlotState::Delayed => EntityState::Delayed,
                    _ => EntityState::Runnable,
                };
                let (k, l) = self.load();
                let vlag = self.avg().wrapping_sub(n.vruntime) as i64;
                (
                    real_lag(vlag, s.weight),
                    self.eligible(n.vruntime, k, l),
                    state,
                )
            }
        };
        Ok(EntityInfo {
            state,
            weight: Weight::from_raw(u64::from(s.weight)).expect("stored weights are valid"),
            slice: Duration::from_nanos(u64::from(n.slice)),
            custom_slice: s.custom_slice,
            vruntime: n.vruntime,
            deadline: n.deadline,
            lag_ns,
            eligible,
            runtime: Duration::from_nanos(s.runtime),
        })
    }

    /// The runtime's cheap per-poll view of an entity, given the queue's
    /// current [`avg_vruntime`](Self::avg_vruntime) `avg`: its vruntime,
    /// deadline, real lag in ns (the stored lag if sleeping) and weight.
    pub(crate) fn stats_of(&self, id: EntityId, avg: u64) -> Option<(u64, u64, i64, u32)> {
        let idx = self.slot_of(id).ok()?;
        let s = &self.slots[idx as usize];
        let n = self.tree.node(idx);
        let vlag = match s.state {
            SlotState::Sleeping => s.vlag,
            _ => avg.wrapping_sub(n.vruntime) as i64,
        };
        Some((n.vruntime, n.deadline, real_lag(vlag, s.weight), s.weight))
    }

    // ----- arithmetic -----

    #[inline]
    fn key(&self, v: u64) -> i64 {
        v.wrapping_sub(self.zero) as i64
    }

    /// (K, W) over the queued entities.
    #[inline]
    fn load(&self) -> (i128, u64) {
        (self.sum_wkey, self.sum_w)
    }

    /// Brings the tree's augmentation up to date before it is searched.
    #[inline]
    fn refresh(&mut self) {
        if self.stale != NIL {
            self.tree.refresh(self.stale, self.stale_from);
            self.stale = NIL;
        }
    }

    /// `v ≤ V`, by cross-multiplication.
    #[inline]
    fn eligible(&self, v: u64, k: i128, l: u64) -> bool {
        l == 0 || i128::from(self.key(v)) * i128::from(l) <= k
    }

    fn avg(&self) -> u64 {
        self.zero.wrapping_add(self.avg_key().unwrap_or(0) as u64)
    }

    /// `⌊K/W⌋`, the key of V; `None` when nothing is queued.
    #[inline]
    fn avg_key(&self) -> Option<i64> {
        let (k, l) = self.load();
        if l == 0 {
            return None;
        }
        let (mk, ml, avg) = self.avg_memo.get();
        if (mk, ml) == (k, l) {
            return Some(avg);
        }
        let avg = match i64::try_from(k) {
            Ok(k) => k.div_euclid(l as i64),
            Err(_) => k.div_euclid(i128::from(l)) as i64,
        };
        self.avg_memo.set((k, l, avg));
        Some(avg)
    }

    /// [`eligible`](Self::eligible) for a search that tests many vruntimes:
    /// V is divided out once, and each test is one comparison (for integers,
    /// `key·W ≤ K` exactly when `key ≤ ⌊K/W⌋`). That keeps a multiplication
    /// out of every step of a walk down the tree; and as a division costs
    /// tens of cycles, a pick computes this once and hands it down.
    #[inline]
    fn eligibility(&self) -> Eligibility {
        Eligibility {
            zero: self.zero,
            bound: self.avg_key().unwrap_or(i64::MAX),
        }
    }

    /// Moves the zero point to V.
    #[cold]
    fn recenter(&mut self) {
        let v = self.avg();
        let delta = v.wrapping_sub(self.zero) as i64;
        self.sum_wkey -= i128::from(self.sum_w) * i128::from(delta);
        self.zero = v;
        // The bounds' "none" is relative to the zero point: search from the
        // root next time.
        self.forget_bounds();
    }

    fn vslice(&self, idx: u32) -> u64 {
        let slice = u64::from(self.tree.node(idx).slice);
        slice * u64::from(NICE_0_WEIGHT) / u64::from(self.slots[idx as usize].weight)
    }

    /// Links `idx` into the tree and the sums.
    fn link(&mut self, idx: u32) {
        // Insertions and removals compare each node's summary before and
        // after, which a stale one spoils: settle it first (O(1) mostly).
        self.refresh();
        self.add_to_sums(idx);
        if self.tree.seqs_exhausted() {
            // The insertion renumbers the linked nodes; none may wait outside.
            self.flush_lane();
        }
        self.tree.insert(idx);
        self.note_linked(idx);
    }

    /// Counts queued `idx` in `K` and `W`.
    fn add_to_sums(&mut self, idx: u32) {
        let w = self.slots[idx as usize].weight;
        self.sum_wkey += i128::from(w) * i128::from(self.key(self.tree.node(idx).vruntime));
        self.sum_w += u64::from(w);
    }

    /// Keeps the finger's bounds lower bounds after `idx` was linked.
    fn note_linked(&mut self, idx: u32) {
        let f = self.finger;
        if f != NIL && self.tree.less(idx, f) {
            let v = self.tree.node(idx).vruntime;
            if self.tree.node(idx).deadline == self.tree.node(f).deadline {
                self.tied_before_finger = vt_min(self.tied_before_finger, v);
            } else {
                self.before_finger = vt_min(self.before_finger, v);
            }
        }
    }

    /// Nothing is known about the entities before the finger: the next pick
    /// after a yield searches from the root.
    fn forget_bounds(&mut self) {
        self.before_finger = self.bound_unknown();
        self.tied_before_finger = self.bound_unknown();
    }

    /// Sets the bounds for pick `idx`, given `passed`, a lower bound on the
    /// vruntimes of every linked entity before it in tree order, and
    /// `left`, the leftmost entity: if it is tied with `idx`, nothing has
    /// an earlier deadline.
    fn set_bounds(&mut self, idx: u32, left: u32, passed: u64) {
        let tied = self.tree.node(left).deadline == self.tree.node(idx).deadline;
        self.before_finger = if tied { self.bound_none() } else { passed };
        self.tied_before_finger = passed;
    }

    /// Moves the lane's front into the tree, with its sequence number.
    fn link_lane_front(&mut self) -> Option<u32> {
        let idx = self.lane.pop_front()?;
        self.refresh();
        self.slots[idx as usize].state = SlotState::Runnable;
        self.tree.insert_keeping_seq(idx);
        self.note_linked(idx);
        Some(idx)
    }

    /// Links every entity waiting in the lane.
    fn flush_lane(&mut self) {
        while self.link_lane_front().is_some() {}
    }

    /// Whether new entity `idx` (placed, not linked) can wait in the lane:
    /// it is empty, or `idx` has the same vruntime, deadline and slice as
    /// those waiting. If so, it is put there.
    fn join_lane(&mut self, idx: u32) -> bool {
        if let Some(&back) = self.lane.back() {
            let (b, n) = (self.tree.node(back), self.tree.node(idx));
            if (b.vruntime, b.deadline, b.slice) != (n.vruntime, n.deadline, n.slice) {
                return false;
            }
        }
        let Some(seq) = self.tree.take_seq() else {
            return false;
        };
        self.tree.set_seq(idx, seq);
        self.add_to_sums(idx);
        self.slots[idx as usize].state = SlotState::Lane;
        self.lane.push_back(idx);
        true
    }

    /// Smallest and largest slice over the queued entities.
    fn slice_range(&self) -> Option<(u32, u32)> {
        let lane = self.lane.front().map(|&f| self.tree.node(f).slice);
        match (self.tree.slice_range(), lane) {
            (Some((lo, hi)), Some(s)) => Some((lo.min(s), hi.max(s))),
            (range, None) => range,
            (None, Some(s)) => Some((s, s)),
        }
    }

    /// Unlinks `idx` from the tree and the sums.
    fn unlink(&mut self, idx: u32) {
        self.refresh();
        self.tree.remove(idx);
        if self.finger == idx {
            self.finger = NIL;
        }
        self.remove_from_sums(idx);
    }

    /// No longer counts queued `idx` in `K` and `W`.
    fn remove_from_sums(&mut self, idx: u32) {
        let w = self.slots[idx as usize].weight;
        let v = self.tree.node(idx).vruntime;
        self.sum_wkey -= i128::from(w) * i128::from(self.key(v));
        self.sum_w -= u64::from(w);
        self.settle_if_empty(v);
    }

    /// When the last queued entity leaves, keep V where it was.
    fn settle_if_empty(&mut self, v: u64) {
        if self.sum_w == 0 {
            debug_assert_eq!(self.sum_wkey, 0);
            self.zero = v;
        }
    }

    /// The stored-lag clamp: `(largest queued slice + tick)·1024/w`.
    fn clamp_vlag(&self, idx: u32, vlag: i64) -> i64 {
        let mut max_slice = self.tree.node(idx).slice;
        if let Some((_, hi)) = self.slice_range() {
            max_slice = max_slice.max(hi);
        }
        let limit = (u64::from(max_slice) + self.tick) * u64::from(NICE_0_WEIGHT)
            / u64::from(self.slots[idx as usize].weight);
        let limit = limit.min(i64::MAX as u64) as i64;
        vlag.clamp(-limit, limit)
    }

    /// Places unlinked `idx` so that its lag after joining is `vlag`
    /// (the `(W + w)/W` inflation), and returns the new vruntime.
    fn place(&mut self, idx: u32, vlag: i64) -> u64 {
        let (_, l) = self.load();
        let w = u64::from(self.slots[idx as usize].weight);
        let used = if l > 0 && vlag != 0 {
            (i128::from(vlag) * i128::from(l + w) / i128::from(l)) as i64
        } else {
            vlag
        };
        let v = self.avg().wrapping_sub(used as u64);
        let n = self.tree.node_mut(idx);
        n.vruntime = v;
        self.slots[idx as usize].vrem = 0;
        v
    }

    // ----- slots -----

    fn alloc(&mut self, weight: u32, slice: Option<u32>, payload: T) -> u32 {
        let slot = Slot {
            generation: 0,
            state: SlotState::Sleeping,
            weight,
            custom_slice: slice.is_some(),
            vrem: 0,
            vlag: 0,
            runtime: 0,
            payload: Some(payload),
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                let generation = self.slots[idx as usize].generation;
                self.slots[idx as usize] = Slot { generation, ..slot };
                idx
            }
            None => {
                let idx = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i != NIL)
                    .expect("run queue is limited to 2^32 - 1 entities");
                self.slots.push(slot);
                self.tree.ensure(idx);
                idx
            }
        };
        self.tree.node_mut(idx).slice = slice.unwrap_or(self.base_slice);
        self.live += 1;
        idx
    }

    fn release(&mut self, idx: u32) -> T {
        if self.skip == idx {
            self.skip = NIL;
        }
        let s = &mut self.slots[idx as usize];
        s.state = SlotState::Free;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(idx);
        self.live -= 1;
        let payload = s.payload.take().expect("live slots hold a payload");
        if self.live == 0 && self.free.len() > 1 {
            // Every slot is free: hand them out in index order again, so a
            // burst of new entities gets consecutive slots and tree nodes, in
            // the order it will run (a queue that emptied in some other
            // order would scatter the next burst across the tables).
            let n = self.free.len() as u32;
            self.free.clear();
            self.free.extend((0..n).rev());
        }
        payload
    }

    // ----- operations -----

    /// Adds a new entity, runnable, at lag 0 (vruntime = V) with a half-slice
    /// first deadline: running entities are on average half-way through their
    /// request, so a newcomer neither jumps ahead of them nor waits a full slice.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), ());
    /// let info = q.info(id)?;
    /// assert_eq!(info.deadline - info.vruntime, 350_000); // half of 700 µs
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn enqueue_new(&mut self, params: Params, payload: T) -> EntityId {
        let idx = self.alloc(
            params.weight.get(),
            params.slice.map(NonZeroU32::get),
            payload,
        );
        let v = self.place(idx, 0);
        let d = v.wrapping_add(self.vslice(idx) / 2);
        self.tree.node_mut(idx).deadline = d;
        self.nr_queued += 1;
        if !self.join_lane(idx) {
            self.slots[idx as usize].state = SlotState::Runnable;
            self.link(idx);
        }
        self.id_of(idx)
    }

    /// Chooses what runs next.
    ///
    /// The running entity keeps running if run to parity protects it (it has
    /// not used its protected request: its slice, or the smallest slice on the
    /// queue if that is shorter). Otherwise it competes with the rest, and the
    /// eligible entity with the earliest deadline is taken. Ties go in turn:
    /// first the tied entities queued after the one picked last (while it
    /// stays queued with its request), then the others, each in the order they
    /// were queued; so equal requests, as a burst of spawns gets, are served
    /// round robin. If the pick is a delayed entity, its dequeue
    /// is completed (lag set to 0) and [`Pick::Dequeued`] reports it, never run:
    /// call `pick` again. A non-empty queue always has an eligible entity, so
    /// `pick` returns [`Pick::Idle`] only when nothing is queued.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Config, Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Config::new().run_to_parity(false))?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.pick(), Pick::Run(a));
    /// q.charge(Duration::from_micros(400))?; // past its first deadline
    /// assert_eq!(q.pick(), Pick::Run(b));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn pick(&mut self) -> Pick {
        if self.curr != NIL {
            let c = self.curr;
            if self.config.run_to_parity && self.protected(c) {
                return Pick::Run(self.id_of(c));
            }
            // Still linked: it competes like any other runnable entity.
            self.curr = NIL;
            self.slots[c as usize].state = SlotState::Runnable;
        }
        if let (Some(&front), Some(&back)) = (self.lane.front(), self.lane.back()) {
            let f = self.finger;
            if f != NIL && self.tree.less(front, f) && self.tree.less(f, back) {
                // The turn falls inside the lane, whose front is then not
                // its next: link it all (rare: a tied entity linked mid-burst).
                self.flush_lane();
            }
        }
        let first = match (self.tree.leftmost(), self.lane.front()) {
            (Some(left), _) => left,
            (None, Some(&front)) => front,
            (None, None) => return Pick::Idle,
        };
        if self.key(self.tree.node(first).vruntime).unsigned_abs() > RECENTER_THRESHOLD {
            self.recenter();
        }
        let skip = std::mem::replace(&mut self.skip, NIL);
        // The sums stay as they are until the pick is made.
        let e = self.eligibility();
        let mut idx = match self.tree.leftmost() {
            None => {
                self.before_finger = self.bound_none();
                self.tied_before_finger = self.bound_none();
                NIL
            }
            Some(_) if skip != NIL && skip == self.finger && self.nr_queued > 1 => {
                self.pick_after_yield(skip, e)
            }
            Some(left) => self.pick_first(left, skip, e),
        };
        // The lane's front competes with the tree's answer: it wins if it is
        // eligible and comes first (in turn, for equal deadlines), or if the
        // tree offers only the yielder or nothing.
        if let Some(&front) = self.lane.front() {
            if e.holds(self.tree.node(front).vruntime)
                && (idx == NIL || idx == skip || self.first_in_turn(front, idx))
            {
                // The bounds found for `idx` cover what lies before the
                // front too if the front comes first in tree order (or if
                // there is no `idx`: they then cover every linked entity).
                let (earlier, tied) = (self.before_finger, self.tied_before_finger);
                let front = self.link_lane_front().expect("the lane has a front");
                if idx == NIL || self.tree.less(front, idx) {
                    self.before_finger = earlier;
                    self.tied_before_finger = vt_min(earlier, tied);
                } else {
                    // Eligible `idx` lies before it: unless tied with it,
                    // search from the root next time.
                    self.forget_bounds();
                    if self.tree.node(idx).deadline == self.tree.node(front).deadline {
                        self.before_finger = earlier;
                    }
                }
                idx = front;
            }
        }
        if idx == NIL {
            debug_assert!(false, "a non-empty queue has no eligible entity");
            idx = first;
            if self.slots[idx as usize].state == SlotState::Lane {
                idx = self.link_lane_front().expect("the lane has a front");
            }
        }
        if self.slots[idx as usize].state == SlotState::Delayed {
            // The turn stays with the entity picked last; the bounds were
            // computed for this one.
            self.forget_bounds();
            self.unlink(idx);
            let s = &mut self.slots[idx as usize];
            s.state = SlotState::Sleeping;
            s.vlag = 0;
            self.nr_queued -= 1;
            self.nr_delayed -= 1;
            return Pick::Dequeued(self.id_of(idx));
        }
        self.finger = idx;
        self.curr = idx;
        self.slots[idx as usize].state = SlotState::Running;
        let n = self.tree.node(idx);
        let min_slice = self.slice_range().map_or(n.slice, |(lo, _)| lo);
        let vmin = match self.slots[idx as usize].weight {
            // Most tasks: no division at every pick.
            NICE_0_WEIGHT => u64::from(min_slice),
            w => u64::from(min_slice) * u64::from(NICE_0_WEIGHT) / u64::from(w),
        };
        self.vprot = vt_min(n.deadline, n.vruntime.wrapping_add(vmin));
        Pick::Run(self.id_of(idx))
    }

    /// Run to parity: short of its protected vruntime. Poll ends are this
    /// queue's ticks, and like Linux at a tick the running entity is not
    /// switched out before its protected request is used, eligible or not.
    fn protected(&self, c: u32) -> bool {
        debug_assert_eq!(c, self.curr, "only the running entity is protected");
        vt_before(self.tree.node(c).vruntime, self.vprot)
    }

    /// A bound on no entity at all: far above any vruntime, so never
    /// eligible.
    fn bound_none(&self) -> u64 {
        self.zero.wrapping_add(1 << 62)
    }

    /// `before_finger` when nothing is known: far below any vruntime, so
    /// always eligible (the next pick after a yield searches from the root).
    fn bound_unknown(&self) -> u64 {
        self.zero.wrapping_sub(1 << 62)
    }

    /// Whether `a` goes before `b` (both eligible): an earlier deadline,
    /// or for equal deadlines the next in turn after the last pick (those
    /// inserted after it first, then the rest, each in insertion order).
    fn first_in_turn(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.tree.node(a), self.tree.node(b));
        if x.deadline != y.deadline {
            return vt_before(x.deadline, y.deadline);
        }
        let f = self.finger;
        if f != NIL && self.tree.node(f).deadline == x.deadline {
            let (after_a, after_b) = (self.tree.less(f, a), self.tree.less(f, b));
            if after_a != after_b {
                return after_a;
            }
        }
        self.tree.less(a, b)
    }

    /// The linked eligible entity with the earliest deadline, other than
    /// `skip` (NIL, or the entity that yielded) unless nothing else linked is
    /// eligible, ties in turn after the last pick; NIL if none is (the
    /// lane's may be). Eligibility is judged against the full queue's `V`.
    /// Sets the finger's bounds for the answer (for NIL: both over every
    /// linked entity).
    fn pick_first(&mut self, left: u32, skip: u32, e: Eligibility) -> u32 {
        // Every linked entity before the answer in tree order is folded in.
        let mut passed = self.bound_none();
        let mut idx = if e.holds(self.tree.node(left).vruntime) {
            left
        } else {
            self.refresh();
            // None when only the lane's entities are eligible.
            self.tree.pick(e.test(), &mut passed).unwrap_or(NIL)
        };
        if idx == NIL {
            self.before_finger = passed;
            self.tied_before_finger = passed;
            return NIL;
        }
        if idx == skip && self.nr_queued > 1 {
            // The first eligible entity after it in tree order, if any; the
            // yielder and what lies between are then before the answer.
            let mut beyond = vt_min(passed, self.tree.node(skip).vruntime);
            if let Some(next) = self.next_eligible_after(skip, NIL, &mut beyond, e) {
                idx = next;
                passed = beyond;
            }
        }
        // Ties in turn: the first tied eligible entity after the last pick,
        // if it is tied with `idx` and `idx` is not already after it.
        let f = self.finger;
        if f != NIL
            && idx != skip
            && self.tree.node(f).deadline == self.tree.node(idx).deadline
            && !self.tree.less(f, idx)
        {
            if let Some(next) = self.next_eligible_after(f, skip, &mut 0, e) {
                if self.tree.node(next).deadline == self.tree.node(idx).deadline {
                    idx = next;
                    // Eligible `idx` is now before the answer.
                    passed = self.bound_unknown();
                }
            }
        }
        self.set_bounds(idx, left, passed);
        idx
    }

    /// The first eligible linked entity after linked `x` in tree order,
    /// passing over `skip` (NIL for none). What it passes over, `skip`
    /// included, is folded into `passed` (see [`Tree::next_eligible`]).
    fn next_eligible_after(
        &mut self,
        x: u32,
        skip: u32,
        passed: &mut u64,
        e: Eligibility,
    ) -> Option<u32> {
        self.refresh();
        let next = self.tree.next_eligible(x, e.test(), passed)?;
        if next != skip {
            return Some(next);
        }
        *passed = vt_min(*passed, self.tree.node(skip).vruntime);
        self.tree.next_eligible(skip, e.test(), passed)
    }

    /// [`pick_first`](Self::pick_first) for a pick right after the last one
    /// yielded: the first eligible entity after the yielder in tree order,
    /// if nothing with an earlier deadline can be eligible and it is tied
    /// with the yielder (next in turn), or if nothing before the yielder can
    /// be eligible at all. A search forward from the yielder, which in a
    /// round of yields is mostly a step or two; the bounds for the answer
    /// are the old ones with the yielder and whatever the search passed
    /// over folded in.
    fn pick_after_yield(&mut self, skip: u32, e: Eligibility) -> u32 {
        if !e.holds(self.before_finger) {
            let mut passed = self.bound_none();
            if let Some(next) = self.next_eligible_after(skip, NIL, &mut passed, e) {
                // The yielder and what lies between it and `next`.
                let between = vt_min(passed, self.tree.node(skip).vruntime);
                if self.tree.node(next).deadline == self.tree.node(skip).deadline {
                    self.tied_before_finger = vt_min(self.tied_before_finger, between);
                    return next;
                }
                if !e.holds(self.tied_before_finger) {
                    let all = vt_min(vt_min(self.before_finger, self.tied_before_finger), between);
                    self.before_finger = all;
                    self.tied_before_finger = all;
                    return next;
                }
            }
        }
        let left = self.tree.leftmost().unwrap_or(skip);
        self.pick_first(left, skip, e)
    }

    /// Whether the running entity would stay queued as delayed if it blocked
    /// now (it is ineligible and delayed dequeue is on), i.e. what
    /// [`block_current`](Self::block_current) would return. False when nothing
    /// runs.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Block, Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// q.charge(Duration::from_millis(1))?;
    /// assert!(q.would_delay());
    /// assert_eq!(q.block_current()?, Block::Delayed);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn would_delay(&self) -> bool {
        let c = self.curr;
        c != NIL && self.config.delayed_dequeue && {
            let (k, l) = self.load();
            !self.eligible(self.tree.node(c).vruntime, k, l)
        }
    }

    /// Run time left before the running entity's current request is used up
    /// (its deadline is reached): `(deadline − vruntime)·w/1024`. `None` when
    /// nothing runs.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// // A new entity's first request is half a slice: 350 µs.
    /// assert_eq!(q.current_budget(), Some(Duration::from_micros(350)));
    /// q.charge(Duration::from_micros(100))?;
    /// assert_eq!(q.current_budget(), Some(Duration::from_micros(250)));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn current_budget(&self) -> Option<Duration> {
        let c = self.curr;
        (c != NIL).then(|| {
            let n = self.tree.node(c);
            let vleft = n.deadline.wrapping_sub(n.vruntime) as i64;
            let left = real_lag(vleft.max(0), self.slots[c as usize].weight);
            Duration::from_nanos(left as u64)
        })
    }

    /// The running entity steps aside without forfeiting anything: its
    /// protection ends, and the next [`pick`](Self::pick) chooses another
    /// eligible entity if there is one (the best one other than it). Unlike
    /// [`yield_current`](Self::yield_current) its vruntime is untouched, so it
    /// is charged only for the time it ran and keeps its share however often
    /// it steps aside: this is what an async task's `yield_now` means.
    ///
    /// # Errors
    ///
    /// [`Error::NothingRunning`] if no entity is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.pick(), Pick::Run(a));
    /// q.charge(Duration::from_micros(10))?;
    /// let v = q.info(a)?.vruntime;
    /// q.yield_to_others()?;
    /// assert_eq!(q.pick(), Pick::Run(b)); // a still has the earlier deadline
    /// assert_eq!(q.info(a)?.vruntime, v);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn yield_to_others(&mut self) -> Result<(), Error> {
        let c = self.curr;
        if c == NIL {
            return Err(Error::NothingRunning);
        }
        self.vprot = self.tree.node(c).vruntime;
        self.skip = c;
        Ok(())
    }

    /// Up to `max` entities another queue could adopt with
    /// [`migrate_out`](Self::migrate_out): queued, runnable and not running,
    /// eligible ones first (an ineligible one would arrive owing service).
    /// Delayed entities are never offered. Earlier deadlines first within
    /// each group. O(queued): for load balancing, not for every pick.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// let c = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.pick(), Pick::Run(a));
    /// assert_eq!(q.migratable(10), [b, c]); // not the running one
    /// assert_eq!(q.migratable(1).len(), 1);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn migratable(&self, max: usize) -> Vec<EntityId> {
        let (k, l) = self.load();
        let (mut eligible, mut rest) = (Vec::new(), Vec::new());
        let mut offer = |i: u32| {
            let id = self.id_of(i);
            if self.eligible(self.tree.node(i).vruntime, k, l) {
                eligible.push(id);
            } else if rest.len() < max {
                rest.push(id);
            }
            eligible.len() < max
        };
        // The queued entities only, in deadline order, the lane's merged in
        // where they belong: sleeping ones, however many, cost nothing here.
        let mut lane = self.lane.iter().copied().peekable();
        let mut more = true;
        self.tree.in_order_while(|i| {
            while let Some(front) = lane.next_if(|&f| self.tree.less(f, i)) {
                more = offer(front);
                if !more {
                    return false;
                }
            }
            if self.slots[i as usize].state == SlotState::Runnable {
                more = offer(i);
            }
            more
        });
        if more {
            for front in lane {
                if !offer(front) {
                    break;
                }
            }
        }
        eligible.extend(rest);
        eligible.truncate(max);
        eligible
    }

    /// Removes every entity and returns their payloads (in no particular
    /// order), leaving the queue empty: for shutting a worker down.
    ///
    /// ```
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// q.enqueue_new(Params::new(), 1);
    /// q.enqueue_new(Params::new(), 2);
    /// let mut all = q.drain();
    /// all.sort();
    /// assert_eq!(all, [1, 2]);
    /// assert!(q.is_empty());
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn drain(&mut self) -> Vec<T> {
        let out = self
            .slots
            .iter_mut()
            .filter_map(|s| s.payload.take())
            .collect();
        *self = RunQueue::new(self.config).expect("the config was validated");
        out
    }

    /// Charges `ran` of run time to the running entity: its vruntime advances by
    /// `ran·1024/w`, and if that reaches its deadline it gets a new request
    /// (`deadline = vruntime + slice·1024/w`).
    ///
    /// # Errors
    ///
    /// [`Error::NothingRunning`] if no entity is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// let before = q.info(id)?.vruntime;
    /// q.charge(Duration::from_micros(10))?;
    /// assert_eq!(q.info(id)?.vruntime - before, 10_000); // nice 0: 1 ns = 1 virtual ns
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn charge(&mut self, ran: Duration) -> Result<Charge, Error> {
        let c = self.curr;
        if c == NIL {
            return Err(Error::NothingRunning);
        }
        let dt = ns(ran);
        let s = &mut self.slots[c as usize];
        s.runtime = s.runtime.saturating_add(dt);
        let w = s.weight;
        let dv = if w == NICE_0_WEIGHT {
            dt
        } else if let Some(num) = dt
            .checked_mul(u64::from(NICE_0_WEIGHT))
            .and_then(|x| x.checked_add(u64::from(s.vrem)))
        {
            s.vrem = (num % u64::from(w)) as u32;
            num / u64::from(w)
        } else {
            // Runs of over 200 days: exact in 128 bits.
            let num = u128::from(dt) * u128::from(NICE_0_WEIGHT) + u128::from(s.vrem);
            s.vrem = (num % u128::from(w)) as u32;
            (num / u128::from(w)) as u64
        };
        if self.stale != c {
            // At most one stale node: settle the previous runner's first.
            self.refresh();
        }
        let v_old = self.tree.node(c).vruntime;
        let v = v_old.wrapping_add(dv);
        // The change of its (wrapped) key, so K always equals Σ w·key.
        let dkey = i128::from(self.key(v)) - i128::from(self.key(v_old));
        self.sum_wkey += i128::from(w) * dkey;
        let n = self.tree.node_mut(c);
        n.vruntime = v;
        let renewed = !vt_before(n.vruntime, n.deadline);
        if dv != 0 && self.stale != c {
            self.stale = c;
            self.stale_from = v_old;
        }
        if renewed {
            // The key changes: move it. Like any removal, with the summaries
            // above it settled first.
            let d = v.wrapping_add(self.vslice(c));
            self.refresh();
            self.tree.remove(c);
            self.tree.node_mut(c).deadline = d;
            self.tree.insert(c);
            // It moved in the order, with a new sequence number.
            if self.finger == c {
                self.finger = NIL;
            }
        }
        let resched =
            self.nr_runnable() > 1 && (renewed || !self.config.run_to_parity || !self.protected(c));
        Ok(Charge { renewed, resched })
    }

    /// The running entity gives up the rest of its request: if eligible, its
    /// vruntime jumps to its deadline and it gets a new request. An ineligible
    /// entity is left alone (it is not owed anything to forfeit). It stays
    /// runnable; the next [`pick`](Self::pick) decides.
    ///
    /// # Errors
    ///
    /// [`Error::NothingRunning`] if no entity is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::sched::{Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.pick(), Pick::Run(a));
    /// q.yield_current()?;
    /// assert_eq!(q.pick(), Pick::Run(b));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn yield_current(&mut self) -> Result<(), Error> {
        let c = self.curr;
        if c == NIL {
            return Err(Error::NothingRunning);
        }
        let (k, l) = self.load();
        let n = self.tree.node(c);
        if self.eligible(n.vruntime, k, l) {
            let d = n.deadline;
            let vslice = self.vslice(c);
            self.unlink(c);
            let n = self.tree.node_mut(c);
            n.vruntime = d;
            n.deadline = d.wrapping_add(vslice);
            self.link(c);
            self.slots[c as usize].vrem = 0;
            self.vprot = d;
        }
        Ok(())
    }

    /// The running entity blocks. If it is eligible (or delayed dequeue is off)
    /// it leaves the queue and its lag, clamped to `±(largest queued slice +
    /// tick)`, is stored for its wake. If it is ineligible (it owes service) and
    /// delayed dequeue is on, it stays queued as *delayed*: it keeps competing
    /// with its debt and is dequeued, never run, when a pick reaches it.
    ///
    /// # Errors
    ///
    /// [`Error::NothingRunning`] if no entity is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Block, Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// assert_eq!(q.pick(), Pick::Run(a));
    /// q.charge(Duration::from_millis(1))?; // now ahead of b: it owes service
    /// assert_eq!(q.block_current()?, Block::Delayed);
    /// assert_eq!((q.nr_queued(), q.nr_runnable()), (2, 1));
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn block_current(&mut self) -> Result<Block, Error> {
        let c = self.curr;
        if c == NIL {
            return Err(Error::NothingRunning);
        }
        let (k, l) = self.load();
        let v = self.tree.node(c).vruntime;
        self.curr = NIL;
        self.skip = NIL;
        if self.config.delayed_dequeue && !self.eligible(v, k, l) {
            self.slots[c as usize].state = SlotState::Delayed;
            self.nr_delayed += 1;
            return Ok(Block::Delayed);
        }
        let vlag = self.clamp_vlag(c, self.avg().wrapping_sub(v) as i64);
        self.unlink(c);
        let s = &mut self.slots[c as usize];
        s.state = SlotState::Sleeping;
        s.vlag = vlag;
        self.nr_queued -= 1;
        Ok(Block::Dequeued)
    }

    /// Makes a blocked entity runnable.
    ///
    /// A sleeping entity is placed with its stored lag (or at lag 0 under
    /// [`WakeLag::Reset`]), inflated by `(W + w)/W` so that the lag it *has* after
    /// joining is the lag it left with, and gets a full-slice deadline. A delayed
    /// entity is re-armed in place, keeping its vruntime and deadline and so its
    /// debt; if its lag has meanwhile turned positive it is re-placed at lag 0
    /// instead, so waiting while delayed never earns credit.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEntity`] for a dead handle, [`Error::AlreadyQueued`] if it
    /// is runnable or running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Block, Params, Pick, RunQueue, Wake};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// q.charge(Duration::from_millis(1))?;
    /// assert_eq!(q.block_current()?, Block::Delayed);
    /// let debt = q.info(a)?.lag_ns;
    /// assert_eq!(q.wake(a)?, Wake::Rearmed);
    /// assert_eq!(q.info(a)?.lag_ns, debt); // woken in place: same debt
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn wake(&mut self, id: EntityId) -> Result<Wake, Error> {
        let idx = self.slot_of(id)?;
        match self.slots[idx as usize].state {
            SlotState::Runnable | SlotState::Lane | SlotState::Running => Err(Error::AlreadyQueued),
            SlotState::Delayed => {
                let v = self.tree.node(idx).vruntime;
                if vt_before(v, self.avg()) {
                    self.unlink(idx);
                    let v = self.place(idx, 0);
                    let d = v.wrapping_add(self.vslice(idx));
                    self.tree.node_mut(idx).deadline = d;
                    self.link(idx);
                }
                self.slots[idx as usize].state = SlotState::Runnable;
                self.nr_delayed -= 1;
                Ok(Wake::Rearmed)
            }
            SlotState::Sleeping => {
                let vlag = match self.config.wake_lag {
                    WakeLag::Keep => self.slots[idx as usize].vlag,
                    WakeLag::Reset => 0,
                };
                let v = self.place(idx, vlag);
                let d = v.wrapping_add(self.vslice(idx));
                self.tree.node_mut(idx).deadline = d;
                self.slots[idx as usize].state = SlotState::Runnable;
                self.link(idx);
                self.nr_queued += 1;
                self.preempt_short(idx);
                Ok(Wake::Placed)
            }
            SlotState::Free => Err(Error::UnknownEntity),
        }
    }

    /// A wakee with a shorter slice than the running entity, eligible and with an
    /// earlier deadline, cancels the running entity's protection (Linux's
    /// PREEMPT_SHORT): short slices mean low latency even under run to parity.
    fn preempt_short(&mut self, wakee: u32) {
        let c = self.curr;
        if c == NIL {
            return;
        }
        let (w, r) = (self.tree.node(wakee), self.tree.node(c));
        if w.slice < r.slice && vt_before(w.deadline, r.deadline) {
            let (k, l) = self.load();
            if self.eligible(w.vruntime, k, l) {
                self.vprot = r.vruntime;
            }
        }
    }

    /// Removes an entity for good (its task finished or was cancelled), whatever
    /// its state, and returns its payload.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEntity`] for a dead handle.
    ///
    /// # Examples
    ///
    /// ```
    /// # use runtime::sched::{Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let id = q.enqueue_new(Params::new(), "done");
    /// q.pick();
    /// assert_eq!(q.remove(id)?, "done");
    /// assert_eq!(q.pick(), Pick::Idle);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn remove(&mut self, id: EntityId) -> Result<T, Error> {
        let idx = self.slot_of(id)?;
        if self.slots[idx as usize].state == SlotState::Lane {
            self.flush_lane();
        }
        match self.slots[idx as usize].state {
            SlotState::Lane => unreachable!("the lane was just emptied"),
            SlotState::Running | SlotState::Runnable => {
                if self.curr == idx {
                    self.curr = NIL;
                }
                self.unlink(idx);
                self.nr_queued -= 1;
            }
            SlotState::Delayed => {
                self.unlink(idx);
                self.nr_queued -= 1;
                self.nr_delayed -= 1;
            }
            SlotState::Sleeping | SlotState::Free => {}
        }
        Ok(self.release(idx))
    }

    /// Takes an entity off this queue to move it to another, keeping its lag
    /// (clamped) and its deadline relative to its vruntime. Runnable and sleeping
    /// entities can move; delayed ones cannot (they are asleep and will leave at
    /// their next pick), nor can the running one.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEntity`], [`Error::Delayed`], [`Error::Running`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Error, Params, Pick, RunQueue};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// assert_eq!(q.migrate_out(a).unwrap_err(), Error::Running);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn migrate_out(&mut self, id: EntityId) -> Result<Migrant<T>, Error> {
        let idx = self.slot_of(id)?;
        if self.slots[idx as usize].state == SlotState::Lane && self.lane.front() != Some(&idx) {
            self.flush_lane();
        }
        let (vlag, rel_deadline, queued) = match self.slots[idx as usize].state {
            SlotState::Lane => {
                // The lane's front (the first a steal offers) leaves without
                // linking the rest: the others keep waiting as they were.
                let n = self.tree.node(idx);
                let (v, d) = (n.vruntime, n.deadline);
                let vlag = self.clamp_vlag(idx, self.avg().wrapping_sub(v) as i64);
                self.lane.pop_front();
                self.remove_from_sums(idx);
                self.nr_queued -= 1;
                (vlag, d.wrapping_sub(v), true)
            }
            SlotState::Running => return Err(Error::Running),
            SlotState::Delayed => return Err(Error::Delayed),
            SlotState::Runnable => {
                let n = self.tree.node(idx);
                let (v, d) = (n.vruntime, n.deadline);
                let vlag = self.clamp_vlag(idx, self.avg().wrapping_sub(v) as i64);
                self.unlink(idx);
                self.nr_queued -= 1;
                (vlag, d.wrapping_sub(v), true)
            }
            SlotState::Sleeping | SlotState::Free => {
                let n = self.tree.node(idx);
                let rel_deadline = n.deadline.wrapping_sub(n.vruntime);
                (self.slots[idx as usize].vlag, rel_deadline, false)
            }
        };
        let s = &self.slots[idx as usize];
        let (weight, custom_slice, runtime) = (s.weight, s.custom_slice, s.runtime);
        let slice = self.tree.node(idx).slice;
        let payload = self.release(idx);
        Ok(Migrant {
            weight,
            slice,
            custom_slice,
            vlag,
            rel_deadline,
            queued,
            runtime,
            payload,
        })
    }

    /// Adopts an entity from another queue: a runnable one is placed at the lag
    /// it left with, relative to this queue's average, with the same relative
    /// deadline; a sleeping one arrives sleeping with its stored lag (and, until
    /// it wakes, reports the vruntime that lag stands for here, `V − lag`, and
    /// its deadline at the same distance from it as before).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, Pick, RunQueue};
    /// let mut a = RunQueue::new(Default::default())?;
    /// let x = a.enqueue_new(Params::new(), "x");
    /// let y = a.enqueue_new(Params::new(), "y");
    /// a.pick();
    /// a.charge(Duration::from_micros(300))?; // x runs, y is now owed 150 µs
    /// let lag = a.info(y)?.lag_ns;
    /// let mut b = RunQueue::new(Default::default())?;
    /// b.enqueue_new(Params::new(), "z");
    /// let y = b.migrate_in(a.migrate_out(y)?);
    /// assert!((b.info(y)?.lag_ns - lag).abs() <= 1);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn migrate_in(&mut self, m: Migrant<T>) -> EntityId {
        let custom = m.custom_slice.then_some(m.slice);
        let idx = self.alloc(m.weight, custom, m.payload);
        self.tree.node_mut(idx).slice = m.slice;
        self.slots[idx as usize].runtime = m.runtime;
        if m.queued {
            let v = self.place(idx, m.vlag);
            self.tree.node_mut(idx).deadline = v.wrapping_add(m.rel_deadline);
            self.slots[idx as usize].state = SlotState::Runnable;
            self.link(idx);
            self.nr_queued += 1;
        } else {
            // Not linked, so only `info` and `stats_of` read these; without them
            // they would report whatever the slot's previous occupant left.
            let v = self.avg().wrapping_sub(m.vlag as u64);
            let n = self.tree.node_mut(idx);
            n.vruntime = v;
            n.deadline = v.wrapping_add(m.rel_deadline);
            self.slots[idx as usize].vlag = m.vlag;
        }
        self.id_of(idx)
    }

    /// Changes an entity's weight. `V` does not move and the entity's real lag
    /// `w·(V − v)` is kept (to within rounding): its virtual lag and the distance
    /// to its deadline are scaled by `w_old/w_new`.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownEntity`] for a dead handle.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use runtime::sched::{Params, RunQueue, Weight};
    /// let mut q = RunQueue::new(Default::default())?;
    /// let a = q.enqueue_new(Params::new(), ());
    /// let b = q.enqueue_new(Params::new(), ());
    /// q.pick();
    /// q.charge(Duration::from_micros(300))?;
    /// let (v, lag) = (q.avg_vruntime(), q.info(b)?.lag_ns);
    /// q.reweight(b, Weight::from_nice(-10)?)?;
    /// assert_eq!(q.avg_vruntime(), v);
    /// // Kept to within one virtual ns, i.e. 9548/1024 real ns at nice -10.
    /// assert!((q.info(b)?.lag_ns - lag).abs() <= 10);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn reweight(&mut self, id: EntityId, weight: Weight) -> Result<(), Error> {
        let idx = self.slot_of(id)?;
        let (w_old, w_new) = (self.slots[idx as usize].weight, weight.get());
        if self.slots[idx as usize].state == SlotState::Lane {
            self.flush_lane();
        }
        let state = self.slots[idx as usize].state;
        if state == SlotState::Sleeping {
            let s = &mut self.slots[idx as usize];
            s.vlag = (i128::from(s.vlag) * i128::from(w_old) / i128::from(w_new)) as i64;
            s.weight = w_new;
            return Ok(());
        }
        // Pivot on the exact rational average K/L, not the floored V: each key
        // x becomes (w_old·x·L + (w_new − w_old)·K) / (w_new·L), which keeps the
        // real lag w·(K/L − x) and so K/L itself (to within rounding).
        let (k, l) = self.load();
        let (wo, wn, l) = (i128::from(w_old), i128::from(w_new), i128::from(l));
        let rescale = |x: u64| -> u64 {
            let key = i128::from(self.key(x));
            let num = wo
                .checked_mul(key)
                .and_then(|a| a.checked_mul(l))
                .and_then(|a| a.checked_add((wn - wo).checked_mul(k)?));
            let off = match num {
                Some(num) => num.div_euclid(wn * l),
                // Unreachable with recentered keys; fall back to the floored V.
                None => {
                    let avg = i128::from(self.key(self.avg()));
                    avg + (key - avg) * wo / wn
                }
            };
            self.zero.wrapping_add(off as i64 as u64)
        };
        let n = self.tree.node(idx);
        let (v_old, d) = (n.vruntime, rescale(n.deadline));
        // The vruntime: the integer nearest the ideal one, within the window that
        // keeps ⌊V⌋ itself unchanged (that window is at least one integer wide).
        let v = {
            let ideal = i128::from(self.key(rescale(v_old)));
            let vk = i128::from(self.key(self.avg()));
            let rest = k - wo * i128::from(self.key(v_old));
            let l_new = l - wo + wn;
            let lo = (l_new * vk - rest + wn - 1).div_euclid(wn);
            let hi = (l_new * (vk + 1) - rest + wn - 1).div_euclid(wn) - 1;
            self.zero
                .wrapping_add(ideal.clamp(lo, hi.max(lo)) as i64 as u64)
        };
        if idx == self.curr {
            self.vprot = rescale(self.vprot);
        }
        self.unlink(idx);
        let n = self.tree.node_mut(idx);
        n.vruntime = v;
        n.deadline = d;
        let s = &mut self.slots[idx as usize];
        s.weight = w_new;
        s.vrem = 0;
        self.link(idx);
        Ok(())
    }

    /// How many entities are linked in the tree; for tests.
    #[cfg(test)]
    pub(crate) fn nr_linked(&self) -> usize {
        self.tree.len()
    }

    /// Checks every internal invariant against a brute-force recomputation; for
    /// tests. Panics on the first violation.
    #[cfg(test)]
    pub(crate) fn check(&mut self) {
        self.refresh();
        self.tree.check();
        let (mut k, mut l, mut queued, mut delayed, mut live) = (0i128, 0u64, 0, 0, 0);
        for (i, s) in self.slots.iter().enumerate() {
            if s.state == SlotState::Free {
                continue;
            }
            live += 1;
            if s.state == SlotState::Sleeping {
                continue;
            }
            let v = self.tree.node(i as u32).vruntime;
            k += i128::from(s.weight) * i128::from(self.key(v));
            l += u64::from(s.weight);
            queued += 1;
            delayed += usize::from(s.state == SlotState::Delayed);
            assert_eq!(s.state == SlotState::Running, self.curr == i as u32, "curr");
        }
        assert_eq!((k, l), (self.sum_wkey, self.sum_w), "weighted sums");
        let mut prev = None;
        for &i in &self.lane {
            assert_eq!(self.slots[i as usize].state, SlotState::Lane, "lane state");
            if let Some(p) = prev {
                let (a, b) = (self.tree.node(p), self.tree.node(i));
                assert_eq!(
                    (a.vruntime, a.deadline, a.slice),
                    (b.vruntime, b.deadline, b.slice)
                );
                assert!(self.tree.less(p, i), "the lane is in order");
            }
            prev = Some(i);
        }
        let in_lane = self
            .slots
            .iter()
            .filter(|s| s.state == SlotState::Lane)
            .count();
        assert_eq!(in_lane, self.lane.len(), "lane membership");
        assert_eq!(
            queued,
            self.tree.len() + self.lane.len(),
            "every queued entity is linked or in the lane"
        );
        assert_eq!(
            (queued, delayed, live),
            (self.nr_queued, self.nr_delayed, self.live)
        );
        let lane_v = self.lane.front().map(|&f| self.tree.node(f).vruntime);
        let min_v = match (self.tree.min_vruntime(), lane_v) {
            (Some(a), Some(b)) => Some(vt_min(a, b)),
            (a, b) => a.or(b),
        };
        if let Some(min_v) = min_v {
            // Lemma: some queued entity is eligible; V is the floored mean.
            let (k, l) = self.load();
            let v = self.avg();
            let resid = k - i128::from(self.key(v)) * i128::from(l);
            assert!(resid >= 0 && resid < i128::from(l), "V is the floored mean");
            assert!(self.eligible(min_v, k, l), "no eligible entity");
        }
    }
}
