//! Transactions seen from peers that did not enter the mempool (orphans, refused by
//! policy), kept for rebuilding compact blocks, as Bitcoin Core's
//! `-blockreconstructionextratxn`: a miner's mempool differs from ours, and the block it
//! finds may hold what we refused.
//!
//! Bounded: at most `capacity` transactions; the oldest goes first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use node_api::chain::{Hash256, Transaction};

/// The extra pool.
pub(crate) struct ExtraPool {
    capacity: usize,
    order: VecDeque<Hash256>,
    txs: HashMap<Hash256, Arc<Transaction>>,
}

impl ExtraPool {
    /// An empty pool of at most `capacity` transactions (0 keeps none).
    pub(crate) fn new(capacity: usize) -> ExtraPool {
        ExtraPool {
            capacity,
            order: VecDeque::new(),
            txs: HashMap::new(),
        }
    }

    /// Keeps `tx`, forgetting the oldest one when full.
    pub(crate) fn add(&mut self, tx: &Arc<Transaction>) {
        if self.capacity == 0 {
            return;
        }
        let txid = tx.txid();
        if self.txs.contains_key(&txid) {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.txs.remove(&old);
            }
        }
        self.order.push_back(txid);
        self.txs.insert(txid, tx.clone());
    }

    /// Every kept transaction with its txid.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Hash256, &Arc<Transaction>)> {
        self.txs.iter()
    }

    /// How many are kept.
    pub(crate) fn len(&self) -> usize {
        self.txs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_keeps_the_newest_up_to_its_capacity() {
        let mut pool = ExtraPool::new(3);
        let txs: Vec<Arc<Transaction>> = (0..5u64)
            .map(|i| Arc::new(Transaction::coinbase(vec![i as u8 + 1], vec![0x51], i)))
            .collect();
        for tx in &txs {
            pool.add(tx);
            pool.add(tx);
        }
        assert_eq!(pool.len(), 3);
        let kept: Vec<Hash256> = pool.iter().map(|(id, _)| *id).collect();
        for tx in &txs[2..] {
            assert!(kept.contains(&tx.txid()));
        }
        let mut none = ExtraPool::new(0);
        none.add(&txs[0]);
        assert_eq!(none.len(), 0);
    }
}
