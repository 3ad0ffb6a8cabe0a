//! One block template's search input: the header, the target, and everything the kernels
//! can compute once because it does not depend on the nonce.

use super::digest::{self, hash_meets_target};
use super::sha256::{self, HEADER_BITS};

/// Byte offset of the nonce in a header.
pub(crate) const NONCE_OFFSET: usize = 76;

/// A header prepared for the nonce search.
///
/// The header's first 64 bytes (version, previous hash, most of the merkle root) are
/// compressed once here (the SHA-256 midstate); the kernels then only hash the 16-byte
/// tail with each nonce and hash the digest again. Building a job costs a few microseconds;
/// build a new one whenever the header changes apart from the nonce (new extranonce, time,
/// or tip).
#[derive(Clone, Debug)]
pub struct SearchJob {
    header: [u8; 80],
    target: [u8; 32],
    /// State after compressing the header's first 64 bytes.
    pub(crate) midstate: [u32; 8],
    /// The header's second block with padding, nonce bytes zero (portable path).
    pub(crate) block2: [u8; 64],
    #[cfg(target_arch = "x86_64")]
    pub(crate) simd: SimdConsts,
}

/// Values shared by every nonce of a job, in the form the SIMD kernels use.
///
/// In the header's second block the message words are W0..W2 = the end of the merkle
/// root, the time and the bits, W3 = the nonce, W4 = padding, W5..W14 = 0, W15 = 640.
/// Rounds 0..2 therefore never change; round[3] only adds the nonce word.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Debug)]
pub(crate) struct SimdConsts {
    /// A copy of the job's midstate, so that the kernels read one struct.
    pub(crate) midstate: [u32; 8],
    /// W0..W2 of the second block.
    pub(crate) tail: [u32; 3],
    /// State after rounds 0 and 1 of the second block (the SHA extensions work in pairs).
    pub(crate) state2: [u32; 8],
    /// State after rounds 0..2 of the second block.
    pub(crate) state3: [u32; 8],
    /// `a` after round[3], less the nonce word.
    pub(crate) a4: u32,
    /// `e` after round[3], less the nonce word.
    pub(crate) e4: u32,
    /// W16 and W17 (nonce-free) and K16 + W16, K17 + W17.
    pub(crate) w16: u32,
    pub(crate) w17: u32,
    pub(crate) kw16: u32,
    pub(crate) kw17: u32,
    /// W18 less σ0(W3), W19 less W3.
    pub(crate) w18: u32,
    pub(crate) w19: u32,
    /// The nonce-free terms of W31 (σ0(W16) + W15) and W32 (σ0(W17) + W16).
    pub(crate) w31: u32,
    pub(crate) w32: u32,
    /// The most significant 32 bits of the target read as a little-endian integer.
    pub(crate) target_top: u32,
}

#[cfg(target_arch = "x86_64")]
impl SimdConsts {
    fn new(midstate: [u32; 8], header: &[u8; 80], target: &[u8; 32]) -> Self {
        use super::sha256::{small_sigma0, small_sigma1, t1_without_w, t2, K, PAD};

        let tail: [u32; 3] = sha256::words(&header[64..76]);
        let s1 = sha256::round(midstate, 0, tail[0]);
        let state2 = sha256::round(s1, 1, tail[1]);
        let state3 = sha256::round(state2, 2, tail[2]);
        let p3 = t1_without_w(&state3, 3);

        // Message schedule terms that only involve W0..W2 and the fixed padding words.
        let w16 = small_sigma0(tail[1]).wrapping_add(tail[0]);
        let w17 = small_sigma1(HEADER_BITS)
            .wrapping_add(small_sigma0(tail[2]))
            .wrapping_add(tail[1]);
        let top: [u8; 4] = target[28..].try_into().expect("a target has 32 bytes");
        Self {
            midstate,
            tail,
            state2,
            state3,
            a4: p3.wrapping_add(t2(&state3)),
            e4: state3[3].wrapping_add(p3),
            w16,
            w17,
            kw16: K[16].wrapping_add(w16),
            kw17: K[17].wrapping_add(w17),
            w18: small_sigma1(w16).wrapping_add(tail[2]),
            w19: small_sigma1(w17).wrapping_add(small_sigma0(PAD)),
            w31: small_sigma0(w16).wrapping_add(HEADER_BITS),
            w32: small_sigma0(w17).wrapping_add(w16),
            target_top: u32::from_le_bytes(top),
        }
    }
}

impl SearchJob {
    /// Prepares `header` (its nonce bytes are ignored) for a search against `target`.
    ///
    /// `target` is the 256-bit target as 32 little-endian bytes, the way Bitcoin compares
    /// hashes: a nonce qualifies when sha256d(header), read as a little-endian integer, is
    /// at most `target`.
    pub fn new(header: &[u8; 80], target: &[u8; 32]) -> Self {
        let mut header = *header;
        header[NONCE_OFFSET..].fill(0);

        let mut midstate = sha256::IV;
        let first: [u8; 64] = header[..64]
            .try_into()
            .expect("an 80-byte header has 64 bytes");
        sha2::compress256(&mut midstate, &[first.into()]);

        let mut block2 = [0u8; 64];
        block2[..16].copy_from_slice(&header[64..]);
        block2[16] = 0x80;
        block2[56..].copy_from_slice(&u64::from(HEADER_BITS).to_be_bytes());

        Self {
            #[cfg(target_arch = "x86_64")]
            simd: SimdConsts::new(midstate, &header, target),
            header,
            target: *target,
            midstate,
            block2,
        }
    }

    /// The header with its nonce field zeroed.
    pub fn header(&self) -> &[u8; 80] {
        &self.header
    }

    /// The target, 32 little-endian bytes.
    pub fn target(&self) -> &[u8; 32] {
        &self.target
    }

    /// The header with `nonce` written in its nonce field.
    pub fn header_with_nonce(&self, nonce: u32) -> [u8; 80] {
        let mut header = self.header;
        header[NONCE_OFFSET..].copy_from_slice(&nonce.to_le_bytes());
        header
    }

    /// sha256d of the header with `nonce`, in the byte order SHA-256 produces (the
    /// little-endian integer that is compared with the target).
    pub fn hash(&self, nonce: u32) -> [u8; 32] {
        digest::sha256d(&self.midstate, &self.block2, nonce)
    }

    /// Whether `nonce` gives a hash at or below the target. This is the final word on
    /// every nonce a kernel reports.
    pub fn meets_target(&self, nonce: u32) -> bool {
        hash_meets_target(&self.hash(nonce), &self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use sha2::{Digest, Sha256};

    #[test]
    fn hash_matches_sha2_double_sha256() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..64 {
            let header: [u8; 80] = std::array::from_fn(|_| rng.gen());
            let job = SearchJob::new(&header, &[0xff; 32]);
            let nonce: u32 = rng.gen();
            let full = job.header_with_nonce(nonce);
            let expected: [u8; 32] = Sha256::digest(Sha256::digest(full)).into();
            assert_eq!(job.hash(nonce), expected);
        }
    }

    #[test]
    fn nonce_bytes_of_the_input_header_are_ignored() {
        let mut header = [7u8; 80];
        let a = SearchJob::new(&header, &[0xff; 32]);
        header[79] = 1;
        let b = SearchJob::new(&header, &[0xff; 32]);
        assert_eq!(a.header(), b.header());
        assert_eq!(a.hash(5), b.hash(5));
    }
}
