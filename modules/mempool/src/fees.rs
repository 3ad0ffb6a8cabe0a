//! Fee estimation from what confirmed recently (`estimatesmartfee`).
//!
//! Method: when a block confirms a transaction that waited in this pool, the pool records
//! its fee rate (satoshis per 1000 bytes) and how many blocks it waited (the block's
//! height less the tip's height at admission, so 1 for the next block). Samples of the
//! last [`WINDOW_BLOCKS`] blocks are kept; a disconnected block's samples are dropped.
//!
//! The estimate for a target of N blocks is the lowest fee rate R such that, of the
//! sampled transactions paying R or more, at least 85% (`economical`) or 95%
//! (`conservative`) confirmed within N blocks: paying R, a transaction did as well as
//! those that confirmed in time. This is Bitcoin Core's question (CBlockPolicyEstimator)
//! asked of single rates instead of exponential buckets, without decay; transactions a
//! block confirmed that never waited in this pool say nothing of waiting and are not
//! sampled, as in Core.
//!
//! Costs: one sample per confirmed pooled transaction, at most a window's worth kept; an
//! estimate sorts the samples.

use std::collections::VecDeque;

/// Blocks of samples kept: a day of blocks at 10 minutes, long enough to see every
/// target Core's wallet asks for by default (6 blocks) many times over.
pub(crate) const WINDOW_BLOCKS: u32 = 144;

/// Fewer samples than this say little about what the market pays: no estimate.
pub(crate) const MIN_SAMPLES: usize = 3;

/// Core answers targets up to 1008 blocks; beyond the window we have no data anyway.
pub(crate) const MAX_TARGET: u32 = 1008;

/// How sure an estimate must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 85% of the transactions at the rate confirmed in time (Core's default).
    Economical,
    /// 95% of them did.
    Conservative,
}

impl Mode {
    /// Success ratio required, in percent.
    fn percent(self) -> usize {
        match self {
            Mode::Economical => 85,
            Mode::Conservative => 95,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Height of the block that confirmed it.
    height: u32,
    /// Satoshis per 1000 bytes.
    rate: u64,
    /// Blocks it waited.
    waited: u32,
}

/// Recent confirmations and the estimates drawn from them.
#[derive(Debug, Default)]
pub(crate) struct FeeEstimator {
    samples: VecDeque<Sample>,
}

impl FeeEstimator {
    /// A block at `height` confirmed a transaction of `size` bytes paying `fee` that
    /// entered the pool when the tip was at `entry_height`.
    pub(crate) fn confirmed(&mut self, height: u32, entry_height: u32, fee: u64, size: usize) {
        if size == 0 {
            return;
        }
        self.samples.push_back(Sample {
            height,
            rate: fee.saturating_mul(1000) / size as u64,
            waited: height.saturating_sub(entry_height).max(1),
        });
        let oldest = height.saturating_sub(WINDOW_BLOCKS - 1);
        while self.samples.front().is_some_and(|s| s.height < oldest) {
            self.samples.pop_front();
        }
    }

    /// The block at `height` left the main chain: what it confirmed did not confirm.
    pub(crate) fn disconnected(&mut self, height: u32) {
        self.samples.retain(|s| s.height < height);
    }

    /// The lowest rate (satoshis per 1000 bytes) that confirmed within `target` blocks
    /// often enough for `mode`, or `None` without enough data.
    pub(crate) fn estimate(&self, target: u32, mode: Mode) -> Option<u64> {
        if self.samples.len() < MIN_SAMPLES {
            return None;
        }
        let mut by_rate: Vec<Sample> = self.samples.iter().copied().collect();
        by_rate.sort_by_key(|s| std::cmp::Reverse(s.rate));
        let mut seen = 0;
        let mut in_time = 0;
        let mut best = None;
        for (i, sample) in by_rate.iter().enumerate() {
            seen += 1;
            if sample.waited <= target {
                in_time += 1;
            }
            // Decide at the last sample of a rate: all who paid it are counted.
            let last_of_rate = by_rate
                .get(i + 1)
                .is_none_or(|next| next.rate != sample.rate);
            if last_of_rate && seen >= MIN_SAMPLES && in_time * 100 >= seen * mode.percent() {
                best = Some(sample.rate);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_estimate_without_enough_samples() {
        let mut fees = FeeEstimator::default();
        assert_eq!(fees.estimate(2, Mode::Economical), None);
        fees.confirmed(10, 9, 2000, 1000);
        fees.confirmed(10, 9, 2000, 1000);
        assert_eq!(fees.estimate(2, Mode::Economical), None);
        fees.confirmed(10, 9, 2000, 1000);
        assert_eq!(fees.estimate(2, Mode::Economical), Some(2000));
    }

    #[test]
    fn the_lowest_rate_that_confirmed_in_time_is_the_answer() {
        let mut fees = FeeEstimator::default();
        // Rich transactions confirm in the next block; cheap ones waited 10 blocks.
        for _ in 0..10 {
            fees.confirmed(100, 99, 5000, 250);
        }
        for _ in 0..10 {
            fees.confirmed(100, 90, 250, 250);
        }
        assert_eq!(fees.estimate(1, Mode::Economical), Some(20_000));
        assert_eq!(fees.estimate(10, Mode::Economical), Some(1000));
        // Half of all transactions confirmed in 2 blocks: not enough to go below 20000.
        assert_eq!(fees.estimate(2, Mode::Conservative), Some(20_000));
    }

    #[test]
    fn a_disconnected_block_takes_its_samples_and_old_blocks_age_out() {
        let mut fees = FeeEstimator::default();
        for _ in 0..3 {
            fees.confirmed(5, 4, 1000, 1000);
        }
        fees.disconnected(5);
        assert_eq!(fees.estimate(2, Mode::Economical), None);
        for _ in 0..3 {
            fees.confirmed(5, 4, 1000, 1000);
        }
        fees.confirmed(5 + WINDOW_BLOCKS, 4 + WINDOW_BLOCKS, 3000, 1000);
        // Only the new block's one sample is left in the window.
        assert_eq!(fees.samples.len(), 1);
    }
}
