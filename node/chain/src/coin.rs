//! An unspent output as the UTXO set keeps it.

use crate::encode::{write_var_bytes, Decode, DecodeError, Encode, Reader};
use crate::hash::Hash256;
use crate::script::is_op_return;
use crate::transaction::{OutPoint, Transaction};

/// An unspent transaction output, with what the rules need to know about its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    /// Satoshis.
    pub value: u64,
    /// Height of the block that created it.
    pub height: u32,
    /// Whether it was created by a coinbase (maturity applies).
    pub coinbase: bool,
    /// The locking script (P2PKH).
    pub script_pubkey: Vec<u8>,
}

/// The coins `tx` (whose id is `txid`) adds to the UTXO set in a block at `height`: every
/// output but the unspendable `OP_RETURN` ones, kept out as Bitcoin does.
pub fn created_coins(
    tx: &Transaction,
    txid: Hash256,
    height: u32,
) -> impl Iterator<Item = (OutPoint, Coin)> + '_ {
    tx.outputs
        .iter()
        .enumerate()
        .filter(|(_, output)| !is_op_return(&output.script_pubkey))
        .map(move |(vout, output)| {
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            let coin = Coin {
                value: output.value,
                height,
                coinbase: tx.is_coinbase(),
                script_pubkey: output.script_pubkey.clone(),
            };
            (outpoint, coin)
        })
}

impl Encode for Coin {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.value.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.push(u8::from(self.coinbase));
        write_var_bytes(out, &self.script_pubkey);
    }
}

impl Decode for Coin {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Coin {
            value: r.read_u64("coin value")?,
            height: r.read_u32("coin height")?,
            coinbase: r.read_u8("coin flags")? != 0,
            script_pubkey: r.read_var_bytes("coin script")?,
        })
    }
}
