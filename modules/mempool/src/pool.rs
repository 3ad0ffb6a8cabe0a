//! The pool's data structure: entries with their in-pool parents and children, who spends
//! which outpoint, and the queries admission, eviction and block selection need.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use node_api::chain::{Hash256, OutPoint, Transaction, TxOut};
use node_api::EntryInfo;

pub(crate) struct Entry {
    pub(crate) tx: Arc<Transaction>,
    pub(crate) fee: u64,
    pub(crate) size: usize,
    /// Unix seconds at admission.
    pub(crate) time: u64,
    /// Chain height at admission.
    pub(crate) height: u32,
    /// Admission order: parents always come before children.
    pub(crate) sequence: u64,
    pub(crate) parents: HashSet<Hash256>,
    pub(crate) children: HashSet<Hash256>,
}

#[derive(Default)]
pub(crate) struct Pool {
    entries: HashMap<Hash256, Entry>,
    spent_by: HashMap<OutPoint, Hash256>,
    bytes: usize,
    next_sequence: u64,
    /// Entries by admission number, for readers that must see every admission in order
    /// (`admitted_since`): one 40-byte node per entry.
    by_sequence: BTreeMap<u64, Hash256>,
    /// `prioritisetransaction` fee deltas, satoshis: counted by block selection and
    /// eviction, never paid. Kept for a transaction not yet pooled (it applies when it
    /// arrives) and dropped when it leaves the pool. One entry per call at most, so the
    /// RPC user bounds it.
    deltas: HashMap<Hash256, i64>,
}

impl Pool {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn get(&self, txid: &Hash256) -> Option<&Entry> {
        self.entries.get(txid)
    }

    pub(crate) fn contains(&self, txid: &Hash256) -> bool {
        self.entries.contains_key(txid)
    }

    /// The entry spending `outpoint`, if any.
    pub(crate) fn spender(&self, outpoint: &OutPoint) -> Option<Hash256> {
        self.spent_by.get(outpoint).copied()
    }

    /// An output created by an entry (spent or not).
    pub(crate) fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.entries
            .get(&outpoint.txid)?
            .tx
            .outputs
            .get(outpoint.vout as usize)
    }

    /// Entries admitted after admission number `after`, in admission order, at most `max`.
    pub(crate) fn admitted_since(&self, after: u64, max: usize) -> Vec<(u64, Hash256, &Entry)> {
        self.by_sequence
            .range(after.saturating_add(1)..)
            .take(max)
            .filter_map(|(sequence, txid)| Some((*sequence, *txid, self.entries.get(txid)?)))
            .collect()
    }

    /// The admission number of the last transaction admitted (0 before any).
    pub(crate) fn last_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Every entry in admission order (parents before children).
    pub(crate) fn in_order(&self) -> Vec<&Entry> {
        let mut all: Vec<&Entry> = self.entries.values().collect();
        all.sort_by_key(|e| e.sequence);
        all
    }

    fn walk(&self, start: impl IntoIterator<Item = Hash256>, up: bool) -> HashSet<Hash256> {
        let mut seen = HashSet::new();
        let mut stack: Vec<Hash256> = start.into_iter().collect();
        while let Some(txid) = stack.pop() {
            if !seen.insert(txid) {
                continue;
            }
            if let Some(e) = self.entries.get(&txid) {
                let next = if up { &e.parents } else { &e.children };
                stack.extend(next.iter().copied());
            }
        }
        seen
    }

    /// In-pool ancestors of a transaction whose in-pool parents are `parents`.
    pub(crate) fn ancestors_of(&self, parents: &HashSet<Hash256>) -> HashSet<Hash256> {
        self.walk(parents.iter().copied(), true)
    }

    /// Fees of every entry, satoshis.
    pub(crate) fn total_fee(&self) -> u64 {
        self.entries.values().map(|e| e.fee).sum()
    }

    /// `txid` and every in-pool descendant.
    pub(crate) fn descendants(&self, txid: &Hash256) -> HashSet<Hash256> {
        self.walk([*txid], false)
    }

    /// Adds a transaction whose inputs were checked: none is spent by another entry.
    pub(crate) fn insert(&mut self, tx: Arc<Transaction>, fee: u64, time: u64, height: u32) {
        let txid = tx.txid();
        let parents: HashSet<Hash256> = tx
            .inputs
            .iter()
            .map(|i| i.prevout.txid)
            .filter(|p| self.entries.contains_key(p))
            .collect();
        for parent in &parents {
            if let Some(p) = self.entries.get_mut(parent) {
                p.children.insert(txid);
            }
        }
        for input in &tx.inputs {
            self.spent_by.insert(input.prevout, txid);
        }
        let size = tx.size();
        self.bytes += size;
        self.next_sequence += 1;
        self.by_sequence.insert(self.next_sequence, txid);
        self.entries.insert(
            txid,
            Entry {
                tx,
                fee,
                size,
                time,
                height,
                sequence: self.next_sequence,
                parents,
                children: HashSet::new(),
            },
        );
    }

    /// Removes one entry; its children lose it as a parent (used when a block confirms
    /// it, so the children's inputs now come from the chain).
    /// Adds `delta` to the fee `txid` counts with (Core's `prioritisetransaction`).
    pub(crate) fn prioritise(&mut self, txid: Hash256, delta: i64) {
        let total = self.deltas.entry(txid).or_default();
        *total = total.saturating_add(delta);
        if *total == 0 {
            self.deltas.remove(&txid);
        }
    }

    /// The fee delta of `txid`.
    pub(crate) fn delta(&self, txid: &Hash256) -> i64 {
        self.deltas.get(txid).copied().unwrap_or(0)
    }

    /// The fee an entry counts with: its fee plus its delta, at least zero.
    fn modified_fee(&self, txid: &Hash256) -> u64 {
        let fee = self.entries[txid].fee;
        fee.saturating_add_signed(self.delta(txid))
    }

    /// The fee rate an entry counts with (its modified fee), satoshis per 1000 bytes.
    pub(crate) fn fee_rate_per_kb(&self, txid: &Hash256) -> Option<u64> {
        let entry = self.entries.get(txid)?;
        Some(self.modified_fee(txid).saturating_mul(1000) / entry.size.max(1) as u64)
    }

    pub(crate) fn remove(&mut self, txid: &Hash256) -> Option<Entry> {
        let entry = self.entries.remove(txid)?;
        self.by_sequence.remove(&entry.sequence);
        self.deltas.remove(txid);
        for input in &entry.tx.inputs {
            if self.spent_by.get(&input.prevout) == Some(txid) {
                self.spent_by.remove(&input.prevout);
            }
        }
        for parent in &entry.parents {
            if let Some(p) = self.entries.get_mut(parent) {
                p.children.remove(txid);
            }
        }
        for child in &entry.children {
            if let Some(c) = self.entries.get_mut(child) {
                c.parents.remove(txid);
            }
        }
        self.bytes -= entry.size;
        Some(entry)
    }

    /// Removes an entry and everything that spends it, children first.
    pub(crate) fn remove_with_descendants(&mut self, txid: &Hash256) -> Vec<Entry> {
        let mut doomed: Vec<Hash256> = self.descendants(txid).into_iter().collect();
        doomed.sort_by_key(|t| std::cmp::Reverse(self.entries.get(t).map(|e| e.sequence)));
        doomed.iter().filter_map(|t| self.remove(t)).collect()
    }

    /// The entry without children that pays the lowest fee rate: evicting it never
    /// strands a child.
    pub(crate) fn cheapest_leaf(&self) -> Option<Hash256> {
        self.entries
            .iter()
            .filter(|(_, e)| e.children.is_empty())
            .min_by(|(ta, a), (tb, b)| {
                let (fa, fb) = (self.modified_fee(ta), self.modified_fee(tb));
                // fa / a.size < fb / b.size, compared without division.
                (u128::from(fa) * b.size as u128).cmp(&(u128::from(fb) * a.size as u128))
            })
            .map(|(txid, _)| *txid)
    }

    /// Entries for a block: by ancestor-package fee rate, each with its unselected
    /// ancestors first, within `max_bytes` and `max_txs`.
    pub(crate) fn select(&self, max_bytes: usize, max_txs: usize) -> Vec<Hash256> {
        let mut scored: Vec<(Hash256, u64, usize)> = self
            .entries
            .keys()
            .map(|txid| {
                let package = self.walk([*txid], true);
                let fee: u64 = package.iter().map(|t| self.modified_fee(t)).sum();
                let size: usize = package.iter().map(|t| self.entries[t].size).sum();
                (*txid, fee, size)
            })
            .collect();
        scored.sort_by(|a, b| {
            (u128::from(b.1) * a.2 as u128)
                .cmp(&(u128::from(a.1) * b.2 as u128))
                .then(
                    self.entries[&a.0]
                        .sequence
                        .cmp(&self.entries[&b.0].sequence),
                )
        });
        let mut selected: HashSet<Hash256> = HashSet::new();
        let mut order = Vec::new();
        let mut bytes = 0;
        for (txid, _, _) in scored {
            if selected.contains(&txid) {
                continue;
            }
            let mut package: Vec<Hash256> = self
                .walk([txid], true)
                .into_iter()
                .filter(|t| !selected.contains(t))
                .collect();
            package.sort_by_key(|t| self.entries[t].sequence);
            let size: usize = package.iter().map(|t| self.entries[t].size).sum();
            if bytes + size > max_bytes || order.len() + package.len() > max_txs {
                continue;
            }
            bytes += size;
            for t in package {
                selected.insert(t);
                order.push(t);
            }
        }
        order
    }

    pub(crate) fn info(&self, txid: &Hash256) -> Option<EntryInfo> {
        let entry = self.entries.get(txid)?;
        let ancestors = self.walk([*txid], true);
        let descendants = self.walk([*txid], false);
        let sum = |set: &HashSet<Hash256>| -> (usize, u64) {
            set.iter().fold((0, 0), |(s, f), t| {
                let e = &self.entries[t];
                (s + e.size, f + e.fee)
            })
        };
        let (ancestor_size, ancestor_fees) = sum(&ancestors);
        let (descendant_size, descendant_fees) = sum(&descendants);
        let mut depends: Vec<Hash256> = entry.parents.iter().copied().collect();
        depends.sort();
        let mut spent_by: Vec<Hash256> = entry.children.iter().copied().collect();
        spent_by.sort();
        Some(EntryInfo {
            txid: *txid,
            size: entry.size,
            fee: entry.fee,
            time: entry.time,
            height: entry.height,
            ancestor_count: ancestors.len(),
            ancestor_size,
            ancestor_fees,
            descendant_count: descendants.len(),
            descendant_size,
            descendant_fees,
            depends,
            spent_by,
        })
    }

    pub(crate) fn txids(&self) -> Vec<Hash256> {
        self.in_order().iter().map(|e| e.tx.txid()).collect()
    }

    /// Entries admitted before `cutoff` (unix seconds).
    pub(crate) fn older_than(&self, cutoff: u64) -> Vec<Hash256> {
        self.entries
            .iter()
            .filter(|(_, e)| e.time < cutoff)
            .map(|(t, _)| *t)
            .collect()
    }

    /// Takes every entry out, in admission order (for re-validation after a reorg).
    pub(crate) fn drain(&mut self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.entries.drain().map(|(_, e)| e).collect();
        all.sort_by_key(|e| e.sequence);
        self.spent_by.clear();
        self.bytes = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use node_api::chain::{TxIn, TxOut};

    use super::*;

    fn tx(seed: u8) -> Arc<Transaction> {
        Arc::new(Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: Hash256([seed; 32]),
                    vout: 0,
                },
                script_sig: vec![seed],
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut {
                value: 1000,
                script_pubkey: vec![],
            }],
            lock_time: 0,
        })
    }

    #[test]
    fn fee_deltas_reorder_selection_and_eviction() {
        let mut pool = Pool::default();
        let (rich, poor) = (tx(1), tx(2));
        pool.insert(rich.clone(), 5000, 0, 0);
        pool.insert(poor.clone(), 100, 0, 0);
        assert_eq!(pool.select(usize::MAX, usize::MAX)[0], rich.txid());
        assert_eq!(pool.cheapest_leaf(), Some(poor.txid()));

        pool.prioritise(poor.txid(), 10_000);
        assert_eq!(pool.select(usize::MAX, usize::MAX)[0], poor.txid());
        assert_eq!(pool.cheapest_leaf(), Some(rich.txid()));
        // Deltas add up; the fee counted never goes below zero.
        pool.prioritise(rich.txid(), -1_000_000);
        assert_eq!(pool.modified_fee(&rich.txid()), 0);
        pool.prioritise(poor.txid(), -10_000);
        assert_eq!(pool.delta(&poor.txid()), 0);

        // A delta given before the transaction arrives applies when it does, and goes
        // with it.
        let later = tx(3);
        pool.prioritise(later.txid(), 7);
        pool.insert(later.clone(), 1, 0, 0);
        assert_eq!(pool.modified_fee(&later.txid()), 8);
        pool.remove(&later.txid());
        assert_eq!(pool.delta(&later.txid()), 0);
    }

    #[test]
    fn admissions_are_read_in_order_from_a_cursor_and_removed_ones_are_skipped() {
        let mut pool = Pool::default();
        assert_eq!(pool.last_sequence(), 0);
        let txs: Vec<_> = (1..=5).map(tx).collect();
        for t in &txs {
            pool.insert(t.clone(), 1, 0, 0);
        }
        assert_eq!(pool.last_sequence(), 5);
        pool.remove(&txs[1].txid());
        let read: Vec<(u64, Hash256)> = pool
            .admitted_since(0, 3)
            .into_iter()
            .map(|(sequence, txid, _)| (sequence, txid))
            .collect();
        assert_eq!(
            read,
            vec![(1, txs[0].txid()), (3, txs[2].txid()), (4, txs[3].txid())]
        );
        let rest: Vec<u64> = pool.admitted_since(4, 3).iter().map(|a| a.0).collect();
        assert_eq!(rest, vec![5]);
        assert!(pool.admitted_since(5, 3).is_empty());
        // A transaction admitted again (after a reorganisation) gets a new number.
        pool.insert(txs[1].clone(), 1, 0, 0);
        let again: Vec<u64> = pool.admitted_since(5, 3).iter().map(|a| a.0).collect();
        assert_eq!(again, vec![6]);
    }
}
