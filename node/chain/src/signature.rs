//! Signature encoding rules: BIP66 strict DER (consensus) and low S (relay policy).

use secp256k1::ecdsa;

/// The only hash type this chain accepts: sign every input and output.
pub const SIGHASH_ALL: u8 = 0x01;

/// Whether `sig` (DER followed by a one-byte hash type) is strict DER, exactly as Bitcoin
/// Core's `IsValidSignatureEncoding` (BIP66).
///
/// Format: `0x30 len 0x02 lenR R 0x02 lenS S hashtype`, with R and S non-negative, without
/// needless leading zero bytes, and no bytes beyond the structure.
pub fn is_strict_der(sig: &[u8]) -> bool {
    let len = sig.len();
    if !(9..=73).contains(&len) || sig[0] != 0x30 || usize::from(sig[1]) != len - 3 {
        return false;
    }
    let len_r = usize::from(sig[3]);
    if 5 + len_r >= len {
        return false;
    }
    let len_s = usize::from(sig[5 + len_r]);
    if len_r + len_s + 7 != len {
        return false;
    }
    integer_is_strict(sig[2], &sig[4..4 + len_r])
        && integer_is_strict(sig[4 + len_r], &sig[6 + len_r..6 + len_r + len_s])
}

/// One DER integer: its tag, non-empty, not negative, no padding zero unless needed.
fn integer_is_strict(tag: u8, bytes: &[u8]) -> bool {
    match bytes {
        _ if tag != 0x02 => false,
        [] => false,
        [first, ..] if first & 0x80 != 0 => false,
        [0x00, second, ..] if second & 0x80 == 0 => false,
        _ => true,
    }
}

/// Whether `sig` (DER followed by a one-byte hash type) is strict DER with S at most half
/// the curve order, as Bitcoin Core's `IsLowDERSignature`: the mempool's malleability rule.
pub fn is_low_s(sig: &[u8]) -> bool {
    if !is_strict_der(sig) {
        return false;
    }
    let Ok(parsed) = ecdsa::Signature::from_der(&sig[..sig.len() - 1]) else {
        return false;
    };
    let mut normalized = parsed;
    normalized.normalize_s();
    normalized == parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strict-DER signature with hash type: a 33-byte R (padded because its top bit is
    /// set) and a 32-byte low S.
    fn sig() -> Vec<u8> {
        let mut sig = vec![0x30, 0x45, 0x02, 0x21, 0x00];
        sig.extend_from_slice(&[0xe5; 32]);
        sig.extend_from_slice(&[0x02, 0x20]);
        sig.extend_from_slice(&[0x12; 32]);
        sig.push(SIGHASH_ALL);
        sig
    }

    #[test]
    fn accepts_well_formed_signatures() {
        assert!(is_strict_der(&sig()));
        assert_eq!(sig().len(), 72);
        // The shortest form: one-byte R and S.
        assert!(is_strict_der(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01
        ]));
        // A padding zero is fine when the next byte has its top bit set.
        assert!(is_strict_der(&[
            0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01, 0x01
        ]));
    }

    #[test]
    fn rejects_each_bip66_violation() {
        let base = sig();
        let mutate = |i: usize, v: u8| {
            let mut s = base.clone();
            s[i] = v;
            s
        };
        assert!(!is_strict_der(&base[..8]), "too short");
        assert!(
            !is_strict_der(&[base.clone(), vec![0]].concat()),
            "trailing byte"
        );
        assert!(!is_strict_der(&mutate(0, 0x31)), "not a sequence");
        assert!(!is_strict_der(&mutate(1, 0x43)), "wrong total length");
        assert!(!is_strict_der(&mutate(2, 0x03)), "R not an integer");
        assert!(!is_strict_der(&mutate(3, 0x20)), "R length disagrees");
        assert!(!is_strict_der(&mutate(4, 0x80)), "negative R");
        assert!(!is_strict_der(&mutate(5, 0x00)), "R padded needlessly");
        assert!(!is_strict_der(&mutate(37, 0x03)), "S not an integer");
        assert!(!is_strict_der(&mutate(39, 0x81)), "negative S");
        // Zero-length integers.
        assert!(!is_strict_der(&[
            0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01, 0x01
        ]));
        assert!(!is_strict_der(&[
            0x30, 0x06, 0x02, 0x02, 0x01, 0x01, 0x02, 0x00, 0x01
        ]));
        // S padded needlessly.
        assert!(!is_strict_der(&[
            0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x01, 0x01
        ]));
        assert!(!is_strict_der(&[0u8; 74]));
        assert!(!is_strict_der(&[]));
    }

    #[test]
    fn low_s_policy() {
        assert!(is_low_s(&sig()));
        // S = n - 1 is high; S = 1 is low.
        let order_minus_one = "00fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
        let high = hex::decode(format!("3026020101022100{}01", &order_minus_one[2..])).unwrap();
        assert!(is_strict_der(&high));
        assert!(!is_low_s(&high));
        assert!(is_low_s(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01
        ]));
        assert!(!is_low_s(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x81, 0x01
        ]));
    }
}
