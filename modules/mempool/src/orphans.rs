//! Transactions whose parents we have not seen yet, kept a while so that a child that
//! overtakes its parent on the network is not lost. Bounded in count and time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use node_api::chain::{Hash256, Transaction};

/// An orphan larger than this is not kept: a parent-less giant is more likely an attack
/// than a race (Bitcoin Core's limit).
const MAX_ORPHAN_SIZE: usize = 100_000;

struct Orphan {
    tx: Arc<Transaction>,
    time: u64,
}

#[derive(Default)]
pub(crate) struct Orphans {
    by_txid: HashMap<Hash256, Orphan>,
    by_parent: HashMap<Hash256, HashSet<Hash256>>,
}

impl Orphans {
    pub(crate) fn len(&self) -> usize {
        self.by_txid.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_txid.is_empty()
    }

    /// Keeps `tx` until its parents arrive; the oldest orphan makes room when full.
    pub(crate) fn add(&mut self, tx: Arc<Transaction>, time: u64, max: usize) -> bool {
        let txid = tx.txid();
        if max == 0 || tx.size() > MAX_ORPHAN_SIZE || self.by_txid.contains_key(&txid) {
            return false;
        }
        while self.by_txid.len() >= max {
            let oldest = self
                .by_txid
                .iter()
                .min_by_key(|(_, o)| o.time)
                .map(|(t, _)| *t)
                .expect("full, so not empty");
            self.remove(&oldest);
        }
        for input in &tx.inputs {
            self.by_parent
                .entry(input.prevout.txid)
                .or_default()
                .insert(txid);
        }
        self.by_txid.insert(txid, Orphan { tx, time });
        true
    }

    pub(crate) fn remove(&mut self, txid: &Hash256) -> Option<Arc<Transaction>> {
        let orphan = self.by_txid.remove(txid)?;
        for input in &orphan.tx.inputs {
            if let Some(set) = self.by_parent.get_mut(&input.prevout.txid) {
                set.remove(txid);
                if set.is_empty() {
                    self.by_parent.remove(&input.prevout.txid);
                }
            }
        }
        Some(orphan.tx)
    }

    /// Takes out the orphans that spend an output of `parent`.
    pub(crate) fn take_children(&mut self, parent: &Hash256) -> Vec<Arc<Transaction>> {
        let children: Vec<Hash256> = self
            .by_parent
            .get(parent)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        children.iter().filter_map(|t| self.remove(t)).collect()
    }

    /// Drops orphans that arrived before `cutoff` (unix seconds).
    pub(crate) fn expire(&mut self, cutoff: u64) -> usize {
        let old: Vec<Hash256> = self
            .by_txid
            .iter()
            .filter(|(_, o)| o.time < cutoff)
            .map(|(t, _)| *t)
            .collect();
        old.iter().filter(|t| self.remove(t).is_some()).count()
    }
}
