//! Task weights: the nice table and raw weights.

use super::Error;

/// The weight of a nice-0 entity. Every other weight is relative to it: an entity
/// of weight `w` accrues virtual runtime at `1024 / w` times the real rate.
pub const NICE_0_WEIGHT: u32 = 1024;

/// Largest raw weight accepted by [`Weight::from_raw`] (1024 nice-0 entities' worth).
pub const MAX_WEIGHT: u32 = 1 << 20;

/// The kernel's 40-entry nice table, nice -20 first: each step is about 1.25x, so
/// one nice level between two competitors moves about 10% of the CPU.
const NICE_TO_WEIGHT: [u32; 40] = [
    88761, 71755, 56483, 46273, 36291, // -20 .. -16
    29154, 23254, 18705, 14949, 11916, // -15 .. -11
    9548, 7620, 6100, 4904, 3906, // -10 .. -6
    3121, 2501, 1991, 1586, 1277, // -5 .. -1
    1024, 820, 655, 526, 423, // 0 .. 4
    335, 272, 215, 172, 137, // 5 .. 9
    110, 87, 70, 56, 45, // 10 .. 14
    36, 29, 23, 18, 15, // 15 .. 19
];

/// A scheduling weight: the share of the worker an entity receives relative to the
/// others on the same queue.
///
/// Build one from a nice level with [`Weight::from_nice`] (the usual way) or from a
/// raw number with [`Weight::from_raw`]. Both validate their input, so a `Weight`
/// in hand is always usable.
///
/// # Examples
///
/// ```
/// use runtime::sched::Weight;
///
/// assert_eq!(Weight::from_nice(0)?.get(), 1024);
/// assert_eq!(Weight::from_nice(-20)?.get(), 88761);
/// assert!(Weight::from_nice(25).is_err());
/// assert_eq!(Weight::from_raw(3)?.get(), 3);
/// # Ok::<(), runtime::sched::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(u32);

impl Weight {
    /// The weight of nice 0.
    pub const NICE_0: Weight = Weight(NICE_0_WEIGHT);

    /// The weight for a nice level in `-20..=19` (lower nice, larger weight).
    ///
    /// # Errors
    ///
    /// [`Error::NiceOutOfRange`] when `nice` is outside `-20..=19`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Weight;
    ///
    /// let fast = Weight::from_nice(-5)?;
    /// let slow = Weight::from_nice(5)?;
    /// assert!(fast > slow);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn from_nice(nice: i32) -> Result<Weight, Error> {
        if !(-20..=19).contains(&nice) {
            return Err(Error::NiceOutOfRange(nice));
        }
        Ok(Weight(NICE_TO_WEIGHT[(nice + 20) as usize]))
    }

    /// A raw weight in `1..=`[`MAX_WEIGHT`], for shares the nice table cannot express.
    ///
    /// # Errors
    ///
    /// [`Error::WeightOutOfRange`] when `weight` is 0 or above [`MAX_WEIGHT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Weight;
    ///
    /// assert_eq!(Weight::from_raw(2048)?.get(), 2048);
    /// assert!(Weight::from_raw(0).is_err());
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn from_raw(weight: u64) -> Result<Weight, Error> {
        if weight == 0 || weight > u64::from(MAX_WEIGHT) {
            return Err(Error::WeightOutOfRange(weight));
        }
        Ok(Weight(weight as u32))
    }

    /// The numeric weight (nice 0 = 1024).
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Weight;
    ///
    /// assert_eq!(Weight::NICE_0.get(), 1024);
    /// ```
    pub fn get(self) -> u32 {
        self.0
    }

    /// The nice level whose table weight is closest to this one (ties go to
    /// the higher nice); exact for weights made by [`Weight::from_nice`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::sched::Weight;
    ///
    /// assert_eq!(Weight::from_nice(-7)?.nice(), -7);
    /// assert_eq!(Weight::from_raw(1000)?.nice(), 0);
    /// assert_eq!(Weight::from_raw(1)?.nice(), 19);
    /// # Ok::<(), runtime::sched::Error>(())
    /// ```
    pub fn nice(self) -> i32 {
        let mut best = 19;
        let mut best_gap = u32::MAX;
        for (i, &w) in NICE_TO_WEIGHT.iter().enumerate().rev() {
            let gap = w.abs_diff(self.0);
            if gap < best_gap {
                best_gap = gap;
                best = i as i32 - 20;
            }
        }
        best
    }
}

impl Default for Weight {
    fn default() -> Self {
        Weight::NICE_0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shape() {
        assert_eq!(Weight::from_nice(0).unwrap().get(), 1024);
        assert_eq!(Weight::from_nice(19).unwrap().get(), 15);
        // Strictly decreasing, each step roughly 1.25x.
        for pair in NICE_TO_WEIGHT.windows(2) {
            let ratio = f64::from(pair[0]) / f64::from(pair[1]);
            assert!((1.18..1.32).contains(&ratio), "{pair:?}");
        }
    }

    #[test]
    fn nice_round_trips() {
        for nice in -20..=19 {
            assert_eq!(Weight::from_nice(nice).unwrap().nice(), nice);
        }
        assert_eq!(Weight::from_raw(u64::from(MAX_WEIGHT)).unwrap().nice(), -20);
    }

    #[test]
    fn out_of_range() {
        assert_eq!(Weight::from_nice(20), Err(Error::NiceOutOfRange(20)));
        assert_eq!(Weight::from_nice(-21), Err(Error::NiceOutOfRange(-21)));
        assert_eq!(Weight::from_raw(0), Err(Error::WeightOutOfRange(0)));
        assert_eq!(
            Weight::from_raw(u64::from(MAX_WEIGHT) + 1),
            Err(Error::WeightOutOfRange(u64::from(MAX_WEIGHT) + 1))
        );
    }
}
