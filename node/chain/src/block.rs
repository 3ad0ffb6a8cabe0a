//! Block headers (Bitcoin's 80 bytes) and blocks.

use crate::encode::{compact_size_len, write_vec, Decode, DecodeError, Encode, Reader};
use crate::hash::{sha256d, Hash256};
use crate::merkle::merkle_root;
use crate::transaction::Transaction;

/// Bytes in a serialized header.
pub const HEADER_SIZE: usize = 80;

/// A block header: what proof of work commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockHeader {
    /// The block format version.
    pub version: i32,
    /// The hash of the previous block's header (zero for a genesis block).
    pub prev_block: Hash256,
    /// The merkle root of the block's transaction ids.
    pub merkle_root: Hash256,
    /// Unix time the miner claims.
    pub time: u32,
    /// The target in compact form (see `pow`).
    pub bits: u32,
    /// The value miners vary to meet the target.
    pub nonce: u32,
}

impl BlockHeader {
    /// The 80 serialized bytes. The first 64 never change while a miner varies the nonce,
    /// which is what makes a SHA-256 midstate worthwhile.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_block.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// The block hash: sha256d of the 80 bytes.
    pub fn hash(&self) -> Hash256 {
        sha256d(&self.to_bytes())
    }
}

impl Encode for BlockHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }
}

impl Decode for BlockHeader {
    const MIN_ENCODED_SIZE: usize = HEADER_SIZE;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockHeader {
            version: r.read_i32("header version")?,
            prev_block: Hash256(r.read_array("header prev block")?),
            merkle_root: Hash256(r.read_array("header merkle root")?),
            time: r.read_u32("header time")?,
            bits: r.read_u32("header bits")?,
            nonce: r.read_u32("header nonce")?,
        })
    }
}

/// A block: a header and its transactions, the coinbase first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions; the first is the coinbase.
    pub txs: Vec<Transaction>,
}

impl Block {
    /// The block hash (its header's hash).
    pub fn hash(&self) -> Hash256 {
        self.header.hash()
    }

    /// The merkle root of the transactions and whether the list is mutated (see
    /// [`merkle_root`]).
    pub fn compute_merkle_root(&self) -> (Hash256, bool) {
        merkle_root(&self.txids())
    }

    /// Every transaction's id, in order.
    pub fn txids(&self) -> Vec<Hash256> {
        self.txs.iter().map(Transaction::txid).collect()
    }

    /// The length of the serialization in bytes, counted without serializing.
    pub fn size(&self) -> usize {
        HEADER_SIZE
            + compact_size_len(self.txs.len() as u64)
            + self.txs.iter().map(Transaction::size).sum::<usize>()
    }
}

impl Encode for Block {
    fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        write_vec(out, &self.txs);
    }
}

impl Decode for Block {
    const MIN_ENCODED_SIZE: usize = HEADER_SIZE + 1;
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Block {
            header: BlockHeader::decode(r)?,
            txs: r.read_vec("block transactions")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{deserialize, serialize, DecodeErrorKind};
    use crate::test_vectors::GENESIS_COINBASE_HEX;

    /// Bitcoin's genesis block, built from its published fields.
    fn bitcoin_genesis() -> Block {
        let coinbase = deserialize(&hex::decode(GENESIS_COINBASE_HEX).unwrap()).unwrap();
        let header = BlockHeader {
            version: 1,
            prev_block: Hash256::ZERO,
            merkle_root: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
                .parse()
                .unwrap(),
            time: 1_231_006_505,
            bits: 0x1d00ffff,
            nonce: 2_083_236_893,
        };
        Block {
            header,
            txs: vec![coinbase],
        }
    }

    #[test]
    fn bitcoin_genesis_hash_and_merkle_root() {
        let block = bitcoin_genesis();
        assert_eq!(
            block.hash().to_string(),
            "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
        );
        assert_eq!(block.compute_merkle_root(), (block.txs[0].txid(), false));
        assert_eq!(block.compute_merkle_root().0, block.header.merkle_root);
        assert_eq!(block.size(), 285);
        assert_eq!(block.size(), serialize(&block).len());
    }

    #[test]
    fn block_round_trips_and_rejects_trailing_bytes() {
        let block = bitcoin_genesis();
        let mut bytes = serialize(&block);
        assert_eq!(deserialize::<Block>(&bytes).unwrap(), block);
        assert_eq!(
            deserialize::<BlockHeader>(&bytes[..80]).unwrap(),
            block.header
        );
        bytes.push(0);
        let err = deserialize::<Block>(&bytes).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 1 });
        assert_eq!(err.what, "Block");
    }

    #[test]
    fn huge_transaction_count_fails_fast() {
        let mut bytes = serialize(&bitcoin_genesis().header);
        bytes.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x01]);
        let err = deserialize::<Block>(&bytes).unwrap_err();
        assert_eq!(err.what, "block transactions");
        assert_eq!(err.offset, 80);
    }
}
