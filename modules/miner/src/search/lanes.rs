//! Lane-parallel sha256d of a header for one vector of nonces, shared by the AVX2 and
//! AVX-512 kernels.
//!
//! Each vector lane holds one nonce. Everything that is the same in every lane comes from
//! [`SimdConsts`] or from compile-time constants: rounds 0..2 of the header's second block,
//! most of round[3], the padding words and the schedule terms built from them, and the
//! second hash's first round and padding. The second hash stops once its last state word
//! H7 is known (after round[60]): H7 holds the most significant 32 bits of the hash read as
//! a little-endian integer, which is enough to discard almost every nonce; survivors are
//! confirmed by the portable path.

use super::job::SimdConsts;
use super::sha256::{self, DIGEST_BITS, HEADER_BITS, IV, K, PAD};

/// A vector of 32-bit lanes and the SHA-256 operations on it.
///
/// # Safety
///
/// Implementations use CPU-specific intrinsics: every method may only run on a CPU that
/// has the implementation's target features, and is meant to be inlined into a function
/// compiled with them.
pub(crate) unsafe trait Lanes: Copy {
    /// Number of lanes.
    const LANES: usize;
    unsafe fn splat(x: u32) -> Self;
    unsafe fn add(self, other: Self) -> Self;
    unsafe fn big_sigma0(self) -> Self;
    unsafe fn big_sigma1(self) -> Self;
    unsafe fn small_sigma0(self) -> Self;
    unsafe fn small_sigma1(self) -> Self;
    unsafe fn ch(e: Self, f: Self, g: Self) -> Self;
    unsafe fn maj(a: Self, b: Self, c: Self) -> Self;
}

/// K[t] + W[t] for the rounds of the header's second block whose W is fixed padding.
const BLOCK2_KW: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 4;
    while t < 16 {
        kw[t] = K[t];
        t += 1;
    }
    kw[4] = K[4].wrapping_add(PAD);
    kw[15] = K[15].wrapping_add(HEADER_BITS);
    kw
};

/// K[t] + W[t] for the second hash's rounds 8..15 (padding and length).
const HASH2_KW: [u32; 16] = {
    let mut kw = [0u32; 16];
    let mut t = 8;
    while t < 16 {
        kw[t] = K[t];
        t += 1;
    }
    kw[8] = K[8].wrapping_add(PAD);
    kw[15] = K[15].wrapping_add(DIGEST_BITS);
    kw
};

/// The second hash's round[0] from the IV, less its message word: (a1, e1).
const HASH2_ROUND0: (u32, u32) = {
    let p = sha256::t1_without_w(&IV, 0);
    (p.wrapping_add(sha256::t2(&IV)), IV[3].wrapping_add(p))
};

#[inline(always)]
unsafe fn round<V: Lanes>(s: &mut [V; 8], kw: V) {
    let [a, b, c, d, e, f, g, h] = *s;
    // h + kw does not wait for e, so the chain through e stays short.
    let t1 = h.add(kw).add(V::ch(e, f, g)).add(e.big_sigma1());
    let t2 = a.big_sigma0().add(V::maj(a, b, c));
    *s = [t1.add(t2), a, b, c, d.add(t1), e, f, g];
}

/// A round that only computes the new `e`; the new `a` slot keeps a stale value that the
/// remaining e-only rounds never read.
#[inline(always)]
unsafe fn round_e<V: Lanes>(s: &mut [V; 8], kw: V) {
    let [a, b, c, d, e, f, g, h] = *s;
    let t1 = h.add(kw).add(V::ch(e, f, g)).add(e.big_sigma1());
    *s = [a, a, b, c, d.add(t1), e, f, g];
}

/// W[t] from the general schedule recurrence.
#[inline(always)]
unsafe fn expand<V: Lanes>(w: &[V; 64], t: usize) -> V {
    w[t - 2]
        .small_sigma1()
        .add(w[t - 7])
        .add(w[t - 15].small_sigma0())
        .add(w[t - 16])
}

/// Rounds whose K + W is a compile-time constant from `$table`.
macro_rules! const_rounds {
    ($s:ident, $table:ident, $($t:literal)*) => {
        $( round(&mut $s, V::splat($table[$t])); )*
    };
}

/// Rounds whose W comes from the general schedule, computed just before it is used.
macro_rules! schedule_rounds {
    ($s:ident, $w:ident, $round:ident, $($t:literal)*) => {
        $(
            $w[$t] = expand(&$w, $t);
            $round(&mut $s, V::splat(K[$t]).add($w[$t]));
        )*
    };
}

/// Rounds with a message word already in `$w`.
macro_rules! word_rounds {
    ($s:ident, $w:ident, $($t:literal)*) => {
        $( round(&mut $s, V::splat(K[$t]).add($w[$t])); )*
    };
}

/// H7 of sha256d(header) for every lane, where `x` holds the nonce word W3 of each lane
/// (the little-endian nonce bytes read big-endian, i.e. byte-swapped).
///
/// # Safety
///
/// The CPU must have `V`'s target features.
#[inline(always)]
pub(crate) unsafe fn sha256d_h7<V: Lanes>(c: &SimdConsts, x: V) -> V {
    let sp = |v: u32| V::splat(v);

    // First hash, the header's second block, from the state after round[3].
    let s3 = c.state3;
    let mut s = [
        sp(c.a4).add(x),
        sp(s3[0]),
        sp(s3[1]),
        sp(s3[2]),
        sp(c.e4).add(x),
        sp(s3[4]),
        sp(s3[5]),
        sp(s3[6]),
    ];
    const_rounds!(s, BLOCK2_KW, 4 5 6 7 8 9 10 11 12 13 14 15);
    round(&mut s, sp(c.kw16));
    round(&mut s, sp(c.kw17));

    let mut w = [sp(0); 64];
    w[16] = sp(c.w16);
    w[17] = sp(c.w17);
    // W4..W14 are the padding and zeros, so most early schedule terms vanish.
    w[18] = sp(c.w18).add(x.small_sigma0());
    w[19] = sp(c.w19).add(x);
    word_rounds!(s, w, 18 19);
    w[20] = w[18].small_sigma1().add(sp(PAD));
    w[21] = w[19].small_sigma1();
    w[22] = w[20].small_sigma1().add(sp(HEADER_BITS));
    w[23] = w[21].small_sigma1().add(w[16]);
    w[24] = w[22].small_sigma1().add(w[17]);
    w[25] = w[23].small_sigma1().add(w[18]);
    w[26] = w[24].small_sigma1().add(w[19]);
    w[27] = w[25].small_sigma1().add(w[20]);
    w[28] = w[26].small_sigma1().add(w[21]);
    w[29] = w[27].small_sigma1().add(w[22]);
    w[30] = w[28]
        .small_sigma1()
        .add(w[23])
        .add(sp(const { sha256::small_sigma0(HEADER_BITS) }));
    w[31] = w[29].small_sigma1().add(w[24]).add(sp(c.w31));
    w[32] = w[30].small_sigma1().add(w[25]).add(sp(c.w32));
    word_rounds!(s, w, 20 21 22 23 24 25 26 27 28 29 30 31 32);
    schedule_rounds!(s, w, round,
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
        49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);

    // Second hash: the digest is its message W0..W7, then padding and length.
    let mut w = [sp(0); 64];
    for i in 0..8 {
        w[i] = s[i].add(sp(c.midstate[i]));
    }
    let mut s = [
        sp(HASH2_ROUND0.0).add(w[0]),
        sp(IV[0]),
        sp(IV[1]),
        sp(IV[2]),
        sp(HASH2_ROUND0.1).add(w[0]),
        sp(IV[4]),
        sp(IV[5]),
        sp(IV[6]),
    ];
    word_rounds!(s, w, 1 2 3 4 5 6 7);
    const_rounds!(s, HASH2_KW, 8 9 10 11 12 13 14 15);
    // W8 = padding, W9..W14 = 0, W15 = 256.
    w[16] = w[1].small_sigma0().add(w[0]);
    w[17] = w[2]
        .small_sigma0()
        .add(w[1])
        .add(sp(const { sha256::small_sigma1(DIGEST_BITS) }));
    w[18] = w[16].small_sigma1().add(w[3].small_sigma0()).add(w[2]);
    w[19] = w[17].small_sigma1().add(w[4].small_sigma0()).add(w[3]);
    w[20] = w[18].small_sigma1().add(w[5].small_sigma0()).add(w[4]);
    w[21] = w[19].small_sigma1().add(w[6].small_sigma0()).add(w[5]);
    w[22] = w[20]
        .small_sigma1()
        .add(w[7].small_sigma0())
        .add(w[6])
        .add(sp(DIGEST_BITS));
    w[23] = w[21]
        .small_sigma1()
        .add(w[16])
        .add(w[7])
        .add(sp(const { sha256::small_sigma0(PAD) }));
    w[24] = w[22].small_sigma1().add(w[17]).add(sp(PAD));
    w[25] = w[23].small_sigma1().add(w[18]);
    w[26] = w[24].small_sigma1().add(w[19]);
    w[27] = w[25].small_sigma1().add(w[20]);
    w[28] = w[26].small_sigma1().add(w[21]);
    w[29] = w[27].small_sigma1().add(w[22]);
    w[30] = w[28]
        .small_sigma1()
        .add(w[23])
        .add(sp(const { sha256::small_sigma0(DIGEST_BITS) }));
    w[31] = w[29]
        .small_sigma1()
        .add(w[24])
        .add(w[16].small_sigma0())
        .add(sp(DIGEST_BITS));
    word_rounds!(s, w,
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    schedule_rounds!(s, w, round,
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47
        48 49 50 51 52 53 54 55 56);
    // Rounds 57..60 only need e: e after round[60] is h after round[63].
    schedule_rounds!(s, w, round_e, 57 58 59 60);
    s[4].add(sp(IV[7]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::job::SearchJob;
    use rand::{Rng, SeedableRng};

    /// The scalar lane type: checks the hoisting arithmetic on any CPU.
    #[derive(Clone, Copy)]
    struct Scalar(u32);

    // SAFETY: plain integer arithmetic, no target features.
    unsafe impl Lanes for Scalar {
        const LANES: usize = 1;
        unsafe fn splat(x: u32) -> Self {
            Scalar(x)
        }
        unsafe fn add(self, other: Self) -> Self {
            Scalar(self.0.wrapping_add(other.0))
        }
        unsafe fn big_sigma0(self) -> Self {
            Scalar(sha256::big_sigma0(self.0))
        }
        unsafe fn big_sigma1(self) -> Self {
            Scalar(sha256::big_sigma1(self.0))
        }
        unsafe fn small_sigma0(self) -> Self {
            Scalar(sha256::small_sigma0(self.0))
        }
        unsafe fn small_sigma1(self) -> Self {
            Scalar(sha256::small_sigma1(self.0))
        }
        unsafe fn ch(e: Self, f: Self, g: Self) -> Self {
            Scalar(sha256::ch(e.0, f.0, g.0))
        }
        unsafe fn maj(a: Self, b: Self, c: Self) -> Self {
            Scalar(sha256::maj(a.0, b.0, c.0))
        }
    }

    #[test]
    fn hoisted_h7_matches_the_full_hash() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..256 {
            let header: [u8; 80] = std::array::from_fn(|_| rng.gen());
            let job = SearchJob::new(&header, &[0; 32]);
            let nonce: u32 = rng.gen();
            // SAFETY: `Scalar` needs no target feature.
            let h7 = unsafe { sha256d_h7(&job.simd, Scalar(nonce.swap_bytes())) }.0;
            let hash = job.hash(nonce);
            assert_eq!(h7.to_be_bytes(), hash[28..32]);
        }
    }
}
