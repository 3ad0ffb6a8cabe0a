//! Transactions in Bitcoin's legacy (pre-segwit) serialization.

use crate::encode::{
    compact_size_len, write_var_bytes, write_vec, Decode, DecodeError, Encode, Reader,
};
use crate::hash::{sha256d, Hash256};

/// Satoshis in one coin.
pub const COIN: u64 = 100_000_000;

/// The most satoshis any amount or sum may reach, as Bitcoin's `MAX_MONEY`.
pub const MAX_MONEY: u64 = 21_000_000 * COIN;

/// An amount in satoshis, displayed in coins with 8 decimals (`0.00002260`): how RPC
/// takes and prints amounts, so errors and logs say amounts the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coins(pub u64);

impl std::fmt::Display for Coins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:08}", self.0 / COIN, self.0 % COIN)
    }
}

/// A reference to one output of an earlier transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutPoint {
    /// The id of the transaction holding the output.
    pub txid: Hash256,
    /// The output's index in that transaction.
    pub vout: u32,
}

impl OutPoint {
    /// The outpoint a coinbase input spends: zero txid and index `u32::MAX`.
    pub const fn null() -> Self {
        OutPoint {
            txid: Hash256::ZERO,
            vout: u32::MAX,
        }
    }

    /// Whether this is the coinbase's null outpoint.
    pub fn is_null(&self) -> bool {
        *self == Self::null()
    }
}

/// A transaction input: what it spends and the script that unlocks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxIn {
    /// The output being spent.
    pub prevout: OutPoint,
    /// The unlocking script (`<sig> <pubkey>` for P2PKH; free-form in a coinbase).
    pub script_sig: Vec<u8>,
    /// The sequence number; `0xffff_ffff` is final.
    pub sequence: u32,
}

/// A transaction output: an amount and the script that locks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxOut {
    /// The amount in satoshis.
    pub value: u64,
    /// The locking script.
    pub script_pubkey: Vec<u8>,
}

/// A transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// The transaction format version.
    pub version: i32,
    /// The inputs, in order.
    pub inputs: Vec<TxIn>,
    /// The outputs, in order.
    pub outputs: Vec<TxOut>,
    /// The lock time (block height below 500,000,000, else a Unix time).
    pub lock_time: u32,
}

impl Transaction {
    /// A coinbase: one input spending the null outpoint with `script_sig` (which must
    /// start with the BIP34 height push), one output paying `value` to `script_pubkey`.
    pub fn coinbase(script_sig: Vec<u8>, script_pubkey: Vec<u8>, value: u64) -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::null(),
                script_sig,
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut {
                value,
                script_pubkey,
            }],
            lock_time: 0,
        }
    }

    /// The transaction id: sha256d of the legacy serialization.
    pub fn txid(&self) -> Hash256 {
        let mut bytes = Vec::with_capacity(self.size());
        self.encode(&mut bytes);
        sha256d(&bytes)
    }

    /// Whether this is a coinbase: exactly one input, spending the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].prevout.is_null()
    }

    /// The sum of output values, or `None` if it overflows a `u64`.
    pub fn output_value(&self) -> Option<u64> {
        self.outputs
            .iter()
            .try_fold(0u64, |sum, out| sum.checked_add(out.value))
    }

    /// The length of the serialization in bytes, counted without serializing (blocks
    /// are sized while they are gathered into a write).
    pub fn size(&self) -> usize {
        let var_bytes = |b: &[u8]| compact_size_len(b.len() as u64) + b.len();
        let inputs: usize = self
            .inputs
            .iter()
            .map(|i| 36 + var_bytes(&i.script_sig) + 4)
            .sum();
        let outputs: usize = self
            .outputs
            .iter()
            .map(|o| 8 + var_bytes(&o.script_pubkey))
            .sum();
        4 + compact_size_len(self.inputs.len() as u64)
            + inputs
            + compact_size_len(self.outputs.len() as u64)
            + outputs
            + 4
    }
}

impl Encode for OutPoint {
    fn encode(&self, out: &mut Vec<u8>) {
        self.txid.encode(out);
        self.vout.encode(out);
    }
}

impl Decode for OutPoint {
    const MIN_ENCODED_SIZE: usize = 36;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OutPoint {
            txid: Hash256(r.read_array("outpoint txid")?),
            vout: r.read_u32("outpoint index")?,
        })
    }
}

impl Encode for TxIn {
    fn encode(&self, out: &mut Vec<u8>) {
        self.prevout.encode(out);
        write_var_bytes(out, &self.script_sig);
        self.sequence.encode(out);
    }
}

impl Decode for TxIn {
    // Outpoint, an empty script's length byte, sequence.
    const MIN_ENCODED_SIZE: usize = 36 + 1 + 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxIn {
            prevout: OutPoint::decode(r)?,
            script_sig: r.read_var_bytes("input script")?,
            sequence: r.read_u32("input sequence")?,
        })
    }
}

impl Encode for TxOut {
    fn encode(&self, out: &mut Vec<u8>) {
        self.value.encode(out);
        write_var_bytes(out, &self.script_pubkey);
    }
}

impl Decode for TxOut {
    const MIN_ENCODED_SIZE: usize = 8 + 1;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxOut {
            value: r.read_u64("output value")?,
            script_pubkey: r.read_var_bytes("output script")?,
        })
    }
}

impl Encode for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        self.version.encode(out);
        write_vec(out, &self.inputs);
        write_vec(out, &self.outputs);
        self.lock_time.encode(out);
    }
}

impl Decode for Transaction {
    // Version, two empty counts, lock time.
    const MIN_ENCODED_SIZE: usize = 4 + 1 + 1 + 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Transaction {
            version: r.read_i32("tx version")?,
            inputs: r.read_vec("tx inputs")?,
            outputs: r.read_vec("tx outputs")?,
            lock_time: r.read_u32("tx lock time")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{deserialize, serialize, DecodeErrorKind};
    use crate::test_vectors::GENESIS_COINBASE_HEX;

    #[test]
    fn genesis_coinbase_decodes_and_has_known_txid() {
        let bytes = hex::decode(GENESIS_COINBASE_HEX).unwrap();
        let tx: Transaction = deserialize(&bytes).unwrap();
        assert!(tx.is_coinbase());
        assert_eq!(tx.outputs[0].value, 50 * COIN);
        assert_eq!(serialize(&tx), bytes);
        assert_eq!(tx.size(), bytes.len());
        assert_eq!(
            tx.txid().to_string(),
            "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
        );
    }

    #[test]
    fn size_is_the_serialized_length_at_every_compact_size_width() {
        let mut tx: Transaction = deserialize(&hex::decode(GENESIS_COINBASE_HEX).unwrap()).unwrap();
        for len in [0, 1, 0xfc, 0xfd, 0xffff, 0x1_0000] {
            tx.inputs[0].script_sig = vec![7; len];
            tx.outputs[0].script_pubkey = vec![9; len / 2];
            assert_eq!(tx.size(), serialize(&tx).len(), "scripts of {len} bytes");
        }
        let (input, output) = (tx.inputs[0].clone(), tx.outputs[0].clone());
        tx.inputs = vec![input; 0xfd];
        tx.outputs = vec![output; 0xfd];
        assert_eq!(tx.size(), serialize(&tx).len(), "0xfd inputs and outputs");
        tx.inputs.clear();
        tx.outputs.clear();
        assert_eq!(tx.size(), serialize(&tx).len(), "no inputs or outputs");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = hex::decode(GENESIS_COINBASE_HEX).unwrap();
        for len in 0..bytes.len() {
            assert!(
                deserialize::<Transaction>(&bytes[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        let err = deserialize::<Transaction>(&bytes[..50]).unwrap_err();
        assert_eq!(err.what, "input script");
    }

    #[test]
    fn huge_input_count_fails_fast() {
        // Version, then a count of 2^25 inputs with nothing after it.
        let bytes = [1, 0, 0, 0, 0xfe, 0, 0, 0, 2];
        let err = deserialize::<Transaction>(&bytes).unwrap_err();
        assert_eq!(err.what, "tx inputs");
        assert_eq!(err.offset, 4);
        assert!(matches!(
            err.kind,
            DecodeErrorKind::CountExceedsInput { .. }
        ));
    }

    #[test]
    fn null_outpoint_and_output_sums() {
        assert!(OutPoint::null().is_null());
        assert!(!OutPoint {
            txid: Hash256::ZERO,
            vout: 0
        }
        .is_null());
        let out = |value| TxOut {
            value,
            script_pubkey: vec![],
        };
        let mut tx = Transaction {
            version: 1,
            inputs: vec![],
            outputs: vec![out(1), out(2)],
            lock_time: 0,
        };
        assert_eq!(tx.output_value(), Some(3));
        assert!(!tx.is_coinbase());
        tx.outputs.push(out(u64::MAX));
        assert_eq!(tx.output_value(), None);
    }
}
