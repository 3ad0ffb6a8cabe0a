//! Scalar SHA-256 pieces (FIPS 180-4) used to precompute what every nonce shares.
//!
//! The hashing itself is done by `sha2` (portable path) or by the SIMD kernels; these
//! `const fn`s only run once per job, or at compile time for the fixed padding words.
#![cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, reason = "only the x86-64 SIMD kernels precompute rounds")
)]

/// Initial hash value H(0).
pub(crate) const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Round constants.
pub(crate) const K: [u32; 64] = [
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
];

/// The padding word that follows the message (a single 1 bit).
pub(crate) const PAD: u32 = 0x8000_0000;

/// Bit length of an 80-byte header: the last word of the header's second block.
pub(crate) const HEADER_BITS: u32 = 80 * 8;

/// Bit length of a 32-byte digest: the last word of the second hash's only block.
pub(crate) const DIGEST_BITS: u32 = 32 * 8;

pub(crate) const fn big_sigma0(x: u32) -> u32 {
    x.rotate_right(2) ^ x.rotate_right(13) ^ x.rotate_right(22)
}

pub(crate) const fn big_sigma1(x: u32) -> u32 {
    x.rotate_right(6) ^ x.rotate_right(11) ^ x.rotate_right(25)
}

pub(crate) const fn small_sigma0(x: u32) -> u32 {
    x.rotate_right(7) ^ x.rotate_right(18) ^ (x >> 3)
}

pub(crate) const fn small_sigma1(x: u32) -> u32 {
    x.rotate_right(17) ^ x.rotate_right(19) ^ (x >> 10)
}

pub(crate) const fn ch(e: u32, f: u32, g: u32) -> u32 {
    (e & f) ^ (!e & g)
}

pub(crate) const fn maj(a: u32, b: u32, c: u32) -> u32 {
    (a & b) ^ (a & c) ^ (b & c)
}

/// The part of round `t`'s T1 that does not involve the message word: h + Σ1(e) + Ch + K[t].
pub(crate) const fn t1_without_w(s: &[u32; 8], t: usize) -> u32 {
    s[7].wrapping_add(big_sigma1(s[4]))
        .wrapping_add(ch(s[4], s[5], s[6]))
        .wrapping_add(K[t])
}

/// T2 of a round: Σ0(a) + Maj(a, b, c).
pub(crate) const fn t2(s: &[u32; 8]) -> u32 {
    big_sigma0(s[0]).wrapping_add(maj(s[0], s[1], s[2]))
}

/// Round `t` with message word `w`.
pub(crate) const fn round(s: [u32; 8], t: usize, w: u32) -> [u32; 8] {
    let t1 = t1_without_w(&s, t).wrapping_add(w);
    let t2 = t2(&s);
    [
        t1.wrapping_add(t2),
        s[0],
        s[1],
        s[2],
        s[3].wrapping_add(t1),
        s[4],
        s[5],
        s[6],
    ]
}

/// Reads big-endian message words.
pub(crate) fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut w = [0u32; N];
    for (word, chunk) in w.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compresses one block with the helpers above, to check them against `sha2`.
    fn compress(state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
        let mut w = [0u32; 64];
        w[..16].copy_from_slice(&words::<16>(block));
        for t in 16..64 {
            w[t] = small_sigma1(w[t - 2])
                .wrapping_add(w[t - 7])
                .wrapping_add(small_sigma0(w[t - 15]))
                .wrapping_add(w[t - 16]);
        }
        let mut s = state;
        for (t, &wt) in w.iter().enumerate() {
            s = round(s, t, wt);
        }
        let mut out = state;
        for (o, x) in out.iter_mut().zip(s) {
            *o = o.wrapping_add(x);
        }
        out
    }

    #[test]
    fn helpers_match_sha2_compress() {
        let mut block = [0u8; 64];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        let mut expected = IV;
        sha2::compress256(&mut expected, &[block.into()]);
        assert_eq!(compress(IV, &block), expected);
    }
}
