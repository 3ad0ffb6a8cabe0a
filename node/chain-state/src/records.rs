//! How chain state records are laid out in LMDB: keys sort the way the queries walk them,
//! values use the same consensus encoding as the wire.

use primitive_types::U256;

use crate::block::BlockHeader;
use crate::coin::Coin;
use crate::encode::{deserialize, serialize, Decode, DecodeError, Encode, Reader};
use crate::hash::Hash256;
use crate::transaction::OutPoint;

/// The block's full data (transactions) is stored.
pub(crate) const HAVE_DATA: u8 = 1;
/// The block, or an ancestor, broke a consensus rule.
pub(crate) const FAILED: u8 = 2;
/// The block's data was stored once and pruned since.
pub(crate) const PRUNED: u8 = 4;

/// What the block index keeps per known header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockIndexEntry {
    /// The header.
    pub header: BlockHeader,
    /// Height above genesis.
    pub height: u32,
    /// Sum of the work of this block and its ancestors.
    pub chain_work: U256,
    /// Status flags (data stored, failed, pruned).
    pub(crate) status: u8,
    /// Transactions in the block, once its data was seen.
    pub tx_count: u32,
}

impl BlockIndexEntry {
    /// Whether the block's transactions are stored.
    pub fn has_data(&self) -> bool {
        self.status & HAVE_DATA != 0
    }

    /// Whether the block, or an ancestor, is invalid.
    pub fn is_failed(&self) -> bool {
        self.status & FAILED != 0
    }

    /// Whether the block's data was pruned.
    pub fn is_pruned(&self) -> bool {
        self.status & PRUNED != 0
    }
}

impl Encode for BlockIndexEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.chain_work.to_big_endian());
        out.push(self.status);
        out.extend_from_slice(&self.tx_count.to_le_bytes());
    }
}

impl Decode for BlockIndexEntry {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockIndexEntry {
            header: BlockHeader::decode(r)?,
            height: r.read_u32("index height")?,
            chain_work: U256::from_big_endian(&r.read_array::<32>("index chain work")?),
            status: r.read_u8("index status")?,
            tx_count: r.read_u32("index tx count")?,
        })
    }
}

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
    fn index_entry_round_trips() {
        let entry = BlockIndexEntry {
            header: BlockHeader {
                version: 1,
                prev_block: Hash256([1; 32]),
                merkle_root: Hash256([2; 32]),
                time: 3,
                bits: 0x207f_ffff,
                nonce: 4,
            },
            height: 5,
            chain_work: U256::from(123_456_789u64) << 100,
            status: HAVE_DATA | FAILED,
            tx_count: 6,
        };
        assert_eq!(decode::<BlockIndexEntry>(&encode(&entry)).unwrap(), entry);
    }

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
