//! A brute-force reference model of one EEVDF run queue, written from the rules
//! of the scheduler's specification rather than from its code.
//!
//! Everything is a linear scan over a `Vec` of entities: no tree, no cached
//! sums, no zero point kept between calls. `V` is recomputed from scratch on
//! every use as the floored weighted mean of the queued vruntimes, in `i128`,
//! relative to the first queued entity. Virtual times are wrapping `u64`s
//! compared by signed difference, as in the real queue.
//!
//! Entities are named by their index in [`Model::ents`] (the order of
//! creation, or of arrival by migration); removed and migrated-away entities
//! stay in the vector with `alive == false` so a stale handle can still be
//! exercised.

use runtime::sched::{Block, EntityState, Error, Wake};

/// Weight of nice 0.
pub(crate) const NICE_0: u64 = 1024;
/// The default base slice of `Config::new()`, in ns.
pub(crate) const BASE_SLICE: u64 = 700_000;
/// The default tick of `Config::new()`, in ns (part of the lag clamp).
pub(crate) const TICK: u64 = 1_000_000;
/// Custom slices are clamped to `MIN_SLICE..=MAX_SLICE` ns.
pub(crate) const MIN_SLICE: u64 = 100_000;
pub(crate) const MAX_SLICE: u64 = 100_000_000;

/// `a < b` on the wrapping virtual time line.
pub(crate) fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// `v − z` as a signed number, widened for products.
fn key(v: u64, z: u64) -> i128 {
    i128::from(v.wrapping_sub(z) as i64)
}

/// Outcome of [`Model::pick`], with model ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MPick {
    Run(usize),
    Dequeued(usize),
    Idle,
}

/// An entity between two models, from [`Model::migrate_out`].
#[derive(Debug, Clone)]
pub(crate) struct MMigrant {
    pub(crate) weight: u64,
    pub(crate) slice: u64,
    pub(crate) custom: bool,
    /// Virtual lag, clamped if it left runnable.
    pub(crate) vlag: i64,
    /// Deadline minus vruntime when it left.
    pub(crate) rel_deadline: u64,
    /// Whether it left runnable (it arrives runnable) or sleeping.
    pub(crate) queued: bool,
    pub(crate) runtime: u64,
}

impl MMigrant {
    /// `⌊w·vlag/1024⌋`, as `Migrant::lag_ns` reports it.
    pub(crate) fn lag_ns(&self) -> i64 {
        (i128::from(self.vlag) * i128::from(self.weight)).div_euclid(i128::from(NICE_0)) as i64
    }
}

/// One entity of the model.
#[derive(Debug, Clone)]
pub(crate) struct Ent {
    /// False once removed.
    pub(crate) alive: bool,
    pub(crate) weight: u64,
    /// Request size in ns (already clamped if custom).
    pub(crate) slice: u64,
    pub(crate) custom: bool,
    /// Virtual runtime.
    pub(crate) v: u64,
    /// Virtual deadline.
    pub(crate) d: u64,
    /// Stored virtual lag (meaningful while sleeping).
    pub(crate) vlag: i64,
    /// Remainder of `dt·1024 mod w` not yet turned into vruntime.
    pub(crate) vrem: u64,
    pub(crate) state: EntityState,
    /// Run-to-parity protection bound (meaningful while running).
    pub(crate) vprot: u64,
    /// Insertion sequence number: breaks deadline ties, lower first.
    pub(crate) seq: u64,
    /// Total real run time charged, ns.
    pub(crate) runtime: u64,
}

impl Ent {
    /// Runnable, running or delayed: counted in `V`.
    pub(crate) fn queued(&self) -> bool {
        self.alive && self.state != EntityState::Sleeping
    }

    /// `slice·1024/w`.
    pub(crate) fn vslice(&self) -> u64 {
        self.slice * NICE_0 / self.weight
    }
}

/// The reference queue.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    delayed_dequeue: bool,
    keep_lag: bool,
    run_to_parity: bool,
    pub(crate) ents: Vec<Ent>,
    next_seq: u64,
    /// `V` while nothing is queued: the vruntime of the last entity that left
    /// (0 for a fresh queue).
    empty_v: u64,
    /// The running entity that yielded to others: the next pick that is not
    /// kept by run to parity passes it over if another is eligible.
    pub(crate) skip: Option<usize>,
    /// The entity last picked to run and its insertion sequence then: deadline
    /// ties are broken in turn after it, while it is still queued under that
    /// sequence number.
    last: Option<(usize, u64)>,
}

impl Model {
    pub(crate) fn new(delayed_dequeue: bool, keep_lag: bool, run_to_parity: bool) -> Model {
        Model {
            delayed_dequeue,
            keep_lag,
            run_to_parity,
            ents: Vec::new(),
            next_seq: 0,
            empty_v: 0,
            skip: None,
            last: None,
        }
    }

    // ----- brute-force queries -----

    fn queued_ids(&self) -> Vec<usize> {
        (0..self.ents.len())
            .filter(|&i| self.ents[i].queued())
            .collect()
    }

    pub(crate) fn running(&self) -> Option<usize> {
        (0..self.ents.len())
            .find(|&i| self.ents[i].alive && self.ents[i].state == EntityState::Running)
    }

    /// `(z, K, L)` over the queued entities: a reference point (the first
    /// queued vruntime), `Σ w·(v − z)` and `Σ w`; `None` if nothing is queued.
    fn load(&self) -> Option<(u64, i128, i128)> {
        let q = self.queued_ids();
        let z = self.ents[*q.first()?].v;
        let (mut k, mut l) = (0i128, 0i128);
        for i in q {
            let e = &self.ents[i];
            k += i128::from(e.weight) * key(e.v, z);
            l += i128::from(e.weight);
        }
        Some((z, k, l))
    }

    /// `V = ⌊Σ w·v / Σ w⌋` over the queued entities.
    pub(crate) fn avg(&self) -> u64 {
        match self.load() {
            None => self.empty_v,
            Some((z, k, l)) => z.wrapping_add(k.div_euclid(l) as i64 as u64),
        }
    }

    /// `v ≤ Σ w·v / Σ w` exactly (as a rational), by cross-multiplication.
    pub(crate) fn eligible(&self, v: u64) -> bool {
        match self.load() {
            None => true,
            Some((z, k, l)) => key(v, z) * l <= k,
        }
    }

    /// Total weight of the queued entities.
    pub(crate) fn total_weight(&self) -> u64 {
        self.load().map_or(0, |(_, _, l)| l as u64)
    }

    pub(crate) fn nr_queued(&self) -> usize {
        self.queued_ids().len()
    }

    pub(crate) fn nr_delayed(&self) -> usize {
        self.ents
            .iter()
            .filter(|e| e.alive && e.state == EntityState::Delayed)
            .count()
    }

    pub(crate) fn nr_live(&self) -> usize {
        self.ents.iter().filter(|e| e.alive).count()
    }

    /// Real lag as `info().lag_ns` reports it: `⌊w·(V − v)/1024⌋` when queued,
    /// `⌊w·vlag/1024⌋` when sleeping.
    pub(crate) fn lag_ns(&self, id: usize) -> i64 {
        let e = &self.ents[id];
        let vlag = if e.queued() {
            self.avg().wrapping_sub(e.v) as i64
        } else {
            e.vlag
        };
        (i128::from(vlag) * i128::from(e.weight)).div_euclid(i128::from(NICE_0)) as i64
    }

    /// Whether `id` is queued and eligible.
    pub(crate) fn is_eligible(&self, id: usize) -> bool {
        self.ents[id].queued() && self.eligible(self.ents[id].v)
    }

    // ----- helpers for the operations -----

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Call after `id` stopped being queued: if it was the last one, the
    /// empty queue's `V` stays at its vruntime.
    fn after_leave(&mut self, id: usize) {
        if self.load().is_none() {
            self.empty_v = self.ents[id].v;
        }
    }

    fn live(&self, id: usize) -> Result<(), Error> {
        match self.ents.get(id) {
            Some(e) if e.alive => Ok(()),
            _ => Err(Error::UnknownEntity),
        }
    }

    /// Run to parity: short of its protected vruntime, eligible or not (poll
    /// ends are ticks, and Linux does not switch before that at a tick).
    fn protected(&self, c: usize) -> bool {
        let e = &self.ents[c];
        before(e.v, e.vprot)
    }

    /// The queued entity with the earliest deadline among the eligible ones
    /// (ties: lowest sequence number), excluding `skip`.
    /// The eligible queued entity (other than `skip`) with the earliest
    /// deadline. Ties go in turn: if the entity picked last is still queued
    /// under the sequence number it had then and has that deadline, the tied
    /// entity inserted next after it, else (wrapping around) the one inserted
    /// first.
    fn best_eligible(&self, skip: Option<usize>) -> Option<usize> {
        let cands: Vec<usize> = self
            .queued_ids()
            .into_iter()
            .filter(|&i| Some(i) != skip && self.eligible(self.ents[i].v))
            .collect();
        let d = cands
            .iter()
            .map(|&i| self.ents[i].d)
            .reduce(|a, b| if before(b, a) { b } else { a })?;
        let after = self.last.and_then(|(l, seq)| {
            let e = &self.ents[l];
            let queued = e.alive && e.state != EntityState::Sleeping;
            (queued && e.seq == seq && e.d == d).then_some(seq)
        });
        // In turn: those inserted after the last pick first, then the rest.
        let turn = |i: usize| {
            let seq = self.ents[i].seq;
            (after.is_some_and(|a| seq <= a), seq)
        };
        cands
            .into_iter()
            .filter(|&i| self.ents[i].d == d)
            .min_by_key(|&i| turn(i))
    }

    // ----- operations -----

    /// A new entity at lag 0 (`v = V`) with a half-slice first deadline.
    pub(crate) fn enqueue_new(&mut self, weight: u64, custom_slice: Option<u64>) -> usize {
        let slice = custom_slice.map_or(BASE_SLICE, |s| s.clamp(MIN_SLICE, MAX_SLICE));
        let v = self.avg();
        let mut e = Ent {
            alive: true,
            weight,
            slice,
            custom: custom_slice.is_some(),
            v,
            d: 0,
            vlag: 0,
            vrem: 0,
            state: EntityState::Runnable,
            vprot: 0,
            seq: self.take_seq(),
            runtime: 0,
        };
        e.d = v.wrapping_add(e.vslice() / 2);
        self.ents.push(e);
        self.ents.len() - 1
    }

    pub(crate) fn pick(&mut self) -> MPick {
        if let Some(c) = self.running() {
            if self.run_to_parity && self.protected(c) {
                self.last = Some((c, self.ents[c].seq));
                return MPick::Run(c);
            }
            // It stays in the tree, keeping its insertion sequence.
            self.ents[c].state = EntityState::Runnable;
        }
        // A pending yield_to_others is used up by this pick, whatever it picks:
        // the yielder is passed over if any other entity is eligible
        // (eligibility still against the full queue's V).
        let skip = self.skip.take();
        let p = match self.best_eligible(skip) {
            Some(p) => p,
            None => match self.best_eligible(None) {
                Some(p) => p,
                None => return MPick::Idle,
            },
        };
        if self.ents[p].state == EntityState::Delayed {
            self.ents[p].state = EntityState::Sleeping;
            self.ents[p].vlag = 0;
            self.after_leave(p);
            return MPick::Dequeued(p);
        }
        let min_slice = self
            .queued_ids()
            .into_iter()
            .map(|i| self.ents[i].slice)
            .min()
            .expect("p itself is queued");
        self.last = Some((p, self.ents[p].seq));
        let e = &mut self.ents[p];
        e.state = EntityState::Running;
        let vmin = e.v.wrapping_add(min_slice * NICE_0 / e.weight);
        e.vprot = if before(vmin, e.d) { vmin } else { e.d };
        MPick::Run(p)
    }

    /// Returns `(renewed, resched)`.
    ///
    /// `resched` follows the doc of `Charge::resched`: a decision is due, i.e.
    /// more than one entity is runnable and the running one got a new request
    /// or is not protected (run to parity off, or its protection used up).
    pub(crate) fn charge(&mut self, dt: u64) -> Result<(bool, bool), Error> {
        let c = self.running().ok_or(Error::NothingRunning)?;
        let e = &mut self.ents[c];
        e.runtime = e.runtime.saturating_add(dt);
        let dv = if e.weight == NICE_0 {
            dt
        } else {
            let num = u128::from(dt) * u128::from(NICE_0) + u128::from(e.vrem);
            e.vrem = (num % u128::from(e.weight)) as u64;
            (num / u128::from(e.weight)) as u64
        };
        e.v = e.v.wrapping_add(dv);
        let renewed = !before(e.v, e.d);
        if renewed {
            // A new key: it is re-inserted, with a new insertion sequence.
            e.d = e.v.wrapping_add(e.vslice());
            self.ents[c].seq = self.take_seq();
        }
        let nr_runnable = self.nr_queued() - self.nr_delayed();
        let resched = nr_runnable > 1 && (renewed || !self.run_to_parity || !self.protected(c));
        Ok((renewed, resched))
    }

    pub(crate) fn yield_current(&mut self) -> Result<(), Error> {
        let c = self.running().ok_or(Error::NothingRunning)?;
        if self.eligible(self.ents[c].v) {
            let e = &mut self.ents[c];
            let d_old = e.d;
            e.v = d_old;
            e.d = d_old.wrapping_add(e.vslice());
            e.vrem = 0;
            e.vprot = d_old;
            self.ents[c].seq = self.take_seq();
        }
        Ok(())
    }

    /// Steps aside without forfeiting anything: protection ends (vprot = v) and
    /// the next pick passes it over if any other entity is eligible.
    pub(crate) fn yield_to_others(&mut self) -> Result<(), Error> {
        let c = self.running().ok_or(Error::NothingRunning)?;
        self.ents[c].vprot = self.ents[c].v;
        self.skip = Some(c);
        Ok(())
    }

    pub(crate) fn block_current(&mut self) -> Result<Block, Error> {
        let c = self.running().ok_or(Error::NothingRunning)?;
        self.skip = None;
        let v = self.ents[c].v;
        if self.delayed_dequeue && !self.eligible(v) {
            // It stays in the tree where it is.
            self.ents[c].state = EntityState::Delayed;
            return Ok(Block::Delayed);
        }
        let max_slice = self
            .queued_ids()
            .into_iter()
            .map(|i| self.ents[i].slice)
            .max()
            .expect("c itself is queued");
        let limit = ((max_slice + TICK) * NICE_0 / self.ents[c].weight) as i64;
        let vlag = (self.avg().wrapping_sub(v) as i64).clamp(-limit, limit);
        self.ents[c].state = EntityState::Sleeping;
        self.ents[c].vlag = vlag;
        self.after_leave(c);
        Ok(Block::Dequeued)
    }

    pub(crate) fn wake(&mut self, id: usize) -> Result<Wake, Error> {
        self.live(id)?;
        match self.ents[id].state {
            EntityState::Runnable | EntityState::Running => Err(Error::AlreadyQueued),
            EntityState::Delayed => {
                if before(self.ents[id].v, self.avg()) {
                    // Positive lag: re-place at lag 0, i.e. at V computed
                    // without it, with a full-slice deadline. (A placement, so
                    // the charge remainder restarts at 0 as in every placement.)
                    self.ents[id].state = EntityState::Sleeping; // out of V
                    let v = self.avg();
                    let seq = self.take_seq();
                    let e = &mut self.ents[id];
                    e.v = v;
                    e.vrem = 0;
                    e.d = v.wrapping_add(e.vslice());
                    e.seq = seq;
                }
                self.ents[id].state = EntityState::Runnable;
                Ok(Wake::Rearmed)
            }
            EntityState::Sleeping => {
                let lag = if self.keep_lag { self.ents[id].vlag } else { 0 };
                let big_w = i128::from(self.total_weight());
                let w = i128::from(self.ents[id].weight);
                let used = if big_w > 0 && lag != 0 {
                    (i128::from(lag) * (big_w + w) / big_w) as i64
                } else {
                    lag
                };
                let v = self.avg().wrapping_sub(used as u64);
                let seq = self.take_seq();
                let e = &mut self.ents[id];
                e.v = v;
                e.vrem = 0;
                e.d = v.wrapping_add(e.vslice());
                e.seq = seq;
                e.state = EntityState::Runnable;
                // PREEMPT_SHORT: a shorter-slice, eligible wakee with an earlier
                // deadline cancels the running entity's protection.
                if let Some(c) = self.running() {
                    let (we, ce) = (&self.ents[id], &self.ents[c]);
                    if we.slice < ce.slice && before(we.d, ce.d) && self.eligible(we.v) {
                        self.ents[c].vprot = self.ents[c].v;
                    }
                }
                Ok(Wake::Placed)
            }
        }
    }

    pub(crate) fn remove(&mut self, id: usize) -> Result<(), Error> {
        self.live(id)?;
        let was_queued = self.ents[id].queued();
        self.ents[id].alive = false;
        if self.skip == Some(id) {
            self.skip = None;
        }
        if was_queued {
            self.after_leave(id);
        }
        Ok(())
    }

    /// Takes a runnable or sleeping entity off this queue. A runnable one
    /// leaves with its lag clamped as in a block and its deadline relative to
    /// its vruntime; a sleeping one with its stored lag. The running entity
    /// and delayed ones cannot move.
    pub(crate) fn migrate_out(&mut self, id: usize) -> Result<MMigrant, Error> {
        self.live(id)?;
        let e = &self.ents[id];
        let (vlag, queued) = match e.state {
            EntityState::Running => return Err(Error::Running),
            EntityState::Delayed => return Err(Error::Delayed),
            EntityState::Runnable => {
                let max_slice = self
                    .queued_ids()
                    .into_iter()
                    .map(|i| self.ents[i].slice)
                    .max()
                    .expect("id itself is queued");
                let limit = ((max_slice + TICK) * NICE_0 / e.weight) as i64;
                let vlag = (self.avg().wrapping_sub(e.v) as i64).clamp(-limit, limit);
                (vlag, true)
            }
            EntityState::Sleeping => (e.vlag, false),
        };
        let e = &self.ents[id];
        let m = MMigrant {
            weight: e.weight,
            slice: e.slice,
            custom: e.custom,
            vlag,
            rel_deadline: e.d.wrapping_sub(e.v),
            queued,
            runtime: e.runtime,
        };
        self.remove(id)?;
        Ok(m)
    }

    /// Adopts an entity: a runnable one is placed at its lag relative to this
    /// queue's `V` (inflated by `(W + w)/W` as in a wake, but with no
    /// PREEMPT_SHORT) with the same relative deadline; a sleeping one stays
    /// asleep with its lag, showing vruntime `V − vlag`. Returns its model id.
    pub(crate) fn migrate_in(&mut self, m: MMigrant) -> usize {
        let v = if m.queued {
            let big_w = i128::from(self.total_weight());
            let used = if big_w > 0 && m.vlag != 0 {
                (i128::from(m.vlag) * (big_w + i128::from(m.weight)) / big_w) as i64
            } else {
                m.vlag
            };
            self.avg().wrapping_sub(used as u64)
        } else {
            self.avg().wrapping_sub(m.vlag as u64)
        };
        let e = Ent {
            alive: true,
            weight: m.weight,
            slice: m.slice,
            custom: m.custom,
            v,
            d: v.wrapping_add(m.rel_deadline),
            vlag: if m.queued { 0 } else { m.vlag },
            vrem: 0,
            state: if m.queued {
                EntityState::Runnable
            } else {
                EntityState::Sleeping
            },
            vprot: 0,
            seq: self.take_seq(),
            runtime: m.runtime,
        };
        self.ents.push(e);
        self.ents.len() - 1
    }

    pub(crate) fn reweight(&mut self, id: usize, w_new: u64) -> Result<(), Error> {
        self.live(id)?;
        let w_old = self.ents[id].weight;
        if self.ents[id].state == EntityState::Sleeping {
            let e = &mut self.ents[id];
            e.vlag = (i128::from(e.vlag) * i128::from(w_old) / i128::from(w_new)) as i64;
            e.weight = w_new;
            return Ok(());
        }
        // Pivot on the exact mean K/L (old weight counted): x ↦ z + ⌊(w_old·(x−z)·L
        // + (w_new − w_old)·K) / (w_new·L)⌋.
        let (z, k, l) = self.load().expect("id itself is queued");
        let (wo, wn) = (i128::from(w_old), i128::from(w_new));
        let rescale = |x: u64| -> u64 {
            let off = (wo * key(x, z) * l + (wn - wo) * k).div_euclid(wn * l);
            z.wrapping_add(off as i64 as u64)
        };
        let seq = self.take_seq();
        let mut v = rescale(self.ents[id].v);
        {
            // Clamp into the integers v' for which ⌊(rest + w_new·(v'−z)) / L'⌋
            // is still ⌊K/L⌋, where rest = Σ w·(v−z) of the others and L' the
            // new total weight: the smallest is lo, the largest hi.
            let rest = k - wo * key(self.ents[id].v, z);
            let l_new = l - wo + wn;
            let vk = k.div_euclid(l);
            let ceil = |a: i128| -(-a).div_euclid(wn);
            let lo = ceil(l_new * vk - rest);
            let hi = ceil(l_new * (vk + 1) - rest) - 1;
            let off = key(v, z).clamp(lo, hi.max(lo));
            v = z.wrapping_add(off as i64 as u64);
        }
        let e = &mut self.ents[id];
        e.v = v;
        e.d = rescale(e.d);
        e.vprot = rescale(e.vprot);
        e.vrem = 0;
        e.weight = w_new;
        e.seq = seq;
        Ok(())
    }
}
