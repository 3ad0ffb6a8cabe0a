//! BIP152 compact blocks, version 1 (legacy transactions, short ids over txids): the
//! payloads of `sendcmpct`, `cmpctblock`, `getblocktxn` and `blocktxn`, and the short
//! transaction ids.
//!
//! A short id is SipHash-2-4 of the txid, keyed by the first two little-endian 64-bit
//! words of SHA-256(header || nonce), cut to its low 48 bits (6 bytes on the wire).
//! Transaction positions travel differentially encoded: each is the gap from the
//! previous one, less one; decoded positions above 65,535 (and blocks of more than
//! 65,535 transactions) are malformed, as in Bitcoin Core.

use std::hash::Hasher;

use node_chain::encode::{write_compact_size, DecodeErrorKind};
use node_chain::{Block, BlockHeader, Decode, DecodeError, Encode, Hash256, Reader, Transaction};
use sha2::{Digest, Sha256};
use siphasher::sip::SipHasher24;

/// Inventory type asking for a block as `cmpctblock` (in `getdata` only).
pub const MSG_CMPCT_BLOCK: u32 = 4;
/// The compact block version spoken here: 1, short ids over txids (no witness).
pub const COMPACT_VERSION: u64 = 1;
/// Most transactions a compact block, a `getblocktxn` or a `blocktxn` may name: positions
/// are 16-bit (Bitcoin Core's limit).
pub const MAX_COMPACT_TXS: usize = u16::MAX as usize;
/// The low 48 bits a short id keeps.
const SHORT_ID_MASK: u64 = 0xffff_ffff_ffff;

/// `sendcmpct`: whether the sender wants new blocks pushed as `cmpctblock` (high
/// bandwidth, `announce`) or announced and fetched on request (low bandwidth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCmpct {
    /// High-bandwidth mode: push `cmpctblock` before validating the block fully.
    pub announce: bool,
    /// The compact block version; this crate speaks [`COMPACT_VERSION`].
    pub version: u64,
}

/// The SipHash key of one compact block's short ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortIdKey {
    k0: u64,
    k1: u64,
}

impl ShortIdKey {
    /// The key of `header` and `nonce`: SHA-256 (single) of the header's 80 bytes and the
    /// nonce's 8 little-endian bytes.
    pub fn new(header: &BlockHeader, nonce: u64) -> ShortIdKey {
        let mut bytes = Vec::with_capacity(88);
        header.encode(&mut bytes);
        nonce.encode(&mut bytes);
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        ShortIdKey {
            k0: word(0),
            k1: word(1),
        }
    }

    /// The 48-bit short id of `txid`.
    pub fn short_id(&self, txid: &Hash256) -> u64 {
        let mut hasher = SipHasher24::new_with_keys(self.k0, self.k1);
        hasher.write(txid.as_bytes());
        hasher.finish() & SHORT_ID_MASK
    }
}

/// A transaction sent whole inside a compact block, at its position in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefilledTx {
    /// Position in the block (absolute; the wire carries the gap from the previous one).
    pub index: u16,
    /// The transaction.
    pub tx: Transaction,
}

/// `cmpctblock` (BIP152's `HeaderAndShortIDs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderAndShortIds {
    /// The block's header.
    pub header: BlockHeader,
    /// Chosen by the sender; keys the short ids.
    pub nonce: u64,
    /// Short ids of the transactions not prefilled, in block order (48 bits each).
    pub short_ids: Vec<u64>,
    /// Transactions sent whole, in increasing position (at least the coinbase).
    pub prefilled: Vec<PrefilledTx>,
}

impl HeaderAndShortIds {
    /// The compact form of `block` with the coinbase prefilled, as Bitcoin Core sends it.
    /// A block of more than [`MAX_COMPACT_TXS`] transactions has no compact form.
    pub fn from_block(block: &Block, nonce: u64) -> Option<HeaderAndShortIds> {
        if block.txs.is_empty() || block.txs.len() > MAX_COMPACT_TXS {
            return None;
        }
        let key = ShortIdKey::new(&block.header, nonce);
        Some(HeaderAndShortIds {
            header: block.header,
            nonce,
            short_ids: block.txs[1..]
                .iter()
                .map(|tx| key.short_id(&tx.txid()))
                .collect(),
            prefilled: vec![PrefilledTx {
                index: 0,
                tx: block.txs[0].clone(),
            }],
        })
    }

    /// The key of this block's short ids.
    pub fn key(&self) -> ShortIdKey {
        ShortIdKey::new(&self.header, self.nonce)
    }

    /// Transactions in the block.
    pub fn tx_count(&self) -> usize {
        self.short_ids.len() + self.prefilled.len()
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.header.encode(out);
        self.nonce.encode(out);
        write_compact_size(out, self.short_ids.len() as u64);
        for id in &self.short_ids {
            out.extend_from_slice(&id.to_le_bytes()[..6]);
        }
        write_compact_size(out, self.prefilled.len() as u64);
        let mut next = 0u32;
        for p in &self.prefilled {
            // Positions are increasing (from_block and decode make them so); a caller's
            // out-of-order list is written with a zero gap rather than wrapping.
            write_compact_size(out, u32::from(p.index).saturating_sub(next) as u64);
            next = u32::from(p.index) + 1;
            p.tx.encode(out);
        }
    }
}

/// `getblocktxn` (BIP152's `BlockTransactionsRequest`): transactions of a block, by
/// position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTxnRequest {
    /// The block.
    pub block_hash: Hash256,
    /// Positions wanted, increasing (absolute; the wire carries gaps).
    pub indexes: Vec<u16>,
}

impl BlockTxnRequest {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.block_hash.encode(out);
        write_compact_size(out, self.indexes.len() as u64);
        let mut next = 0u32;
        for index in &self.indexes {
            write_compact_size(out, u32::from(*index).saturating_sub(next) as u64);
            next = u32::from(*index) + 1;
        }
    }
}

/// `blocktxn` (BIP152's `BlockTransactions`): the transactions a `getblocktxn` asked for,
/// in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTxn {
    /// The block.
    pub block_hash: Hash256,
    /// The transactions.
    pub txs: Vec<Transaction>,
}

impl BlockTxn {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.block_hash.encode(out);
        write_compact_size(out, self.txs.len() as u64);
        for tx in &self.txs {
            tx.encode(out);
        }
    }
}

/// Turns a differentially encoded position into an absolute one, refusing overflow of 16
/// bits.
pub(crate) fn next_index(
    r: &Reader<'_>,
    previous: Option<u16>,
    gap: u64,
    what: &'static str,
) -> Result<u16, DecodeError> {
    let base = previous.map_or(0, |p| u64::from(p) + 1);
    let index = base.saturating_add(gap);
    u16::try_from(index).map_err(|_| {
        r.error(
            what,
            DecodeErrorKind::TooLarge {
                claimed: index,
                limit: u64::from(u16::MAX),
            },
        )
    })
}

/// Reads a 6-byte short id.
pub(crate) fn read_short_id(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    let bytes = r.read_array::<6>("short id")?;
    let mut word = [0u8; 8];
    word[..6].copy_from_slice(&bytes);
    Ok(u64::from_le_bytes(word))
}

/// Reads a transaction (the common decoder, named for errors).
pub(crate) fn read_tx(r: &mut Reader<'_>) -> Result<Transaction, DecodeError> {
    Transaction::decode(r)
}
