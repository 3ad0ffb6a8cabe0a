//! The pool's rolling minimum fee rate, as Bitcoin Core computes it (`CTxMemPool::
//! GetMinFee`, `trackPackageRemoved`, `TrimToSize`).
//!
//! When the pool trims to its byte limit, the minimum rises to the fee rate of what it
//! evicted plus the incremental relay fee, so that the next transaction must pay more
//! than what was just thrown out (else a block freeing a kilobyte would let a cheaper
//! transaction in at once). It then decays: after the first block since the last rise,
//! it halves every 12 hours, every 6 hours while the pool is under half full and every
//! 3 hours under a quarter, re-evaluated at most every 10 seconds; below half the
//! incremental relay fee it drops to zero. While it is above zero, it is never below the
//! incremental relay fee.
//!
//! Cost: a few floating-point operations per admission.

/// Core's `ROLLING_FEE_HALFLIFE`: 12 hours.
pub(crate) const HALFLIFE_SECS: f64 = 12.0 * 60.0 * 60.0;

/// Core re-evaluates the decay at most this often.
const UPDATE_INTERVAL_SECS: u64 = 10;

/// The rolling minimum, satoshis per 1000 bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct RollingMinFee {
    /// Kept as a float, as Core does, so that repeated halvings do not round away.
    rate: f64,
    /// Unix seconds of the last decay step.
    updated: u64,
    /// Whether a block arrived since the last rise: decay waits for one.
    block_since_bump: bool,
}

impl RollingMinFee {
    /// The pool evicted a package paying `evicted_rate` (satoshis per 1000 bytes, its
    /// fees over its bytes): the minimum rises to it plus `incremental`, if higher.
    pub(crate) fn evicted(&mut self, evicted_rate: u64, incremental: u64) {
        let raised = evicted_rate.saturating_add(incremental) as f64;
        if raised > self.rate {
            self.rate = raised;
            self.block_since_bump = false;
        }
    }

    /// A block connected at `now`: decay may start.
    pub(crate) fn block(&mut self, now: u64) {
        self.updated = now;
        self.block_since_bump = true;
    }

    /// The minimum at `now` for a pool holding `bytes` of `max_bytes`, decayed first
    /// (Core's `GetMinFee`): zero when it has decayed away, else at least `incremental`.
    pub(crate) fn get(
        &mut self,
        now: u64,
        bytes: usize,
        max_bytes: usize,
        incremental: u64,
    ) -> u64 {
        if !self.block_since_bump || self.rate == 0.0 {
            return self.rate.round() as u64;
        }
        if now > self.updated + UPDATE_INTERVAL_SECS {
            let mut halflife = HALFLIFE_SECS;
            if bytes < max_bytes / 4 {
                halflife /= 4.0;
            } else if bytes < max_bytes / 2 {
                halflife /= 2.0;
            }
            let elapsed = (now - self.updated) as f64;
            self.rate /= 2f64.powf(elapsed / halflife);
            self.updated = now;
            if self.rate < incremental as f64 / 2.0 {
                self.rate = 0.0;
                return 0;
            }
        }
        (self.rate.round() as u64).max(incremental)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INCREMENTAL: u64 = 1000;
    const MAX: usize = 1_000_000;

    #[test]
    fn eviction_raises_it_to_the_evicted_rate_plus_the_increment() {
        let mut min = RollingMinFee::default();
        assert_eq!(min.get(0, 0, MAX, INCREMENTAL), 0);
        min.evicted(29_910, INCREMENTAL);
        assert_eq!(min.get(0, MAX, MAX, INCREMENTAL), 30_910);
        // A cheaper eviction does not lower it.
        min.evicted(5_000, INCREMENTAL);
        assert_eq!(min.get(0, MAX, MAX, INCREMENTAL), 30_910);
        // No block yet: no decay, however long.
        assert_eq!(min.get(100 * 3600, MAX, MAX, INCREMENTAL), 30_910);
    }

    #[test]
    fn it_halves_every_12_hours_after_a_block_faster_when_the_pool_is_small() {
        let mut min = RollingMinFee::default();
        min.evicted(39_000, INCREMENTAL);
        min.block(1_000);
        // Within 10 s of the block: unchanged.
        assert_eq!(min.get(1_005, MAX, MAX, INCREMENTAL), 40_000);
        // A full pool: 12 hours halve it.
        assert_eq!(min.get(1_000 + 12 * 3600, MAX, MAX, INCREMENTAL), 20_000);
        // Under half full: 6 hours halve it.
        assert_eq!(
            min.get(1_000 + 18 * 3600, MAX / 3, MAX, INCREMENTAL),
            10_000
        );
        // Under a quarter: 3 hours.
        assert_eq!(min.get(1_000 + 21 * 3600, 0, MAX, INCREMENTAL), 5_000);
        // Down to the increment it holds at it, then drops to zero under half of it.
        assert_eq!(min.get(1_000 + 27 * 3600, 0, MAX, INCREMENTAL), 1_250);
        assert_eq!(min.get(1_000 + 30 * 3600, 0, MAX, INCREMENTAL), 1_000);
        assert_eq!(min.get(1_000 + 33 * 3600, 0, MAX, INCREMENTAL), 0);
        // A new eviction starts over, and waits for a block again.
        min.evicted(2_000, INCREMENTAL);
        assert_eq!(min.get(1_000 + 50 * 3600, 0, MAX, INCREMENTAL), 3_000);
    }
}
