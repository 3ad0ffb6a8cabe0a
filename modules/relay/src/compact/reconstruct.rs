//! Rebuilding a block from a `cmpctblock` (Bitcoin Core's `PartiallyDownloadedBlock`):
//! prefilled transactions at their positions, the rest matched by short id against the
//! mempool and the extra pool; what is still missing is asked with one `getblocktxn`.
//!
//! A short id two of our transactions share is left missing (asked for), never guessed.
//! The rebuilt block's merkle root must match its header: a mismatch means some short id
//! matched the wrong transaction, and the full block is asked instead.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::chain::{merkle_root, Block, BlockHeader, Hash256, Transaction};
use node_api::p2p::HeaderAndShortIds;
use node_api::MempoolService;

use super::extra_pool::ExtraPool;

/// Why a compact block cannot be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The sender broke BIP152 (a prefilled position outside the block, no transactions,
    /// a `blocktxn` of the wrong length): misbehaviour.
    Invalid(&'static str),
    /// Short ids collide or matched the wrong transaction: ask for the full block.
    Failed(&'static str),
}

/// A block being rebuilt.
pub(crate) struct PartialBlock {
    header: BlockHeader,
    slots: Vec<Option<Transaction>>,
}

impl PartialBlock {
    /// Places the prefilled transactions and every one the mempool or `extra` holds.
    pub(crate) fn start(
        compact: &HeaderAndShortIds,
        mempool: &dyn MempoolService,
        extra: &ExtraPool,
    ) -> Result<PartialBlock, Refused> {
        let count = compact.tx_count();
        if count == 0 {
            return Err(Refused::Invalid("compact block without transactions"));
        }
        let mut slots: Vec<Option<Transaction>> = vec![None; count];
        let mut prefilled = vec![false; count];
        for p in &compact.prefilled {
            let index = usize::from(p.index);
            if index >= count {
                return Err(Refused::Invalid("prefilled transaction outside the block"));
            }
            slots[index] = Some(p.tx.clone());
            prefilled[index] = true;
        }
        // Short ids fill the positions not prefilled, in order.
        let mut by_short_id: HashMap<u64, usize> = HashMap::with_capacity(compact.short_ids.len());
        let mut positions = (0..count).filter(|i| !prefilled[*i]);
        for id in &compact.short_ids {
            let Some(position) = positions.next() else {
                return Err(Refused::Invalid("more short ids than positions"));
            };
            if by_short_id.insert(*id, position).is_some() {
                return Err(Refused::Failed(
                    "two transactions of the block share a short id",
                ));
            }
        }
        let key = compact.key();
        // A position two candidates claim stays missing.
        let mut ambiguous = vec![false; count];
        let mut place = |txid: &Hash256, tx: &dyn Fn() -> Option<Arc<Transaction>>| {
            let Some(&position) = by_short_id.get(&key.short_id(txid)) else {
                return;
            };
            if ambiguous[position] {
                return;
            }
            match &slots[position] {
                Some(held) if held.txid() != *txid => {
                    slots[position] = None;
                    ambiguous[position] = true;
                }
                Some(_) => {}
                None => slots[position] = tx().map(|t| (*t).clone()),
            }
        };
        for txid in mempool.txids() {
            place(&txid, &|| mempool.get(&txid));
        }
        for (txid, tx) in extra.iter() {
            place(txid, &|| Some(tx.clone()));
        }
        Ok(PartialBlock {
            header: compact.header,
            slots,
        })
    }

    /// Positions still missing, increasing.
    pub(crate) fn missing(&self) -> Vec<u16> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none())
            // Positions fit 16 bits: the decoder refuses larger blocks.
            .map(|(i, _)| i as u16)
            .collect()
    }

    /// The block, with `txs` (a `blocktxn`'s, in the order of [`PartialBlock::missing`])
    /// in the missing positions, checked against the header's merkle root.
    pub(crate) fn finish(mut self, txs: Vec<Transaction>) -> Result<Block, Refused> {
        let missing = self.missing();
        if txs.len() != missing.len() {
            return Err(Refused::Invalid("blocktxn does not match the request"));
        }
        for (position, tx) in missing.into_iter().zip(txs) {
            self.slots[usize::from(position)] = Some(tx);
        }
        let txs: Vec<Transaction> = self.slots.into_iter().flatten().collect();
        let txids: Vec<Hash256> = txs.iter().map(Transaction::txid).collect();
        let (root, mutated) = merkle_root(&txids);
        if root != self.header.merkle_root || mutated {
            return Err(Refused::Failed(
                "the rebuilt block does not match its merkle root",
            ));
        }
        Ok(Block {
            header: self.header,
            txs,
        })
    }
}
