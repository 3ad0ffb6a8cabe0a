//! SHA extensions kernel: several nonces in flight.
//!
//! `sha256rnds2` does two rounds but takes several cycles before its result can feed the
//! next pair, so one message at a time leaves the unit mostly idle. Hashing [`STREAMS`]
//! nonces side by side fills those cycles. Rounds 0 and 1 of the header's second block
//! are taken from the job, and the second hash skips its last two rounds, which do not
//! change H7.

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi32, _mm_insert_epi32, _mm_loadu_si128,
    _mm_set_epi32, _mm_setzero_si128, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32,
    _mm_sha256rnds2_epu32, _mm_shuffle_epi32, _mm_unpackhi_epi64, _mm_unpacklo_epi64,
};

use super::job::{SearchJob, SimdConsts};
use super::sha256::{DIGEST_BITS, HEADER_BITS, IV, K, PAD};
use super::{first_confirmed, portable};

/// Nonces hashed side by side.
const STREAMS: usize = 4;

/// Proof that this CPU has the SHA extensions and SSE4.1: only [`ShaNi::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShaNi(());

impl ShaNi {
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("sha") && is_x86_feature_detected!("sse4.1")).then_some(Self(()))
    }

    /// The first nonce in `start..start + count` that meets the job's target.
    pub(crate) fn scan_block(self, job: &SearchJob, start: u32, count: u32) -> Option<u32> {
        // SAFETY: `self` exists only if `detect` found both features on this CPU.
        unsafe { scan_block(job, start, count) }
    }
}

type Streams = [__m128i; STREAMS];

/// Packs state words a..h into the (ABEF, CDGH) register pair `sha256rnds2` works on.
#[inline(always)]
unsafe fn pack(s: &[u32; 8]) -> (__m128i, __m128i) {
    let w = |i: usize| s[i] as i32;
    (
        _mm_set_epi32(w(0), w(1), w(4), w(5)),
        _mm_set_epi32(w(2), w(3), w(6), w(7)),
    )
}

/// Message words in lane order (lane 0 = first word).
#[inline(always)]
unsafe fn msg(w: [u32; 4]) -> __m128i {
    _mm_set_epi32(w[3] as i32, w[2] as i32, w[1] as i32, w[0] as i32)
}

#[inline(always)]
unsafe fn k(group: usize) -> __m128i {
    _mm_loadu_si128(K[group * 4..].as_ptr().cast())
}

/// Two rounds on every stream with K + W in the low two lanes of `wk`.
#[inline(always)]
unsafe fn rounds2(abef: &mut Streams, cdgh: &mut Streams, wk: &Streams) {
    for i in 0..STREAMS {
        let next = _mm_sha256rnds2_epu32(cdgh[i], abef[i], wk[i]);
        cdgh[i] = abef[i];
        abef[i] = next;
    }
}

/// Four rounds on every stream with K + W in `wk`.
#[inline(always)]
unsafe fn rounds4(abef: &mut Streams, cdgh: &mut Streams, wk: &Streams) {
    rounds2(abef, cdgh, wk);
    let high = wk.map(|v| _mm_shuffle_epi32::<0x0e>(v));
    rounds2(abef, cdgh, &high);
}

/// The next four schedule words from the previous sixteen (`m0` oldest).
#[inline(always)]
unsafe fn schedule(m0: &Streams, m1: &Streams, m2: &Streams, m3: &Streams) -> Streams {
    std::array::from_fn(|i| {
        let t = _mm_add_epi32(
            _mm_sha256msg1_epu32(m0[i], m1[i]),
            _mm_alignr_epi8::<4>(m3[i], m2[i]),
        );
        _mm_sha256msg2_epu32(t, m3[i])
    })
}

#[inline(always)]
unsafe fn add_k(m: &Streams, group: usize) -> Streams {
    let k = k(group);
    m.map(|v| _mm_add_epi32(v, k))
}

/// Rounds 16..63 (or 16..61 when `skip_last_pair`), the schedule computed on the way.
#[inline(always)]
unsafe fn rounds_16_to_end(
    abef: &mut Streams,
    cdgh: &mut Streams,
    mut m: [Streams; 4],
    skip_last_pair: bool,
) {
    for group in 4..16 {
        let next = schedule(&m[0], &m[1], &m[2], &m[3]);
        m = [m[1], m[2], m[3], next];
        let wk = add_k(&next, group);
        if group == 15 && skip_last_pair {
            rounds2(abef, cdgh, &wk);
        } else {
            rounds4(abef, cdgh, &wk);
        }
    }
}

/// H7 of sha256d(header) for each of `xs` (nonce words, i.e. byte-swapped nonces).
#[inline(always)]
unsafe fn sha256d_h7(c: &SimdConsts, xs: [u32; STREAMS]) -> [u32; STREAMS] {
    // First hash, the header's second block, from the state after rounds 0 and 1.
    let (abef2, cdgh2) = pack(&c.state2);
    let mut abef = [abef2; STREAMS];
    let mut cdgh = [cdgh2; STREAMS];
    let m0_fixed = msg([c.tail[0], c.tail[1], c.tail[2], 0]);
    let m0: Streams = xs.map(|x| _mm_insert_epi32::<3>(m0_fixed, x as i32));
    let m1 = [msg([PAD, 0, 0, 0]); STREAMS];
    let m2 = [msg([0, 0, 0, 0]); STREAMS];
    let m3 = [msg([0, 0, 0, HEADER_BITS]); STREAMS];
    // Rounds 2 and 3 take the high half of group 0.
    let wk0 = add_k(&m0, 0).map(|v| _mm_shuffle_epi32::<0x0e>(v));
    rounds2(&mut abef, &mut cdgh, &wk0);
    rounds4(&mut abef, &mut cdgh, &add_k(&m1, 1));
    rounds4(&mut abef, &mut cdgh, &add_k(&m2, 2));
    rounds4(&mut abef, &mut cdgh, &add_k(&m3, 3));
    rounds_16_to_end(&mut abef, &mut cdgh, [m0, m1, m2, m3], false);

    let (mid_abef, mid_cdgh) = pack(&c.midstate);
    // Second hash: its message is the digest, a..h in order, then padding and length.
    let mut m0 = [_mm_setzero_si128(); STREAMS];
    let mut m1 = m0;
    for i in 0..STREAMS {
        let a = _mm_add_epi32(abef[i], mid_abef);
        let c = _mm_add_epi32(cdgh[i], mid_cdgh);
        // (B, A, D, C) and (F, E, H, G) from the high and low halves, then swap pairs.
        m0[i] = _mm_shuffle_epi32::<0xb1>(_mm_unpackhi_epi64(a, c));
        m1[i] = _mm_shuffle_epi32::<0xb1>(_mm_unpacklo_epi64(a, c));
    }
    let m2 = [msg([PAD, 0, 0, 0]); STREAMS];
    let m3 = [msg([0, 0, 0, DIGEST_BITS]); STREAMS];
    let (iv_abef, iv_cdgh) = pack(&IV);
    let mut abef = [iv_abef; STREAMS];
    let mut cdgh = [iv_cdgh; STREAMS];
    rounds4(&mut abef, &mut cdgh, &add_k(&m0, 0));
    rounds4(&mut abef, &mut cdgh, &add_k(&m1, 1));
    rounds4(&mut abef, &mut cdgh, &add_k(&m2, 2));
    rounds4(&mut abef, &mut cdgh, &add_k(&m3, 3));
    rounds_16_to_end(&mut abef, &mut cdgh, [m0, m1, m2, m3], true);
    // After 62 rounds f (lane 0 of ABEF) is what h becomes after 64.
    abef.map(|v| (_mm_extract_epi32::<0>(v) as u32).wrapping_add(IV[7]))
}

#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
unsafe fn scan_block(job: &SearchJob, start: u32, count: u32) -> Option<u32> {
    let lanes = STREAMS as u32;
    let groups = count / lanes;
    for g in 0..groups {
        let base = start.wrapping_add(g * lanes);
        let xs: [u32; STREAMS] = std::array::from_fn(|i| base.wrapping_add(i as u32).swap_bytes());
        let h7 = sha256d_h7(&job.simd, xs);
        let mut candidates = 0u32;
        for (i, h) in h7.iter().enumerate() {
            // H7's bytes reversed are the hash's top 32 bits as an integer.
            if h.swap_bytes() <= job.simd.target_top {
                candidates |= 1 << i;
            }
        }
        if candidates != 0 {
            if let Some(nonce) = first_confirmed(job, base, candidates) {
                return Some(nonce);
            }
        }
    }
    let done = groups * lanes;
    portable::scan_block(job, start.wrapping_add(done), count - done)
}
