//! The portable kernel: `sha2::compress256` from the job's midstate, one nonce at a time.
//!
//! Two compressions per nonce (the header's second block, then the digest's only block),
//! no allocation. `sha2` picks its own fastest backend (SHA extensions where present), so
//! this is also the reference every SIMD kernel is checked against.

use super::job::{hash_meets_target, SearchJob};
use super::sha256::{DIGEST_BITS, IV};

/// Offset of the nonce inside the header's second block.
const NONCE_IN_BLOCK: usize = 12;

/// sha256d of the job's header with `nonce`.
pub(crate) fn sha256d(job: &SearchJob, nonce: u32) -> [u8; 32] {
    let mut block = job.block2;
    block[NONCE_IN_BLOCK..NONCE_IN_BLOCK + 4].copy_from_slice(&nonce.to_le_bytes());
    let mut state = job.midstate;
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

/// The first nonce in `start..start + count` that meets the target. The caller keeps the
/// range inside the u32 nonce space.
pub(crate) fn scan_block(job: &SearchJob, start: u32, count: u32) -> Option<u32> {
    (0..count)
        .map(|i| start.wrapping_add(i))
        .find(|&nonce| hash_meets_target(&sha256d(job, nonce), job.target()))
}
