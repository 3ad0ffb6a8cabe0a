//! sha256d of a header from its midstate, and the comparison of a hash with the target:
//! what a [`super::SearchJob`] and the portable kernel both need, in a file of its own so
//! that neither of theirs imports the other.

use super::sha256::{DIGEST_BITS, IV};

/// Offset of the nonce inside the header's second block.
const NONCE_IN_BLOCK: usize = 12;

/// sha256d of the header whose first 64 bytes compress to `midstate` and whose padded
/// second block (nonce bytes aside) is `block2`, with `nonce`. Two compressions, no
/// allocation.
#[inline]
pub(crate) fn sha256d(midstate: &[u32; 8], block2: &[u8; 64], nonce: u32) -> [u8; 32] {
    let mut block = *block2;
    block[NONCE_IN_BLOCK..NONCE_IN_BLOCK + 4].copy_from_slice(&nonce.to_le_bytes());
    let mut state = *midstate;
    sha2::compress256(&mut state, &[block.into()]);

    let mut second = [0u8; 64];
    for (chunk, word) in second.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    second[32] = 0x80;
    second[56..].copy_from_slice(&u64::from(DIGEST_BITS).to_be_bytes());
    let mut state = IV;
    sha2::compress256(&mut state, &[second.into()]);

    let mut hash = [0u8; 32];
    for (chunk, word) in hash.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    hash
}

/// Whether `hash` is at most `target`, both read as 256-bit little-endian integers.
#[inline]
pub fn hash_meets_target(hash: &[u8; 32], target: &[u8; 32]) -> bool {
    hash.iter().rev().cmp(target.iter().rev()).is_le()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_reads_little_endian() {
        let mut hash = [0u8; 32];
        let mut target = [0u8; 32];
        hash[0] = 0xff; // least significant byte
        target[1] = 0x01;
        assert!(hash_meets_target(&hash, &target));
        hash[31] = 1; // most significant byte
        assert!(!hash_meets_target(&hash, &target));
        assert!(hash_meets_target(&target, &target));
    }
}
