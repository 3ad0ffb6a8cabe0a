//! Proof-of-work arithmetic: compact targets, the proof-of-work check, block work and
//! retargeting, each exactly as Bitcoin Core computes it.

pub use primitive_types::U256;
use primitive_types::U512;

use crate::hash::Hash256;

/// A compact `bits` value expanded as Bitcoin Core's `SetCompact` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactTarget {
    /// The 256-bit value (meaningful only when neither flag is set).
    pub target: U256,
    /// The sign bit (0x00800000) was set on a non-zero mantissa.
    pub negative: bool,
    /// The value does not fit in 256 bits.
    pub overflow: bool,
}

impl CompactTarget {
    /// The target when it is usable for proof of work: not negative, no overflow, not zero.
    pub fn valid(&self) -> Option<U256> {
        (!self.negative && !self.overflow && !self.target.is_zero()).then_some(self.target)
    }
}

/// Expands compact `bits`: Bitcoin Core's `arith_uint256::SetCompact`.
///
/// The top byte is a size in bytes, the low 23 bits a mantissa, bit 23 a sign.
pub fn target_from_compact(bits: u32) -> CompactTarget {
    let size = bits >> 24;
    let mut word = bits & 0x007f_ffff;
    let target = if size <= 3 {
        // Core shifts the word itself, so the flags below see the shifted value.
        word >>= 8 * (3 - size);
        U256::from(word)
    } else {
        // A shift of 256 bits or more gives zero, as in Core; the overflow flag reports it.
        U256::from(word) << (8 * (size - 3))
    };
    let negative = word != 0 && bits & 0x0080_0000 != 0;
    let overflow =
        word != 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
    CompactTarget {
        target,
        negative,
        overflow,
    }
}

/// Compresses `target` to compact bits: Bitcoin Core's `arith_uint256::GetCompact`.
///
/// Lossy: only the top 23 bits of the mantissa survive. `negative` sets the sign bit when
/// the mantissa is non-zero; consensus code always passes `false`.
pub fn target_to_compact(target: U256, negative: bool) -> u32 {
    let mut size = target.bits().div_ceil(8) as u32;
    let mut compact = if size <= 3 {
        (target.low_u64() << (8 * (3 - size))) as u32
    } else {
        (target >> (8 * (size - 3))).low_u32()
    };
    // Bit 23 is the sign, so a mantissa using it moves one byte down.
    if compact & 0x0080_0000 != 0 {
        compact >>= 8;
        size += 1;
    }
    compact |= size << 24;
    if negative && compact & 0x007f_ffff != 0 {
        compact |= 0x0080_0000;
    }
    compact
}

/// A hash read as the 256-bit number proof of work compares (Bitcoin's internal byte order
/// is little-endian).
pub fn hash_to_u256(hash: &Hash256) -> U256 {
    U256::from_little_endian(&hash.0)
}

/// Why a header fails its proof of work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// The bits have the sign bit set.
    #[error("bits {bits:#010x} encode a negative target")]
    NegativeTarget {
        /// The header's bits.
        bits: u32,
    },
    /// The bits encode a number above 2^256.
    #[error("bits {bits:#010x} encode a target that overflows 256 bits")]
    TargetOverflow {
        /// The header's bits.
        bits: u32,
    },
    /// The bits encode zero.
    #[error("bits {bits:#010x} encode a zero target")]
    ZeroTarget {
        /// The header's bits.
        bits: u32,
    },
    /// The target is easier than the chain allows.
    #[error("bits {bits:#010x} encode a target above the chain's proof-of-work limit")]
    TargetAboveLimit {
        /// The header's bits.
        bits: u32,
    },
    /// The hash does not meet the target.
    #[error("block hash {hash} is above the target of bits {bits:#010x}")]
    HashAboveTarget {
        /// The header's hash.
        hash: Hash256,
        /// The header's bits.
        bits: u32,
    },
}

/// Checks that `hash` meets the target `bits` encodes and that the target is within
/// `pow_limit`: Bitcoin Core's `CheckProofOfWork`.
pub fn check_proof_of_work(hash: &Hash256, bits: u32, pow_limit: &U256) -> Result<(), PowError> {
    let decoded = target_from_compact(bits);
    if decoded.negative {
        return Err(PowError::NegativeTarget { bits });
    }
    if decoded.overflow {
        return Err(PowError::TargetOverflow { bits });
    }
    if decoded.target.is_zero() {
        return Err(PowError::ZeroTarget { bits });
    }
    if decoded.target > *pow_limit {
        return Err(PowError::TargetAboveLimit { bits });
    }
    if hash_to_u256(hash) > decoded.target {
        return Err(PowError::HashAboveTarget { hash: *hash, bits });
    }
    Ok(())
}

/// The expected number of hashes to find a block at `bits`: 2^256 / (target + 1), zero for
/// unusable bits. Bitcoin Core's `GetBlockProof`; chain work is the sum over the chain.
pub fn block_work(bits: u32) -> U256 {
    let Some(target) = target_from_compact(bits).valid() else {
        return U256::zero();
    };
    // 2^256 does not fit, so compute (2^256 - target - 1) / (target + 1) + 1 as Core does.
    // A valid compact target is below 2^255, so target + 1 cannot overflow.
    (!target / (target + 1)) + 1
}

/// The bits of the first block of a new retarget window: Bitcoin Core's
/// `CalculateNextWorkRequired`.
///
/// `last_bits`/`last_time` are those of the window's last block, `first_time` the time of
/// its first block, `target_timespan` the seconds a window should take. The measured
/// timespan is clamped to a quarter and four times the target; the result is capped at
/// `pow_limit`. The product is computed in 512 bits: Core's 256-bit product wraps when the
/// target times the timespan passes 2^256 (possible only for a target within a factor of
/// `4 * target_timespan` of 2^256), where this gives the intended answer, the pow limit.
pub fn next_work_required(
    last_bits: u32,
    last_time: u32,
    first_time: u32,
    target_timespan: u32,
    pow_limit: &U256,
) -> u32 {
    let target_timespan = i64::from(target_timespan);
    let actual = (i64::from(last_time) - i64::from(first_time))
        .clamp(target_timespan / 4, target_timespan * 4);
    let last_target = target_from_compact(last_bits).target;
    // The clamp keeps `actual` positive for any positive timespan.
    let product: U512 = last_target.full_mul(U256::from(actual.max(0) as u64));
    let quotient = product / U512::from(target_timespan.max(1) as u64);
    let new_target = match U256::try_from(quotient) {
        Ok(t) if t <= *pow_limit => t,
        _ => *pow_limit,
    };
    target_to_compact(new_target, false)
}

/// Difficulty relative to the target of bits 0x1d00ffff, as Bitcoin Core's RPCs show it.
pub fn difficulty(bits: u32) -> f64 {
    let mut shift = (bits >> 24) & 0xff;
    let mut diff = f64::from(0x0000_ffff) / f64::from(bits & 0x00ff_ffff);
    while shift < 29 {
        diff *= 256.0;
        shift += 1;
    }
    while shift > 29 {
        diff /= 256.0;
        shift -= 1;
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_u256(s: &str) -> U256 {
        U256::from_str_radix(s, 16).unwrap()
    }

    #[test]
    fn set_compact_vectors_from_bitcoin_core() {
        // (bits, target, negative, overflow, GetCompact(negative)) from arith_uint256_tests.
        let zero = U256::zero();
        for bits in [
            0,
            0x0012_3456,
            0x0100_3456,
            0x0200_0056,
            0x0300_0000,
            0x0400_0000,
        ] {
            assert_eq!(
                target_from_compact(bits),
                CompactTarget {
                    target: zero,
                    negative: false,
                    overflow: false
                }
            );
        }
        for bits in [
            0x0092_3456,
            0x0180_3456,
            0x0280_0056,
            0x0380_0000,
            0x0480_0000,
        ] {
            let c = target_from_compact(bits);
            assert_eq!(
                (c.target, c.negative, c.overflow),
                (zero, false, false),
                "{bits:#x}"
            );
        }
        let cases: [(u32, U256, bool, u32); 8] = [
            (0x0112_3456, U256::from(0x12), false, 0x0112_0000),
            (0x01fe_dcba, U256::from(0x7e), true, 0x01fe_0000),
            (0x0212_3456, U256::from(0x1234), false, 0x0212_3400),
            (0x0312_3456, U256::from(0x12_3456), false, 0x0312_3456),
            (0x0412_3456, U256::from(0x1234_5600u64), false, 0x0412_3456),
            (0x0492_3456, U256::from(0x1234_5600u64), true, 0x0492_3456),
            (0x0500_9234, U256::from(0x9234_0000u64), false, 0x0500_9234),
            (
                0x2012_3456,
                U256::from(0x12_3456) << 232,
                false,
                0x2012_3456,
            ),
        ];
        for (bits, target, negative, compact) in cases {
            let c = target_from_compact(bits);
            assert_eq!(
                (c.target, c.negative, c.overflow),
                (target, negative, false),
                "{bits:#x}"
            );
            assert_eq!(
                target_to_compact(c.target, c.negative),
                compact,
                "{bits:#x}"
            );
        }
        assert!(target_from_compact(0xff12_3456).overflow);
        assert_eq!(target_to_compact(U256::from(0x80), false), 0x0200_8000);
    }

    #[test]
    fn proof_of_work_checks_every_condition() {
        let limit = target_from_compact(0x1d00ffff).target;
        let one = Hash256({
            let mut b = [0; 32];
            b[0] = 1;
            b
        });
        assert_eq!(check_proof_of_work(&one, 0x1d00ffff, &limit), Ok(()));
        let negative = target_to_compact(limit, true);
        assert_eq!(
            check_proof_of_work(&one, negative, &limit),
            Err(PowError::NegativeTarget { bits: negative })
        );
        let overflow = !0x0080_0000u32;
        assert_eq!(
            check_proof_of_work(&one, overflow, &limit),
            Err(PowError::TargetOverflow { bits: overflow })
        );
        assert_eq!(
            check_proof_of_work(&one, 0, &limit),
            Err(PowError::ZeroTarget { bits: 0 })
        );
        let too_easy = target_to_compact(limit * 2, false);
        assert_eq!(
            check_proof_of_work(&one, too_easy, &limit),
            Err(PowError::TargetAboveLimit { bits: too_easy })
        );
        let mut big = [0u8; 32];
        big[29] = 1; // 2^232 > 0xffff * 2^208
        let err = check_proof_of_work(&Hash256(big), 0x1d00ffff, &limit).unwrap_err();
        assert!(matches!(err, PowError::HashAboveTarget { .. }));
        assert!(err.to_string().contains("0x1d00ffff"), "{err}");
    }

    #[test]
    fn block_work_matches_known_values() {
        // Bitcoin mainnet's genesis block adds 0x100010001 to chain work.
        assert_eq!(block_work(0x1d00ffff), U256::from(0x1_0001_0001u64));
        // Regtest's easiest target: 2^256 / (0x7fffff * 2^232 + 1) = 2.
        assert_eq!(block_work(0x207fffff), U256::from(2));
        assert_eq!(block_work(0), U256::zero());
        assert_eq!(block_work(0x0480_0001), U256::zero());
        assert_eq!(block_work(0x0100_0001), U256::zero());
        // Target 1: 2^255.
        assert_eq!(block_work(0x0101_0000), U256::one() << 255);
    }

    #[test]
    fn retarget_vectors_from_bitcoin_core() {
        let limit = hex_u256("00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        let two_weeks = 14 * 24 * 60 * 60;
        // No constraint applies (blocks 30240..32255).
        assert_eq!(
            next_work_required(0x1d00ffff, 1_262_152_739, 1_261_130_161, two_weeks, &limit),
            0x1d00d86a
        );
        // Capped at the limit (blocks 0..2015).
        assert_eq!(
            next_work_required(0x1d00ffff, 1_233_061_996, 1_231_006_505, two_weeks, &limit),
            0x1d00ffff
        );
        // Timespan clamped to a quarter (blocks 66528..68543).
        assert_eq!(
            next_work_required(0x1c05a3f4, 1_279_297_671, 1_279_008_237, two_weeks, &limit),
            0x1c0168fd
        );
        // Timespan clamped to four times.
        assert_eq!(
            next_work_required(0x1c387f6f, 1_269_211_443, 1_263_163_443, two_weeks, &limit),
            0x1d00e1fd
        );
        // A window ending before it began is clamped like a very fast one.
        assert_eq!(
            next_work_required(0x1c05a3f4, 1_000, 2_000, two_weeks, &limit),
            next_work_required(0x1c05a3f4, 1_000, 1_000, two_weeks, &limit)
        );
    }

    #[test]
    fn difficulty_as_bitcoin_core_shows_it() {
        assert_eq!(difficulty(0x1d00ffff), 1.0);
        assert!((difficulty(0x207fffff) - 4.656_542_373_906_925e-10).abs() < 1e-20);
        assert!((difficulty(0x1b0404cb) - 16_307.420_938_523_983).abs() < 1e-6);
    }
}
