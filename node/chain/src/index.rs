//! What the chain state reports about blocks and the tip: the types its readers share
//! (the chain service's contract in `node-api`, and the chain state in `node-chain-state`
//! that fills them). Plain data; the block index entry's record layout is here too, as
//! it is a format.

use primitive_types::U256;

use crate::block::BlockHeader;
use crate::encode::{Decode, DecodeError, Encode, Reader};
use crate::hash::Hash256;

/// The block's full data (transactions) is stored.
pub const HAVE_DATA: u8 = 1;
/// The block, or an ancestor, broke a consensus rule.
pub const FAILED: u8 = 2;
/// The block's data was stored once and pruned since.
pub const PRUNED: u8 = 4;

/// What the block index keeps per known header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockIndexEntry {
    /// The header.
    pub header: BlockHeader,
    /// Height above genesis.
    pub height: u32,
    /// Sum of the work of this block and its ancestors.
    pub chain_work: U256,
    /// Status flags ([`HAVE_DATA`], [`FAILED`], [`PRUNED`]), set by the chain state.
    pub status: u8,
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

/// What happened to an accepted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Stored; the tip is now this block or one of its descendants.
    BecameTip,
    /// Stored on a branch with less work than the tip.
    SideBranch,
    /// Already stored.
    AlreadyHave,
}

/// The tip of the main chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tip {
    /// Its hash.
    pub hash: Hash256,
    /// Its height.
    pub height: u32,
    /// Its header.
    pub header: BlockHeader,
    /// Cumulative work of the main chain.
    pub chain_work: U256,
    /// Median time of the last 11 blocks.
    pub median_time_past: u32,
}

/// Where the next block goes: what a miner needs for a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBlock {
    /// The parent (the tip).
    pub prev: Hash256,
    /// The new block's height.
    pub height: u32,
    /// The bits it must carry.
    pub bits: u32,
    /// Its time must be above this (median time past of the tip).
    pub min_time: u32,
}

/// How far the transaction index is built (`getindexinfo`'s `txindex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxIndexInfo {
    /// It covers the whole main chain and follows every block.
    pub synced: bool,
    /// The height of the last main-chain block indexed (the tip once synced).
    pub best_block_height: u32,
}

/// Where a confirmed transaction is: its block and its position in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The main-chain block holding it.
    pub block: Hash256,
    /// Its index in the block's transactions (0 is the coinbase).
    pub position: u32,
}

impl TxLocation {
    /// The index's record of it: the block hash, then the position (u32 little-endian).
    pub fn encode(&self) -> [u8; 36] {
        let mut value = [0u8; 36];
        value[..32].copy_from_slice(self.block.as_bytes());
        value[32..].copy_from_slice(&self.position.to_le_bytes());
        value
    }

    /// Reads [`TxLocation::encode`]'s record; `None` when it is too short.
    pub fn decode(bytes: &[u8]) -> Option<TxLocation> {
        let block: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
        let position: [u8; 4] = bytes.get(32..36)?.try_into().ok()?;
        Some(TxLocation {
            block: Hash256(block),
            position: u32::from_le_bytes(position),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{deserialize, serialize};

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
        assert_eq!(
            deserialize::<BlockIndexEntry>(&serialize(&entry)).unwrap(),
            entry
        );
    }
}
