//! The few scripts this chain knows: P2PKH outputs, their `<sig> <pubkey>` inputs, and the
//! BIP34 height push that opens a coinbase script. There is no general interpreter.

/// Pushes an empty byte vector (and the number zero).
pub const OP_0: u8 = 0x00;
/// The next byte is a push length.
pub const OP_PUSHDATA1: u8 = 0x4c;
/// The next two bytes are a push length.
pub const OP_PUSHDATA2: u8 = 0x4d;
/// The next four bytes are a push length.
pub const OP_PUSHDATA4: u8 = 0x4e;
/// Pushes the number -1.
pub const OP_1NEGATE: u8 = 0x4f;
/// Pushes the number 1; OP_2..OP_16 follow it.
pub const OP_1: u8 = 0x51;
/// Duplicates the top stack item.
pub const OP_DUP: u8 = 0x76;
/// Fails unless the top two items are equal.
pub const OP_EQUALVERIFY: u8 = 0x88;
/// Replaces the top item with its hash160.
pub const OP_HASH160: u8 = 0xa9;
/// Marks where the signed part of a script starts; removed from signature hashes.
pub const OP_CODESEPARATOR: u8 = 0xab;
/// Checks a signature against a public key.
pub const OP_CHECKSIG: u8 = 0xac;

/// Marks an output provably unspendable; what follows is data (a miner's tag, a segwit
/// witness commitment).
pub const OP_RETURN: u8 = 0x6a;

/// Bytes in a P2PKH output script.
pub const P2PKH_SCRIPT_LEN: usize = 25;

/// The largest data a single-byte opcode can push directly.
const MAX_DIRECT_PUSH: usize = 75;

/// `OP_DUP OP_HASH160 <hash> OP_EQUALVERIFY OP_CHECKSIG`.
pub fn p2pkh_script(hash: &[u8; 20]) -> Vec<u8> {
    let mut script = Vec::with_capacity(P2PKH_SCRIPT_LEN);
    script.extend_from_slice(&[OP_DUP, OP_HASH160, 20]);
    script.extend_from_slice(hash);
    script.extend_from_slice(&[OP_EQUALVERIFY, OP_CHECKSIG]);
    script
}

/// The public-key hash of a P2PKH output script, or `None` for any other script.
pub fn parse_p2pkh(script: &[u8]) -> Option<[u8; 20]> {
    match script {
        [OP_DUP, OP_HASH160, 20, hash @ .., OP_EQUALVERIFY, OP_CHECKSIG] => hash.try_into().ok(),
        _ => None,
    }
}

/// Whether an output script starts with `OP_RETURN`: nothing can spend it, so it never
/// enters the UTXO set (Bitcoin's `CScript::IsUnspendable`).
pub fn is_op_return(script: &[u8]) -> bool {
    script.first() == Some(&OP_RETURN)
}

/// Appends a push of `data` the way Bitcoin Core's `CScript << bytes` does: `OP_0` when
/// empty, a direct push up to 75 bytes, else the smallest `OP_PUSHDATA`.
pub fn push_slice(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len();
    if len <= MAX_DIRECT_PUSH {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[OP_PUSHDATA1, len as u8]);
    } else if len <= 0xffff {
        out.push(OP_PUSHDATA2);
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else {
        out.push(OP_PUSHDATA4);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(data);
}

/// Appends a push of the number `n` as Bitcoin Core's `CScript << int64_t`: `OP_0`,
/// `OP_1NEGATE`, `OP_1`..`OP_16`, else a minimal little-endian sign-magnitude number.
pub fn push_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0 => out.push(OP_0),
        -1 => out.push(OP_1NEGATE),
        1..=16 => out.push(OP_1 - 1 + n as u8),
        _ => {
            let mut magnitude = n.unsigned_abs();
            let mut bytes = Vec::with_capacity(9);
            while magnitude > 0 {
                bytes.push((magnitude & 0xff) as u8);
                magnitude >>= 8;
            }
            // The top bit of the last byte is the sign: add a byte when the magnitude uses it.
            let last = bytes.len() - 1;
            if bytes[last] & 0x80 != 0 {
                bytes.push(if n < 0 { 0x80 } else { 0 });
            } else if n < 0 {
                bytes[last] |= 0x80;
            }
            push_slice(out, &bytes);
        }
    }
}

/// The script prefix BIP34 requires of a coinbase at `height`: the height pushed as a number.
pub fn bip34_height_prefix(height: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(5);
    push_int(&mut out, i64::from(height));
    out
}

/// `<sig + hashtype> <pubkey>`, each as a direct push.
pub fn p2pkh_script_sig(sig_with_hashtype: &[u8], pubkey: &[u8]) -> Vec<u8> {
    let mut script = Vec::with_capacity(2 + sig_with_hashtype.len() + pubkey.len());
    push_slice(&mut script, sig_with_hashtype);
    push_slice(&mut script, pubkey);
    script
}

/// Splits a P2PKH input script into `(sig + hashtype, pubkey)`.
///
/// Accepts exactly two non-empty direct pushes (opcodes 1 to 75) and nothing else: no
/// `OP_PUSHDATA` forms, no other opcodes, no trailing bytes. Every valid signature and public
/// key fits a direct push, so anything else is malformed or malleated.
pub fn parse_p2pkh_script_sig(script_sig: &[u8]) -> Option<(&[u8], &[u8])> {
    let (sig, rest) = direct_push(script_sig)?;
    let (pubkey, rest) = direct_push(rest)?;
    rest.is_empty().then_some((sig, pubkey))
}

fn direct_push(script: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = script.split_first()?;
    let len = usize::from(len);
    if len == 0 || len > MAX_DIRECT_PUSH || rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2pkh_round_trip_and_rejections() {
        let hash = [7u8; 20];
        let script = p2pkh_script(&hash);
        assert_eq!(script.len(), P2PKH_SCRIPT_LEN);
        assert_eq!(hex::encode(&script[..3]), "76a914");
        assert_eq!(parse_p2pkh(&script), Some(hash));
        let mut longer = script.clone();
        longer.push(0);
        assert_eq!(parse_p2pkh(&longer), None);
        let mut wrong_len = script.clone();
        wrong_len[2] = 21;
        assert_eq!(parse_p2pkh(&wrong_len), None);
        assert_eq!(parse_p2pkh(&script[..24]), None);
        assert_eq!(parse_p2pkh(&[]), None);
    }

    #[test]
    fn script_sig_round_trip() {
        let sig = [0x30u8; 71];
        let pubkey = [0x02u8; 33];
        let script = p2pkh_script_sig(&sig, &pubkey);
        assert_eq!(script.len(), 1 + 71 + 1 + 33);
        assert_eq!(
            parse_p2pkh_script_sig(&script),
            Some((&sig[..], &pubkey[..]))
        );
    }

    #[test]
    fn script_sig_rejects_non_direct_pushes() {
        let sig = [0x30u8; 71];
        let pubkey = [0x02u8; 33];
        let mut pushdata1 = vec![OP_PUSHDATA1, 71];
        pushdata1.extend_from_slice(&sig);
        push_slice(&mut pushdata1, &pubkey);
        assert_eq!(parse_p2pkh_script_sig(&pushdata1), None);
        let mut trailing = p2pkh_script_sig(&sig, &pubkey);
        trailing.push(OP_CHECKSIG);
        assert_eq!(parse_p2pkh_script_sig(&trailing), None);
        let mut three = p2pkh_script_sig(&sig, &pubkey);
        push_slice(&mut three, &pubkey);
        assert_eq!(parse_p2pkh_script_sig(&three), None);
        let full = p2pkh_script_sig(&sig, &pubkey);
        assert_eq!(parse_p2pkh_script_sig(&full[..full.len() - 1]), None);
        assert_eq!(parse_p2pkh_script_sig(&[OP_0, 33]), None);
        assert_eq!(parse_p2pkh_script_sig(&[]), None);
    }

    #[test]
    fn push_slice_picks_the_core_opcode() {
        for (len, prefix) in [
            (0, vec![0]),
            (75, vec![75]),
            (76, vec![0x4c, 76]),
            (256, vec![0x4d, 0, 1]),
        ] {
            let mut out = Vec::new();
            push_slice(&mut out, &vec![1u8; len]);
            assert_eq!(out[..prefix.len()], prefix[..], "len {len}");
            assert_eq!(out.len(), prefix.len() + len);
        }
    }

    #[test]
    fn numbers_push_like_core() {
        let cases: [(i64, &str); 10] = [
            (0, "00"),
            (1, "51"),
            (16, "60"),
            (-1, "4f"),
            (17, "0111"),
            (127, "017f"),
            (128, "028000"),
            (255, "02ff00"),
            (-2, "0182"),
            (-128, "028080"),
        ];
        for (n, expected) in cases {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(hex::encode(out), expected, "n = {n}");
        }
        assert_eq!(hex::encode(bip34_height_prefix(500_000)), "0320a107");
        assert_eq!(bip34_height_prefix(0), vec![OP_0]);
    }
}
