//! AVX2 kernel: eight nonces per 256-bit vector.
//!
//! AVX2 has no rotate instruction, so each rotation is two shifts and an OR; the sigma
//! functions group the shifts so that each costs six shifts and five XOR/ORs.

use std::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_castsi256_ps, _mm256_cmpeq_epi32,
    _mm256_loadu_si256, _mm256_max_epu32, _mm256_movemask_ps, _mm256_or_si256, _mm256_set1_epi32,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_xor_si256,
};

use super::job::SearchJob;
use super::lanes::{sha256d_h7, Lanes};
use super::{first_confirmed, portable};

/// Proof that this CPU has AVX2: only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn detect() -> Option<Self> {
        is_x86_feature_detected!("avx2").then_some(Self(()))
    }

    /// The first nonce in `start..start + count` that meets the job's target.
    pub(crate) fn scan_block(self, job: &SearchJob, start: u32, count: u32) -> Option<u32> {
        // SAFETY: `self` exists only if `detect` found AVX2 on this CPU.
        unsafe { scan_block(job, start, count) }
    }
}

/// Byte shuffle that reverses the bytes of every 32-bit lane.
const BSWAP: [u8; 32] = {
    let mut m = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        m[i] = (i % 16 - i % 4 + 3 - i % 4) as u8;
        i += 1;
    }
    m
};

const LANE_INDEX: [u32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

#[target_feature(enable = "avx2")]
unsafe fn scan_block(job: &SearchJob, start: u32, count: u32) -> Option<u32> {
    let lanes = __m256i::LANES as u32;
    let vectors = count / lanes;
    let bswap = _mm256_loadu_si256(BSWAP.as_ptr().cast());
    let top = _mm256_set1_epi32(job.simd.target_top as i32);
    let step = _mm256_set1_epi32(lanes as i32);
    let mut nonces = _mm256_add_epi32(
        _mm256_set1_epi32(start as i32),
        _mm256_loadu_si256(LANE_INDEX.as_ptr().cast()),
    );
    for v in 0..vectors {
        let h7 = sha256d_h7(&job.simd, _mm256_shuffle_epi8(nonces, bswap));
        // H7's bytes reversed are the hash's top 32 bits; unsigned x <= top iff max(x, top) == top.
        let high = _mm256_shuffle_epi8(h7, bswap);
        let le = _mm256_cmpeq_epi32(_mm256_max_epu32(high, top), top);
        let candidates = _mm256_movemask_ps(_mm256_castsi256_ps(le)) as u32;
        if candidates != 0 {
            let base = start.wrapping_add(v * lanes);
            if let Some(nonce) = first_confirmed(job, base, candidates) {
                return Some(nonce);
            }
        }
        nonces = _mm256_add_epi32(nonces, step);
    }
    let done = vectors * lanes;
    portable::scan_block(job, start.wrapping_add(done), count - done)
}

/// x rotated right by R bits, with L = 32 - R (AVX2 has no rotate).
#[inline(always)]
unsafe fn rotr<const R: i32, const L: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<R>(x), _mm256_slli_epi32::<L>(x))
}

#[inline(always)]
unsafe fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
    _mm256_xor_si256(_mm256_xor_si256(a, b), c)
}

// SAFETY: every method is inlined into `scan_block`, which enables AVX2, and that only
// runs after `Avx2::detect`.
unsafe impl Lanes for __m256i {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(x: u32) -> Self {
        _mm256_set1_epi32(x as i32)
    }

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        _mm256_add_epi32(self, other)
    }

    #[inline(always)]
    unsafe fn big_sigma0(self) -> Self {
        xor3(
            rotr::<2, 30>(self),
            rotr::<13, 19>(self),
            rotr::<22, 10>(self),
        )
    }

    #[inline(always)]
    unsafe fn big_sigma1(self) -> Self {
        xor3(
            rotr::<6, 26>(self),
            rotr::<11, 21>(self),
            rotr::<25, 7>(self),
        )
    }

    #[inline(always)]
    unsafe fn small_sigma0(self) -> Self {
        xor3(
            rotr::<7, 25>(self),
            rotr::<18, 14>(self),
            _mm256_srli_epi32::<3>(self),
        )
    }

    #[inline(always)]
    unsafe fn small_sigma1(self) -> Self {
        xor3(
            rotr::<17, 15>(self),
            rotr::<19, 13>(self),
            _mm256_srli_epi32::<10>(self),
        )
    }

    #[inline(always)]
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self {
        // g ^ (e & (f ^ g)): three operations instead of four.
        _mm256_xor_si256(g, _mm256_and_si256(e, _mm256_xor_si256(f, g)))
    }

    #[inline(always)]
    unsafe fn maj(a: Self, b: Self, c: Self) -> Self {
        // (a & b) | (c & (a | b))
        _mm256_or_si256(
            _mm256_and_si256(a, b),
            _mm256_and_si256(c, _mm256_or_si256(a, b)),
        )
    }
}
