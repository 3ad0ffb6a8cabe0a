//! How chain state records are laid out in LMDB: keys sort the way the queries walk them,
//! values use the same consensus encoding as the wire.

use node_chain::coin::Coin;
use node_chain::encode::{deserialize, serialize, Decode, DecodeError, Encode, Reader};
use node_chain::hash::Hash256;
use node_chain::transaction::OutPoint;

// The index entry is a format shared with the chain service contract (`node-chain`).
pub(crate) use node_chain::index::{BlockIndexEntry, FAILED, HAVE_DATA, PRUNED};

/// Coins a block spent, in the order its inputs spent them: what disconnecting needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BlockUndo {
    pub(crate) spent: Vec<Coin>,
}

impl Encode for BlockUndo {
    fn encode(&self, out: &mut Vec<u8>) {
        self.spent.encode(out);
    }
}

impl Decode for BlockUndo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockUndo {
            spent: Vec::<Coin>::decode(r)?,
        })
    }
}

/// UTXO key: txid then output index big-endian, so one transaction's outputs are adjacent.
pub(crate) fn outpoint_key(outpoint: &OutPoint) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..32].copy_from_slice(&outpoint.txid.0);
    key[32..].copy_from_slice(&outpoint.vout.to_be_bytes());
    key
}

pub(crate) fn outpoint_from_key(key: &[u8]) -> Option<OutPoint> {
    let txid: [u8; 32] = key.get(..32)?.try_into().ok()?;
    let vout: [u8; 4] = key.get(32..36)?.try_into().ok()?;
    Some(OutPoint {
        txid: Hash256(txid),
        vout: u32::from_be_bytes(vout),
    })
}

/// Address index key: the P2PKH hash, then the outpoint, so a prefix scan lists one
/// address's coins.
pub(crate) fn address_key(hash160: &[u8; 20], outpoint: &OutPoint) -> [u8; 56] {
    let mut key = [0u8; 56];
    key[..20].copy_from_slice(hash160);
    key[20..].copy_from_slice(&outpoint_key(outpoint));
    key
}

/// Main-chain key: the height big-endian, so the chain iterates in order.
pub(crate) fn height_key(height: u32) -> [u8; 4] {
    height.to_be_bytes()
}

pub(crate) fn encode<T: Encode>(value: &T) -> Vec<u8> {
    serialize(value)
}

pub(crate) fn decode<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    deserialize(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outpoint_keys_round_trip_and_sort_by_txid_then_index() {
        let a = OutPoint {
            txid: Hash256([7; 32]),
            vout: 1,
        };
        let b = OutPoint {
            txid: Hash256([7; 32]),
            vout: 256,
        };
        assert_eq!(outpoint_from_key(&outpoint_key(&a)), Some(a));
        assert!(outpoint_key(&a) < outpoint_key(&b));
    }
}
