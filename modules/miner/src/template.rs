//! Block templates: the mempool's best transactions after a coinbase that pays subsidy
//! plus fees with the BIP34 height and an extranonce.

use std::sync::Arc;

use node_api::chain::script::{bip34_height_prefix, push_slice};
use node_api::chain::{merkle_root, Block, BlockHeader, Hash256, NextBlock, Transaction};
use node_api::{ChainView, MempoolService};

/// Bytes kept for the header, the transaction count and the coinbase, as Bitcoin Core
/// reserves 4000 weight units for them.
pub(crate) const COINBASE_RESERVE: usize = 1000;
/// Written in every coinbase after the extranonce.
const COINBASE_TAG: &[u8] = b"/node/";

/// A block being mined.
pub(crate) struct Template {
    pub(crate) next: NextBlock,
    pub(crate) payout: Vec<u8>,
    pub(crate) value: u64,
    pub(crate) txs: Vec<Arc<Transaction>>,
    pub(crate) extranonce: u64,
    pub(crate) time: u32,
}

impl Template {
    /// Builds a template on the current tip from the pool's best transactions.
    pub(crate) fn build(
        chain: &dyn ChainView,
        mempool: &dyn MempoolService,
        payout: Vec<u8>,
        max_bytes: usize,
        max_txs: usize,
        now: u32,
    ) -> Template {
        let next = chain.next_block();
        let selected = mempool.select(max_bytes.saturating_sub(COINBASE_RESERVE), max_txs);
        let fees: u64 = selected.iter().map(|s| s.fee).sum();
        let value = chain.spec().subsidy(next.height) + fees;
        let time = now.max(next.min_time + 1);
        Template {
            next,
            payout,
            value,
            txs: selected.into_iter().map(|s| s.tx).collect(),
            extranonce: 0,
            time,
        }
    }

    fn coinbase(&self) -> Transaction {
        let mut script = bip34_height_prefix(self.next.height);
        push_slice(&mut script, &self.extranonce.to_le_bytes());
        push_slice(&mut script, COINBASE_TAG);
        Transaction::coinbase(script, self.payout.clone(), self.value)
    }

    /// The block for the current extranonce, nonce zero.
    pub(crate) fn block(&self) -> Block {
        let mut txs = vec![self.coinbase()];
        txs.extend(self.txs.iter().map(|t| (**t).clone()));
        let txids: Vec<Hash256> = txs.iter().map(|t| t.txid()).collect();
        Block {
            header: BlockHeader {
                version: 1,
                prev_block: self.next.prev,
                merkle_root: merkle_root(&txids).0,
                time: self.time,
                bits: self.next.bits,
                nonce: 0,
            },
            txs,
        }
    }
}
