//! A hierarchical timing wheel: the timer driver's store of pending timers.
//!
//! # Structure
//!
//! Time is counted in ticks of whatever length the driver picks. The wheel
//! has [`LEVELS`] levels of [`SLOTS`] slots each; a slot at level `k` covers
//! `64^k` consecutive ticks, so level 0 resolves single ticks and the top
//! level spans `64^6 = 2^36` ticks (about 19 hours of microseconds, or two
//! years of milliseconds). A timer lives in exactly one slot: the one at the
//! lowest level `k` whose slot covers its deadline while the deadline still
//! lies in the same level `k + 1` slot as `elapsed` (the tick the wheel has
//! been advanced to). Equivalently, `k` is the highest group of six bits in
//! which the deadline and `elapsed` differ.
//!
//! Timers themselves sit in a slab: a `Vec` of entries reused through an
//! intrusive free list, each with a generation counter that is bumped every
//! time the entry is freed, so a [`Key`] that outlived its timer is refused
//! rather than touching whichever timer reuses the entry. A wheel slot is a
//! `Vec<u32>` of entry indices, and each entry remembers its level, slot and
//! position in that `Vec`, so cancelling is a `swap_remove` plus a fix-up of
//! the one index that moved. Every level keeps a `u64` bitmask of its
//! non-empty slots.
//!
//! # Complexity
//!
//! `insert`, `remove` and `get_mut` are O(1) and allocate nothing per timer
//! (vectors grow only to a new high-water mark). `next_expiration` is O(levels):
//! one rotate and `trailing_zeros` per level. `advance` is O(levels + occupied
//! slots reached + timers in them): it never walks ticks or empty slots, so a
//! jump of any size costs only for the timers it reaches. Each timer is looked
//! at once per `advance` that reaches its slot: it either fires or is
//! re-inserted relative to the new `elapsed`, at a lower level (the new
//! `elapsed` lies in the slot it left), so it moves down at most five times.
//! A timer beyond the wheel's range is also re-inserted once per turn of the
//! top level (`2^36` ticks) until it comes within range.
//!
//! # Why the lowest occupied level holds the earliest slot
//!
//! The invariant: a timer at level `k < 5` has its deadline in the same level
//! `k + 1` slot as `elapsed`, in a level `k` slot strictly after the one
//! holding `elapsed`. So every timer at a level below `k` is due before the
//! level `k` slot containing `elapsed` ends, and every occupied slot at level
//! `k` starts after that. Hence the earliest occupied slot is the first one
//! (in ring order from `elapsed`) of the lowest non-empty level, and that is
//! what `next_expiration` reports. Its start never exceeds any deadline since
//! every slot starts at or before the deadlines it holds.
//!
//! Advancing `elapsed` to `now` keeps the invariant for every slot that starts
//! after `now`: such a slot and `now` still share the enclosing level `k + 1`
//! slot. The slots that start at or before `now` are emptied by `advance`,
//! which fires what is due and re-inserts the rest relative to `now`.
//!
//! # Far deadlines
//!
//! The top level is a ring: its slots at or before the one holding `elapsed`
//! stand for the next turn of the ring. A deadline more than `2^36 - 1` ticks
//! away is filed as if it were exactly that far away, which puts it in a top
//! level slot that starts no later than its real deadline; when that slot is
//! reached the timer is simply re-inserted from there. A deadline of
//! `u64::MAX` ("never") is an ordinary, very far timer; no arithmetic here can
//! overflow.

use std::fmt;
use std::mem;

/// log2 of the number of slots per level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Number of levels.
const LEVELS: usize = 6;
/// log2 of the number of ticks the whole wheel spans.
const RANGE_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// The farthest a deadline is filed from `elapsed`; farther ones are clamped.
const MAX_DISTANCE: u64 = (1 << RANGE_BITS) - 1;
/// End of the free list.
const NIL: u32 = u32::MAX;

/// Handle to a timer in the wheel; generation-checked so a stale key never touches another timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    index: u32,
    /// A 64-bit generation cannot wrap around in practice, so a stale key can
    /// never match a later occupant of the same entry.
    generation: u64,
}

/// One slab entry.
struct Entry<T> {
    /// Bumped whenever the entry is freed.
    generation: u64,
    state: State<T>,
}

enum State<T> {
    Live(Timer<T>),
    Free { next: u32 },
}

/// A pending timer and where it is filed.
struct Timer<T> {
    value: T,
    deadline: u64,
    level: u8,
    slot: u8,
    /// Index in the `Vec` of slot (`level`, `slot`).
    pos: u32,
}

/// A hierarchical timing wheel of values of type `T` (the driver's wakers).
pub(crate) struct Wheel<T> {
    /// The slab of timers.
    entries: Vec<Entry<T>>,
    /// Head of the free list threaded through `entries`, or `NIL`.
    free: u32,
    /// Live timers.
    len: usize,
    /// `LEVELS * SLOTS` slots, level-major: the entry indices filed in each.
    slots: Vec<Vec<u32>>,
    /// Per level, bit `s` set iff slot `s` is non-empty.
    occupied: [u64; LEVELS],
    /// The tick the wheel has been advanced to.
    elapsed: u64,
    /// Scratch for `advance`: timers taken out of their slot but not yet due.
    /// Kept between calls so its buffer is reused.
    pending: Vec<u32>,
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("len", &self.len)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

/// The (level, slot) a timer due at `deadline` is filed in when the wheel is
/// at `elapsed`. Requires `deadline > elapsed`.
fn position(elapsed: u64, deadline: u64) -> (usize, usize) {
    debug_assert!(deadline > elapsed);
    let target = deadline.min(elapsed.saturating_add(MAX_DISTANCE));
    // The `| mask` makes the result level 0 when only the low six bits differ.
    let differing = (elapsed ^ target) | (SLOTS as u64 - 1);
    let top_bit = u64::BITS - 1 - differing.leading_zeros();
    // A target in the next turn of the top ring differs above bit 35: clamp.
    let level = ((top_bit / SLOT_BITS) as usize).min(LEVELS - 1);
    let slot = (target >> (SLOT_BITS * level as u32)) as usize & (SLOTS - 1);
    (level, slot)
}

/// The first tick covered by `slot` of `level` when the wheel is at
/// `elapsed`: in the current turn of that level if the slot lies after the
/// one holding `elapsed`, in the next turn otherwise (which the invariant
/// only allows at the top level).
fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let shift = SLOT_BITS * level as u32;
    let turn_shift = shift + SLOT_BITS;
    let turn_start = elapsed & !((1u64 << turn_shift) - 1);
    // Cannot overflow: the sum stays inside the aligned turn holding `elapsed`.
    let start = turn_start + ((slot as u64) << shift);
    let current = (elapsed >> shift) as usize & (SLOTS - 1);
    if slot > current {
        start
    } else {
        debug_assert_eq!(level, LEVELS - 1, "only the top level wraps");
        start.saturating_add(1 << turn_shift)
    }
}

impl<T> Wheel<T> {
    pub(crate) fn new() -> Wheel<T> {
        Wheel {
            entries: Vec::new(),
            free: NIL,
            len: 0,
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            elapsed: 0,
            pending: Vec::new(),
        }
    }

    /// Ticks (e.g. milliseconds) up to which the wheel has been advanced.
    #[allow(dead_code)] // part of the interface; the driver does not need it yet
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    #[allow(dead_code)] // part of the interface; the driver does not need it yet
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[allow(dead_code)] // part of the interface; the driver does not need it yet
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Registers `value` to fire at tick `deadline`. Err(value) back if `deadline <= elapsed()` (already due: the caller fires it itself).
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> Result<Key, T> {
        if deadline <= self.elapsed {
            return Err(value);
        }
        let timer = State::Live(Timer {
            value,
            deadline,
            level: 0,
            slot: 0,
            pos: 0,
        });
        let index = if self.free != NIL {
            let index = self.free;
            let entry = &mut self.entries[index as usize];
            match mem::replace(&mut entry.state, timer) {
                State::Free { next } => self.free = next,
                State::Live(_) => unreachable!("live entry on the free list"),
            }
            index
        } else {
            let index = u32::try_from(self.entries.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("timing wheel: more than u32::MAX - 1 timers");
            self.entries.push(Entry {
                generation: 0,
                state: timer,
            });
            index
        };
        self.len += 1;
        self.link(index);
        Ok(Key {
            index,
            generation: self.entries[index as usize].generation,
        })
    }

    /// Cancels a timer, O(1). None if the key is stale (fired or removed).
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let timer = self.timer_mut(key)?;
        let (level, slot, pos) = (timer.level as usize, timer.slot as usize, timer.pos);
        self.unlink(level, slot, pos);
        Some(self.release(key.index))
    }

    /// The value of a live timer (to replace a stored waker).
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.timer_mut(key).map(|timer| &mut timer.value)
    }

    /// The earliest tick at which some timer may fire (the start tick of the earliest occupied slot, so it may be earlier than any deadline at the higher levels; never later than the earliest deadline). None when empty.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        // The lowest non-empty level holds the earliest slot (module docs).
        (0..LEVELS).find_map(|level| {
            self.next_slot(level)
                .map(|slot| slot_start(self.elapsed, level, slot))
        })
    }

    /// Advances to tick `now` (no-op if now <= elapsed()) and pushes the value of every timer with deadline <= now onto `fired`, each exactly once; afterwards elapsed() == max(old elapsed, now). Timers with later deadlines stay, cascading down levels as needed.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<T>) {
        if now <= self.elapsed {
            return;
        }
        // Empty every slot that starts at or before `now`, in time order.
        // Nothing is filed while this runs (timers not yet due wait in
        // `pending`), so `elapsed` and hence every slot's start stay put, and
        // each timer is looked at once however far `now` is.
        let mut pending = mem::take(&mut self.pending);
        'levels: for level in 0..LEVELS {
            while let Some(slot) = self.next_slot(level) {
                if slot_start(self.elapsed, level, slot) > now {
                    // Every slot of the levels above starts later still.
                    break 'levels;
                }
                let index = level * SLOTS + slot;
                let mut bucket = mem::take(&mut self.slots[index]);
                self.occupied[level] &= !(1 << slot);
                for &entry in &bucket {
                    if self.deadline(entry) <= now {
                        fired.push(self.release(entry));
                    } else {
                        pending.push(entry);
                    }
                }
                bucket.clear();
                // Give the (now empty) buffer back to the slot for reuse.
                self.slots[index] = bucket;
            }
        }
        // Every slot left starts after `now`, so the invariant holds there.
        self.elapsed = now;
        for &entry in &pending {
            self.link(entry);
        }
        pending.clear();
        self.pending = pending;
    }

    /// Takes every timer out, due or not, pushing its value onto `out` (in no
    /// particular order); every key handed out so far becomes stale.
    /// `elapsed` stays put.
    pub(crate) fn drain(&mut self, out: &mut Vec<T>) {
        for level in 0..LEVELS {
            let mut occupied = mem::take(&mut self.occupied[level]);
            while occupied != 0 {
                let slot = occupied.trailing_zeros() as usize;
                occupied &= occupied - 1;
                let index = level * SLOTS + slot;
                let mut bucket = mem::take(&mut self.slots[index]);
                for &entry in &bucket {
                    out.push(self.release(entry));
                }
                bucket.clear();
                // Give the (now empty) buffer back to the slot for reuse.
                self.slots[index] = bucket;
            }
        }
    }

    /// The first non-empty slot of `level` in ring order after the slot
    /// holding `elapsed` (the slot holding `elapsed` itself comes last).
    fn next_slot(&self, level: usize) -> Option<usize> {
        let mask = self.occupied[level];
        if mask == 0 {
            return None;
        }
        let current = (self.elapsed >> (SLOT_BITS * level as u32)) as u32 & (SLOTS as u32 - 1);
        let from = (current + 1) % SLOTS as u32;
        let offset = mask.rotate_right(from).trailing_zeros();
        Some(((from + offset) % SLOTS as u32) as usize)
    }

    /// The live timer `key` refers to, if it still exists.
    fn timer_mut(&mut self, key: Key) -> Option<&mut Timer<T>> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        match &mut entry.state {
            State::Live(timer) => Some(timer),
            State::Free { .. } => None,
        }
    }

    /// The live timer in entry `index` (which must be live).
    fn timer_at(&mut self, index: u32) -> &mut Timer<T> {
        match &mut self.entries[index as usize].state {
            State::Live(timer) => timer,
            State::Free { .. } => unreachable!("timing wheel: free entry filed in a slot"),
        }
    }

    fn deadline(&mut self, index: u32) -> u64 {
        self.timer_at(index).deadline
    }

    /// Files live entry `index` in its slot relative to `elapsed`.
    fn link(&mut self, index: u32) {
        let elapsed = self.elapsed;
        let timer = self.timer_at(index);
        let (level, slot) = position(elapsed, timer.deadline);
        let bucket = &mut self.slots[level * SLOTS + slot];
        // A slot holds at most all entries, whose indices fit in a u32.
        let pos = bucket.len() as u32;
        bucket.push(index);
        self.occupied[level] |= 1 << slot;
        let timer = self.timer_at(index);
        timer.level = level as u8;
        timer.slot = slot as u8;
        timer.pos = pos;
    }

    /// Takes the entry at `pos` out of slot (`level`, `slot`).
    fn unlink(&mut self, level: usize, slot: usize, pos: u32) {
        let bucket = &mut self.slots[level * SLOTS + slot];
        bucket.swap_remove(pos as usize);
        if let Some(&moved) = bucket.get(pos as usize) {
            self.timer_at(moved).pos = pos;
        } else if bucket.is_empty() {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Frees live entry `index` (already out of its slot) and returns its value.
    fn release(&mut self, index: u32) -> T {
        let entry = &mut self.entries[index as usize];
        let state = mem::replace(&mut entry.state, State::Free { next: self.free });
        entry.generation = entry.generation.wrapping_add(1);
        self.free = index;
        self.len -= 1;
        match state {
            State::Live(timer) => timer.value,
            State::Free { .. } => unreachable!("timing wheel: freeing a free entry"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    /// Checks the structure against its invariants; panics on a violation.
    fn check<T>(w: &Wheel<T>) {
        let mut filed = 0;
        for level in 0..LEVELS {
            for slot in 0..SLOTS {
                let bucket = &w.slots[level * SLOTS + slot];
                assert_eq!(
                    w.occupied[level] & (1 << slot) != 0,
                    !bucket.is_empty(),
                    "occupancy bit of level {level} slot {slot}"
                );
                for (pos, &index) in bucket.iter().enumerate() {
                    let State::Live(timer) = &w.entries[index as usize].state else {
                        panic!("free entry {index} filed in a slot");
                    };
                    assert_eq!(
                        (
                            timer.level as usize,
                            timer.slot as usize,
                            timer.pos as usize
                        ),
                        (level, slot, pos),
                        "recorded position of entry {index}"
                    );
                    let start = slot_start(w.elapsed, level, slot);
                    assert!(start > w.elapsed, "slot starts after elapsed");
                    assert!(start <= timer.deadline, "slot starts after its deadline");
                    if level < LEVELS - 1 {
                        assert_eq!(position(w.elapsed, timer.deadline), (level, slot));
                    }
                    filed += 1;
                }
            }
        }
        assert_eq!(filed, w.len, "every live timer is filed exactly once");
        let live = w
            .entries
            .iter()
            .filter(|e| matches!(e.state, State::Live(_)))
            .count();
        assert_eq!(live, w.len, "live entries");
        assert!(w.pending.is_empty());
    }

    fn fire<T>(w: &mut Wheel<T>, now: u64) -> Vec<T> {
        let mut fired = Vec::new();
        w.advance(now, &mut fired);
        check(w);
        fired
    }

    #[test]
    fn deadline_one_tick_ahead() {
        let mut w = Wheel::new();
        let k = w.insert(1, "a").unwrap();
        assert_eq!(w.next_expiration(), Some(1));
        assert!(fire(&mut w, 0).is_empty());
        assert_eq!(w.get_mut(k).copied(), Some("a"));
        assert_eq!(fire(&mut w, 1), ["a"]);
        assert_eq!(w.elapsed(), 1);
        assert!(w.is_empty());

        // The same one tick ahead from a position in a higher slot and turn.
        let base = (5 << 30) + (63 << 6) + 63;
        assert!(fire(&mut w, base).is_empty());
        w.insert(base + 1, "b").unwrap();
        assert_eq!(w.next_expiration(), Some(base + 1));
        assert!(fire(&mut w, base).is_empty());
        assert_eq!(fire(&mut w, base + 1), ["b"]);
    }

    #[test]
    fn insert_at_or_before_elapsed_is_err() {
        let mut w = Wheel::new();
        assert_eq!(w.insert(0, 7), Err(7));
        assert!(fire(&mut w, 100).is_empty());
        assert_eq!(w.insert(100, 8), Err(8));
        assert_eq!(w.insert(3, 9), Err(9));
        assert!(w.is_empty());
        assert!(w.insert(101, 10).is_ok());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn far_future_beyond_range() {
        let mut w = Wheel::new();
        let range = 1u64 << RANGE_BITS;
        let deadlines = [range - 1, range, range + 12_345, 5 * range + 7, 1 << 40];
        for (i, &d) in deadlines.iter().enumerate() {
            w.insert(d, i).unwrap();
        }
        check(&w);
        for (i, &d) in deadlines.iter().enumerate() {
            assert!(fire(&mut w, d - 1).is_empty(), "nothing due before {d}");
            let next = w.next_expiration().unwrap();
            assert!(
                next > w.elapsed() && next <= d,
                "{next} in ({}, {d}]",
                w.elapsed()
            );
            assert_eq!(fire(&mut w, d), [i]);
        }
        assert!(w.is_empty());
        assert_eq!(w.next_expiration(), None);
    }

    #[test]
    fn far_future_reached_by_following_next_expiration() {
        // How the driver moves: straight to the next expiration each time.
        let mut w = Wheel::new();
        let d = (1u64 << 40) + 99;
        w.insert(d, ()).unwrap();
        let mut steps = 0;
        while let Some(next) = w.next_expiration() {
            assert!(next <= d);
            let fired = fire(&mut w, next);
            steps += 1;
            if next == d {
                assert_eq!(fired.len(), 1);
            } else {
                assert!(fired.is_empty());
            }
        }
        assert_eq!(w.elapsed(), d);
        // 2^40 / 2^36 turns of the top level, then one step per level below.
        assert!(steps <= 16 + LEVELS + 2, "{steps} steps");
    }

    #[test]
    fn never_deadline() {
        let mut w = Wheel::new();
        let k = w.insert(u64::MAX, "never").unwrap();
        let other = w.insert(10, "soon").unwrap();
        assert!(w.next_expiration().unwrap() <= 10);
        assert_eq!(fire(&mut w, 10), ["soon"]);
        assert_eq!(w.remove(other), None);
        let next = w.next_expiration().unwrap();
        assert!(next > 10 && next < u64::MAX);
        // A jump almost to the end reaches the timer once, without stepping
        // through the ~2^28 turns of the top level in between.
        assert!(fire(&mut w, u64::MAX - 1).is_empty());
        assert_eq!(w.len(), 1);
        assert_eq!(w.next_expiration(), Some(u64::MAX));
        assert_eq!(w.get_mut(k).copied(), Some("never"));
        assert_eq!(fire(&mut w, u64::MAX), ["never"]);
        assert_eq!(w.elapsed(), u64::MAX);
        assert_eq!(w.insert(u64::MAX, "late"), Err("late"));
        assert!(fire(&mut w, u64::MAX).is_empty());
        assert_eq!(w.next_expiration(), None);
    }

    #[test]
    fn never_deadline_near_the_end_of_time() {
        let mut w = Wheel::new();
        assert!(fire(&mut w, u64::MAX - 100).is_empty());
        w.insert(u64::MAX, 1).unwrap();
        w.insert(u64::MAX - 1, 0).unwrap();
        // Both are filed at level 1, whose slot starts earlier.
        let next = w.next_expiration().unwrap();
        assert!(next > u64::MAX - 100 && next < u64::MAX, "{next}");
        assert!(fire(&mut w, u64::MAX - 2).is_empty());
        // Now both are at level 0, exact.
        assert_eq!(w.next_expiration(), Some(u64::MAX - 1));
        assert_eq!(fire(&mut w, u64::MAX - 1), [0]);
        assert_eq!(w.next_expiration(), Some(u64::MAX));
        assert_eq!(fire(&mut w, u64::MAX), [1]);
    }

    #[test]
    fn remove_after_fire_is_none() {
        let mut w = Wheel::new();
        let k = w.insert(5, 1).unwrap();
        assert_eq!(fire(&mut w, 5), [1]);
        assert_eq!(w.remove(k), None);
        assert_eq!(w.get_mut(k), None);
        let k = w.insert(6, 2).unwrap();
        assert_eq!(w.remove(k), Some(2));
        assert_eq!(w.remove(k), None);
        assert!(fire(&mut w, 100).is_empty());
    }

    #[test]
    fn stale_key_after_entry_reuse() {
        let mut w = Wheel::new();
        let old = w.insert(50, "old").unwrap();
        assert_eq!(w.remove(old), Some("old"));
        let new = w.insert(60, "new").unwrap();
        assert_eq!(old.index, new.index, "the entry is reused");
        assert_ne!(old, new);
        assert_eq!(w.remove(old), None);
        assert_eq!(w.get_mut(old), None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.get_mut(new).copied(), Some("new"));
        // Same after the reusing timer fired and the entry is reused again.
        assert_eq!(fire(&mut w, 60), ["new"]);
        let newer = w.insert(70, "newer").unwrap();
        assert_eq!(newer.index, old.index);
        assert_eq!(w.remove(new), None);
        assert_eq!(w.remove(old), None);
        assert_eq!(w.remove(newer), Some("newer"));
    }

    #[test]
    fn drain_takes_every_timer_and_stales_its_key() {
        let mut w = Wheel::new();
        assert!(fire(&mut w, 1000).is_empty());
        // Timers at every level, a far one and "never".
        let deadlines = [1001, 1064, 5000, 300_000, 1 << 30, 1 << 40, u64::MAX];
        let keys: Vec<Key> = deadlines
            .iter()
            .enumerate()
            .map(|(i, &d)| w.insert(d, i).unwrap())
            .collect();
        let mut out = Vec::new();
        w.drain(&mut out);
        check(&w);
        out.sort_unstable();
        assert_eq!(out, (0..deadlines.len()).collect::<Vec<_>>());
        assert!(w.is_empty());
        assert_eq!(w.next_expiration(), None);
        assert_eq!(w.elapsed(), 1000);
        for k in keys {
            assert_eq!(w.remove(k), None);
            assert_eq!(w.get_mut(k), None);
        }
        // The wheel works as before.
        let k = w.insert(1001, 99).unwrap();
        assert_eq!(w.get_mut(k).copied(), Some(99));
        assert_eq!(fire(&mut w, 1001), [99]);
    }

    #[test]
    fn get_mut_replaces_the_value() {
        let mut w = Wheel::new();
        let k = w.insert(3, 1).unwrap();
        *w.get_mut(k).unwrap() = 2;
        assert_eq!(fire(&mut w, 3), [2]);
    }

    #[test]
    fn remove_from_a_shared_slot_fixes_the_moved_timer() {
        let mut w = Wheel::new();
        let keys: Vec<Key> = (0..5).map(|i| w.insert(10, i).unwrap()).collect();
        assert_eq!(w.remove(keys[1]), Some(1));
        check(&w);
        assert_eq!(w.remove(keys[4]), Some(4)); // was moved into position 1
        check(&w);
        assert_eq!(w.remove(keys[0]), Some(0));
        check(&w);
        let mut rest = fire(&mut w, 10);
        rest.sort();
        assert_eq!(rest, [2, 3]);
    }

    #[test]
    fn next_expiration_never_later_than_the_earliest_deadline() {
        let mut w = Wheel::new();
        let deadlines = [
            3,
            64,
            65,
            4_000,
            4_096,
            300_000,
            1 << 30,
            (1 << 36) + 5,
            1 << 44,
            u64::MAX,
        ];
        for (i, &d) in deadlines.iter().enumerate().rev() {
            w.insert(d, i).unwrap();
            let earliest = deadlines[i];
            assert!(w.next_expiration().unwrap() <= earliest);
        }
        assert_eq!(w.next_expiration(), Some(3), "exact at level 0");
        // Follow next_expiration as the driver does, up to the last timer
        // (reaching "never" that way would take 2^28 turns of the top level).
        let mut seen = Vec::new();
        while seen.len() < deadlines.len() - 1 {
            let next = w.next_expiration().unwrap();
            let earliest = deadlines[seen.len()];
            assert!(
                next > w.elapsed() && next <= earliest,
                "{next} vs {earliest}"
            );
            seen.extend(fire(&mut w, next));
        }
        assert!(w.next_expiration().unwrap() > w.elapsed());
        seen.extend(fire(&mut w, u64::MAX));
        assert_eq!(seen, (0..deadlines.len()).collect::<Vec<_>>());
        assert_eq!(w.next_expiration(), None);
    }

    #[test]
    fn one_jump_fires_everything_due_and_keeps_the_rest() {
        let mut w = Wheel::new();
        for d in 1..=5_000u64 {
            w.insert(d * 997, d).unwrap();
        }
        let now = 2_500 * 997 + 3;
        let mut fired = fire(&mut w, now);
        fired.sort();
        assert_eq!(fired, (1..=2_500).collect::<Vec<_>>());
        assert_eq!(w.len(), 2_500);
        let next = w.next_expiration().unwrap();
        assert!(next > now && next <= 2_501 * 997, "{next}");
        assert_eq!(w.elapsed(), now);
    }

    #[test]
    fn advance_backwards_is_a_no_op() {
        let mut w = Wheel::new();
        w.insert(20, ()).unwrap();
        assert!(fire(&mut w, 10).is_empty());
        assert!(fire(&mut w, 5).is_empty());
        assert_eq!(w.elapsed(), 10);
        assert_eq!(w.next_expiration(), Some(20));
    }

    #[test]
    fn debug_shows_len_and_elapsed() {
        let mut w = Wheel::new();
        w.insert(9, ()).unwrap();
        fire(&mut w, 4);
        assert_eq!(format!("{w:?}"), "Wheel { len: 1, elapsed: 4 }");
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Insert at `elapsed + distance` (saturating), or at `u64::MAX`.
        Insert(Option<u64>),
        /// Remove the key issued by an earlier insert (live or not).
        Remove(prop::sample::Index),
        GetMut(prop::sample::Index),
        /// Advance to `elapsed + step` (saturating).
        Advance(u64),
        /// Advance to an earlier tick: a no-op.
        Back(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let distance = prop_oneof![
            16 => (0u64..200).prop_map(Some),
            3 => (0u64..1 << 40).prop_map(Some),
            1 => Just(None),
        ];
        let step = prop_oneof![
            16 => 0u64..100,
            4 => 0u64..1 << 40,
            1 => 1u64 << 40..u64::MAX,
        ];
        prop_oneof![
            10 => distance.prop_map(Op::Insert),
            3 => any::<prop::sample::Index>().prop_map(Op::Remove),
            2 => any::<prop::sample::Index>().prop_map(Op::GetMut),
            6 => step.prop_map(Op::Advance),
            1 => (0u64..1_000).prop_map(Op::Back),
        ]
    }

    /// The reference: pending timers ordered by deadline, values are
    /// `(insertion number, times get_mut changed it)`.
    #[derive(Default)]
    struct Model {
        elapsed: u64,
        pending: BTreeMap<(u64, u64), (u64, u32)>,
        /// Every key handed out: (key, deadline, insertion number).
        keys: Vec<(Key, u64, u64)>,
        inserted: u64,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn matches_a_sorted_map(ops in prop::collection::vec(op(), 1..200)) {
            let mut w = Wheel::new();
            let mut m = Model::default();
            for op in ops {
                match op {
                    Op::Insert(distance) => {
                        let deadline = distance.map_or(u64::MAX, |d| m.elapsed.saturating_add(d));
                        let seq = m.inserted;
                        m.inserted += 1;
                        match w.insert(deadline, (seq, 0)) {
                            Ok(key) => {
                                prop_assert!(deadline > m.elapsed, "accepted a due deadline");
                                m.pending.insert((deadline, seq), (seq, 0));
                                m.keys.push((key, deadline, seq));
                            }
                            Err(value) => {
                                prop_assert!(deadline <= m.elapsed, "refused a future deadline");
                                prop_assert_eq!(value, (seq, 0));
                            }
                        }
                    }
                    Op::Remove(i) => {
                        if !m.keys.is_empty() {
                            let (key, deadline, seq) = *i.get(&m.keys);
                            let want = m.pending.remove(&(deadline, seq));
                            prop_assert_eq!(w.remove(key), want);
                        }
                    }
                    Op::GetMut(i) => {
                        if !m.keys.is_empty() {
                            let (key, deadline, seq) = *i.get(&m.keys);
                            match (w.get_mut(key), m.pending.get_mut(&(deadline, seq))) {
                                (Some(got), Some(want)) => {
                                    prop_assert_eq!(*got, *want);
                                    got.1 += 1;
                                    want.1 += 1;
                                }
                                (None, None) => {}
                                (got, want) => prop_assert!(false, "get_mut: {:?} vs {:?}", got, want),
                            }
                        }
                    }
                    Op::Advance(step) | Op::Back(step) => {
                        let now = if matches!(op, Op::Advance(_)) {
                            m.elapsed.saturating_add(step)
                        } else {
                            m.elapsed.saturating_sub(step)
                        };
                        let mut fired = Vec::new();
                        w.advance(now, &mut fired);
                        m.elapsed = m.elapsed.max(now);
                        let due = match now.checked_add(1) {
                            Some(after) => {
                                let rest = m.pending.split_off(&(after, 0));
                                mem::replace(&mut m.pending, rest)
                            }
                            None => mem::take(&mut m.pending),
                        };
                        let want: BTreeSet<(u64, u32)> = due.into_values().collect();
                        let got: BTreeSet<(u64, u32)> = fired.iter().copied().collect();
                        prop_assert_eq!(got.len(), fired.len(), "a timer fired twice");
                        prop_assert_eq!(got, want);
                        prop_assert_eq!(w.elapsed(), m.elapsed);
                    }
                }
                check(&w);
                prop_assert_eq!(w.len(), m.pending.len());
                prop_assert_eq!(w.is_empty(), m.pending.is_empty());
                match (w.next_expiration(), m.pending.keys().next()) {
                    (None, None) => {}
                    (Some(next), Some(&(earliest, _))) => {
                        prop_assert!(next > m.elapsed, "next {} at or before elapsed {}", next, m.elapsed);
                        prop_assert!(next <= earliest, "next {} after earliest {}", next, earliest);
                    }
                    (next, earliest) => prop_assert!(false, "next {:?} vs earliest {:?}", next, earliest),
                }
            }
        }
    }
}
