//! The nonce search: sha256d of a block header for every nonce until one meets the target.
//!
//! What it does: [`SearchJob`] compresses the header's first 64 bytes once (the SHA-256
//! midstate) and precomputes every other value that does not depend on the nonce. A
//! [`Kernel`] hashes blocks of nonces: AVX-512 (16 nonces per vector), AVX2 (8), the SHA
//! extensions (several nonces in flight) or `sha2::compress256` (portable), the widest the
//! CPU has picked at run time. [`NonceSearcher`] splits a nonce range into chunks that the
//! threads of its rayon pool take in turn.
//!
//! Invariants: every kernel reports exactly the nonces the portable path reports. SIMD
//! kernels only use the top 32 bits of the hash to discard nonces; each survivor is
//! confirmed with the full `hash <= target` comparison on the portable path. No kernel
//! allocates while hashing.
//!
//! Costs: two SHA-256 compressions per nonce at most (less with the SIMD kernels, which
//! skip the rounds shared by all nonces and the last rounds of the second hash). The stop
//! flag is read every 4,096 nonces, a fraction of a millisecond on any kernel.
//!
//! Not here: rolling the extranonce. When a search returns [`SearchStatus::Exhausted`] the
//! template builder makes a new header (new merkle root) and a new job.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod digest;
mod error;
mod job;
mod kernel;
#[cfg(target_arch = "x86_64")]
mod lanes;
mod portable;
mod searcher;
mod sha256;
#[cfg(target_arch = "x86_64")]
mod sha_ni;

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};

pub use digest::hash_meets_target;
pub use error::SearchError;
pub use job::SearchJob;
pub use kernel::{Kernel, KernelKind};
pub use searcher::{NonceSearcher, SearchOutcome, SearchStatus};

/// Nonces hashed between two looks at the stop flag: about 0.1 ms with AVX-512 and
/// 0.4 ms with the portable kernel, so a new tip stops the search at once.
const BLOCK: u64 = 4096;

/// What [`scan`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanResult {
    /// The first nonce of the range that meets the target, if the scan reached it.
    pub found: Option<u32>,
    /// Nonces hashed: up to and including `found`, or the whole range, or fewer when
    /// stopped.
    pub hashes: u64,
}

/// Hashes `nonces` in order on the calling thread with `kernel` and returns the first
/// nonce that meets the job's target. Reads `stop` every 4,096 nonces and returns early
/// (with `found: None`) once it is raised.
pub fn scan(
    kernel: Kernel,
    job: &SearchJob,
    nonces: RangeInclusive<u32>,
    stop: &AtomicBool,
) -> ScanResult {
    scan_until(kernel, job, nonces, || stop.load(Ordering::Relaxed))
}

/// [`scan`] with any stop condition.
fn scan_until(
    kernel: Kernel,
    job: &SearchJob,
    nonces: RangeInclusive<u32>,
    should_stop: impl Fn() -> bool,
) -> ScanResult {
    let mut hashes = 0;
    if nonces.is_empty() {
        return ScanResult {
            found: None,
            hashes,
        };
    }
    let (first, last) = nonces.into_inner();
    let end = u64::from(last) + 1;
    let mut next = u64::from(first);
    while next < end && !should_stop() {
        let count = (end - next).min(BLOCK);
        // `next` <= `last` and `count` <= BLOCK: both fit in a u32.
        if let Some(nonce) = kernel.scan_block(job, next as u32, count as u32) {
            return ScanResult {
                found: Some(nonce),
                hashes: hashes + u64::from(nonce) - next + 1,
            };
        }
        hashes += count;
        next += count;
    }
    ScanResult {
        found: None,
        hashes,
    }
}

/// The first nonce among `base + i` for the set bits `i` of `candidates` (lowest first)
/// that really meets the target: the SIMD kernels' filter only sees the hash's top bits.
#[cfg(target_arch = "x86_64")]
fn first_confirmed(job: &SearchJob, base: u32, mut candidates: u32) -> Option<u32> {
    while candidates != 0 {
        let nonce = base.wrapping_add(candidates.trailing_zeros());
        if job.meets_target(nonce) {
            return Some(nonce);
        }
        candidates &= candidates - 1;
    }
    None
}

#[cfg(test)]
mod tests;
