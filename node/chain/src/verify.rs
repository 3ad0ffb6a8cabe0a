//! Spending a P2PKH output: verifying one input, and signing one.
//!
//! Verification is a pure function of the transaction, the input index and the spent
//! output's script, using the global secp256k1 context, so a block's inputs can be checked
//! in parallel.

use crate::hash::hash160;
use crate::keys::{KeyError, PrivateKey, PublicKey};
use crate::script::{p2pkh_script, p2pkh_script_sig, parse_p2pkh, parse_p2pkh_script_sig};
use crate::sighash::legacy_sighash_all;
use crate::signature::{is_strict_der, SIGHASH_ALL};
use crate::transaction::{Transaction, TxIn};
use crate::validation::SigCache;

/// Why an input does not unlock the output it spends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// The input index is beyond the transaction's inputs.
    #[error("input {index} does not exist; the transaction has {inputs} inputs")]
    InputIndex {
        /// The index asked for.
        index: usize,
        /// How many inputs there are.
        inputs: usize,
    },
    /// The spent output is not P2PKH, the only kind this chain spends.
    #[error("the spent output's script is not P2PKH")]
    NotP2pkh,
    /// The input script is not exactly two direct pushes.
    #[error("input script is not `<signature> <public key>` as two direct pushes")]
    MalformedScriptSig,
    /// The public key does not hash to the output's key hash.
    #[error("public key does not match the output's key hash")]
    PubkeyHashMismatch,
    /// The signature is not strict DER (BIP66).
    #[error("signature is not strict DER")]
    NonStrictDer,
    /// The hash type is not SIGHASH_ALL.
    #[error("signature hash type is {0:#04x}; only SIGHASH_ALL (0x01) is accepted")]
    HashType(u8),
    /// The public key is not a valid point in an accepted encoding.
    #[error("{0}")]
    PublicKey(#[from] KeyError),
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// Checks that input `input_index` of `tx` unlocks the P2PKH output whose script is
/// `prev_script_pubkey`: the same checks, in the same order, as Bitcoin Core running
/// `<sig> <pubkey> OP_DUP OP_HASH160 <hash> OP_EQUALVERIFY OP_CHECKSIG` with DERSIG, plus
/// this chain's rules that only direct pushes and SIGHASH_ALL are accepted. High S is
/// accepted (see [`crate::is_low_s`] for the relay policy).
pub fn verify_p2pkh_input(
    tx: &Transaction,
    input_index: usize,
    prev_script_pubkey: &[u8],
) -> Result<(), ScriptError> {
    verify_p2pkh_input_cached(tx, input_index, prev_script_pubkey, CacheUse::None)
}

/// How a verification uses the signature cache ([`SigCache::global`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheUse {
    /// Neither reads nor writes it.
    None,
    /// A hit skips the signature check; a signature that verifies is recorded (the
    /// mempool, and blocks verified ahead of connecting).
    Store,
    /// A hit skips the signature check and removes the entry (a block connecting).
    Consume,
}

/// [`verify_p2pkh_input`] with the signature cache. Every check but the elliptic-curve
/// one runs on a hit too, against this input's own spent script.
pub(crate) fn verify_p2pkh_input_cached(
    tx: &Transaction,
    input_index: usize,
    prev_script_pubkey: &[u8],
    cache: CacheUse,
) -> Result<(), ScriptError> {
    let input = tx.inputs.get(input_index).ok_or(ScriptError::InputIndex {
        index: input_index,
        inputs: tx.inputs.len(),
    })?;
    let key_hash = parse_p2pkh(prev_script_pubkey).ok_or(ScriptError::NotP2pkh)?;
    let (sig, pubkey_bytes) =
        parse_p2pkh_script_sig(&input.script_sig).ok_or(ScriptError::MalformedScriptSig)?;
    if hash160(pubkey_bytes) != key_hash {
        return Err(ScriptError::PubkeyHashMismatch);
    }
    if !is_strict_der(sig) {
        return Err(ScriptError::NonStrictDer);
    }
    let (&hash_type, der) = sig.split_last().ok_or(ScriptError::NonStrictDer)?;
    if hash_type != SIGHASH_ALL {
        return Err(ScriptError::HashType(hash_type));
    }
    let sighash =
        legacy_sighash_all(tx, input_index, prev_script_pubkey).ok_or(ScriptError::InputIndex {
            index: input_index,
            inputs: tx.inputs.len(),
        })?;
    let key =
        (cache != CacheUse::None).then(|| SigCache::global().key(&sighash.0, pubkey_bytes, sig));
    match (cache, &key) {
        (CacheUse::Store, Some(key)) if SigCache::global().contains(key) => return Ok(()),
        (CacheUse::Consume, Some(key)) if SigCache::global().take(key) => return Ok(()),
        _ => {}
    }
    let pubkey = PublicKey::from_slice(pubkey_bytes)?;
    if !pubkey.verify_hash(&sighash, der) {
        return Err(ScriptError::BadSignature);
    }
    if let (CacheUse::Store, Some(key)) = (cache, key) {
        SigCache::global().insert(key);
    }
    Ok(())
}

/// Verifies input `input_index` of `tx` before the coin it spends is known, recording a
/// valid signature in the cache for when the block connects. A P2PKH spend can only be
/// valid against `p2pkh_script(hash160(pubkey))`, the script this assumes; if the real
/// coin differs, the check at connect time fails without a cache hit. Returns whether
/// the signature verified.
pub fn preverify_p2pkh_input(tx: &Transaction, input_index: usize) -> bool {
    let Some(input) = tx.inputs.get(input_index) else {
        return false;
    };
    let Some((_, pubkey)) = parse_p2pkh_script_sig(&input.script_sig) else {
        return false;
    };
    let script = p2pkh_script(&hash160(pubkey));
    verify_p2pkh_input_cached(tx, input_index, &script, CacheUse::Store).is_ok()
}

/// Whether a signature [`preverify_p2pkh_input`] verified for `input` holds for the coin
/// it really spends, whose script is `prev_script_pubkey`. It was verified against the
/// P2PKH script of the input's own public key, so it holds exactly when the coin's script
/// is that script: `parse_p2pkh` accepts only the 25-byte form, so every check would run
/// on the same bytes and give the same answer.
pub fn preverified_for(input: &TxIn, prev_script_pubkey: &[u8]) -> bool {
    let Some((_, pubkey)) = parse_p2pkh_script_sig(&input.script_sig) else {
        return false;
    };
    parse_p2pkh(prev_script_pubkey) == Some(hash160(pubkey))
}

/// The input script that spends the P2PKH output `prev_script_pubkey` with `key`, for
/// input `input_index` of `tx`: a low-S SIGHASH_ALL signature and the key's public key.
///
/// Other inputs' scripts do not affect the hash, so inputs can be signed in any order.
pub fn sign_p2pkh_input(
    tx: &Transaction,
    input_index: usize,
    prev_script_pubkey: &[u8],
    key: &PrivateKey,
) -> Result<Vec<u8>, ScriptError> {
    let key_hash = parse_p2pkh(prev_script_pubkey).ok_or(ScriptError::NotP2pkh)?;
    let pubkey = key.public_key();
    if pubkey.hash160() != key_hash {
        return Err(ScriptError::PubkeyHashMismatch);
    }
    let sighash =
        legacy_sighash_all(tx, input_index, prev_script_pubkey).ok_or(ScriptError::InputIndex {
            index: input_index,
            inputs: tx.inputs.len(),
        })?;
    let mut sig = key.sign_hash(&sighash);
    sig.push(SIGHASH_ALL);
    Ok(p2pkh_script_sig(&sig, &pubkey.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash256;
    use crate::script::{p2pkh_script, push_slice};
    use crate::transaction::{OutPoint, TxIn, TxOut};

    fn spend(key: &PrivateKey) -> (Transaction, Vec<u8>) {
        let prev = p2pkh_script(&key.public_key().hash160());
        let input = |n: u8| TxIn {
            prevout: OutPoint {
                txid: Hash256([n; 32]),
                vout: 0,
            },
            script_sig: vec![],
            sequence: u32::MAX,
        };
        let mut tx = Transaction {
            version: 1,
            inputs: vec![input(1), input(2)],
            outputs: vec![TxOut {
                value: 1000,
                script_pubkey: p2pkh_script(&[3; 20]),
            }],
            lock_time: 0,
        };
        for i in 0..2 {
            tx.inputs[i].script_sig = sign_p2pkh_input(&tx, i, &prev, key).unwrap();
        }
        (tx, prev)
    }

    #[test]
    fn signed_inputs_verify_for_both_key_forms() {
        for compressed in [true, false] {
            let key = PrivateKey::from_bytes(&[7; 32], compressed).unwrap();
            let (tx, prev) = spend(&key);
            assert_eq!(verify_p2pkh_input(&tx, 0, &prev), Ok(()));
            assert_eq!(verify_p2pkh_input(&tx, 1, &prev), Ok(()));
            assert_eq!(
                verify_p2pkh_input(&tx, 2, &prev),
                Err(ScriptError::InputIndex {
                    index: 2,
                    inputs: 2
                })
            );
        }
    }

    #[test]
    fn each_failure_has_its_reason() {
        let key = PrivateKey::from_bytes(&[7; 32], true).unwrap();
        let (tx, prev) = spend(&key);
        let (sig, pubkey) = parse_p2pkh_script_sig(&tx.inputs[0].script_sig).unwrap();
        let (sig, pubkey) = (sig.to_vec(), pubkey.to_vec());
        let with_script = |script_sig: Vec<u8>| {
            let mut t = tx.clone();
            t.inputs[0].script_sig = script_sig;
            verify_p2pkh_input(&t, 0, &prev)
        };

        assert_eq!(
            verify_p2pkh_input(&tx, 0, &[0x51]),
            Err(ScriptError::NotP2pkh)
        );
        assert_eq!(with_script(vec![]), Err(ScriptError::MalformedScriptSig));
        let other = PrivateKey::from_bytes(&[8; 32], true)
            .unwrap()
            .public_key()
            .to_bytes();
        assert_eq!(
            with_script(p2pkh_script_sig(&sig, &other)),
            Err(ScriptError::PubkeyHashMismatch)
        );
        let mut padded = sig.clone();
        padded.insert(padded.len() - 1, 0);
        assert_eq!(
            with_script(p2pkh_script_sig(&padded, &pubkey)),
            Err(ScriptError::NonStrictDer)
        );
        let mut none_type = sig.clone();
        *none_type.last_mut().unwrap() = 0x02;
        assert_eq!(
            with_script(p2pkh_script_sig(&none_type, &pubkey)),
            Err(ScriptError::HashType(0x02))
        );

        // Signature of another input: valid encoding, wrong hash.
        let (other_sig, _) = parse_p2pkh_script_sig(&tx.inputs[1].script_sig).unwrap();
        assert_eq!(
            with_script(p2pkh_script_sig(other_sig, &pubkey)),
            Err(ScriptError::BadSignature)
        );

        // Changing an output invalidates every signature.
        let mut t = tx.clone();
        t.outputs[0].value += 1;
        assert_eq!(
            verify_p2pkh_input(&t, 1, &prev),
            Err(ScriptError::BadSignature)
        );

        // A push in OP_PUSHDATA1 form is refused even though the data is the same.
        let mut long_form = vec![crate::script::OP_PUSHDATA1, sig.len() as u8];
        long_form.extend_from_slice(&sig);
        push_slice(&mut long_form, &pubkey);
        assert_eq!(with_script(long_form), Err(ScriptError::MalformedScriptSig));
    }

    #[test]
    fn the_cache_serves_only_the_same_transaction_and_script() {
        let key = PrivateKey::from_bytes(&[9; 32], true).unwrap();
        let (tx, prev) = spend(&key);
        assert_eq!(
            verify_p2pkh_input_cached(&tx, 0, &prev, CacheUse::Store),
            Ok(())
        );
        // The same scriptSig on a transaction paying elsewhere: another sighash.
        let mut other = tx.clone();
        other.outputs[0].value += 1;
        assert_eq!(
            verify_p2pkh_input_cached(&other, 0, &prev, CacheUse::Consume),
            Err(ScriptError::BadSignature)
        );
        // Another spent script: refused before the cache is asked.
        let other_script = p2pkh_script(&[4; 20]);
        assert_eq!(
            verify_p2pkh_input_cached(&tx, 0, &other_script, CacheUse::Consume),
            Err(ScriptError::PubkeyHashMismatch)
        );
        // The block consumes the entry; verifying again checks the signature for real.
        let cache = SigCache::global();
        let entry = {
            let (sig, pubkey) = parse_p2pkh_script_sig(&tx.inputs[0].script_sig).unwrap();
            cache.key(&legacy_sighash_all(&tx, 0, &prev).unwrap().0, pubkey, sig)
        };
        assert!(cache.contains(&entry));
        assert_eq!(
            verify_p2pkh_input_cached(&tx, 0, &prev, CacheUse::Consume),
            Ok(())
        );
        assert!(!cache.contains(&entry));
        assert!(preverify_p2pkh_input(&tx, 1));
        assert!(!preverify_p2pkh_input(&other, 1));
    }

    #[test]
    fn high_s_is_consensus_valid() {
        let key = PrivateKey::from_bytes(&[7; 32], true).unwrap();
        let (tx, prev) = spend(&key);
        let (sig, pubkey) = parse_p2pkh_script_sig(&tx.inputs[0].script_sig).unwrap();
        let parsed = secp256k1::ecdsa::Signature::from_der(&sig[..sig.len() - 1]).unwrap();
        let high = negate_s(&parsed.serialize_compact());
        let mut high_sig = secp256k1::ecdsa::Signature::from_compact(&high)
            .unwrap()
            .serialize_der()
            .to_vec();
        high_sig.push(SIGHASH_ALL);
        assert!(!crate::is_low_s(&high_sig));
        let mut t = tx.clone();
        t.inputs[0].script_sig = p2pkh_script_sig(&high_sig, pubkey);
        assert_eq!(verify_p2pkh_input(&t, 0, &prev), Ok(()));
    }

    /// `r || n - s` for a compact `r || s`.
    fn negate_s(compact: &[u8; 64]) -> [u8; 64] {
        const ORDER: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c,
            0xd0, 0x36, 0x41, 0x41,
        ];
        let mut out = *compact;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(ORDER[i]) - i16::from(compact[32 + i]) - borrow;
            borrow = i16::from(d < 0);
            out[32 + i] = (d + 256 * borrow) as u8;
        }
        out
    }
}
