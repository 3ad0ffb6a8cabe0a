//! The portable kernel: `sha2::compress256` from the job's midstate, one nonce at a time.
//!
//! Two compressions per nonce (the header's second block, then the digest's only block),
//! no allocation. `sha2` picks its own fastest backend (SHA extensions where present), so
//! this is also the reference every SIMD kernel is checked against.

use super::digest::{hash_meets_target, sha256d};
use super::job::SearchJob;

/// The first nonce in `start..start + count` that meets the target. The caller keeps the
/// range inside the u32 nonce space.
pub(crate) fn scan_block(job: &SearchJob, start: u32, count: u32) -> Option<u32> {
    (0..count)
        .map(|i| start.wrapping_add(i))
        .find(|&nonce| hash_meets_target(&sha256d(&job.midstate, &job.block2, nonce), job.target()))
}
