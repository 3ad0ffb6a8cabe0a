//! The mempool by script: which pooled transactions pay or spend from each script, with
//! their fees and whether they spend an unconfirmed output. Rebuilt by difference from
//! the mempool service at each refresh (a new transaction is read once; every entry's
//! parents are read again from the service's figures, as they change when a parent
//! confirms).
//!
//! Cost: one pass over the pool's entries per refresh; memory about 200 bytes per
//! pooled transaction plus 40 per script it touches.

use std::collections::{BTreeSet, HashMap};

use node_api::chain::script::is_op_return;
use node_api::chain::{Hash256, OutPoint};
use node_api::MempoolService;

use crate::store::{script_hash, ScriptHash, Store, StoreError, Touched};

/// What a pooled transaction does to scripts.
#[derive(Debug, Clone)]
pub(crate) struct PoolTx {
    /// Satoshis.
    pub(crate) fee: u64,
    /// Bytes.
    pub(crate) size: usize,
    /// Whether an input spends a pooled transaction's output.
    pub(crate) unconfirmed_parent: bool,
    /// Outputs it creates: (vout, script, value).
    pub(crate) funds: Vec<(u32, ScriptHash, u64)>,
    /// Outputs it spends that paid a known script: (outpoint, script, value).
    pub(crate) spends: Vec<(OutPoint, ScriptHash, u64)>,
    /// Whether every input was attributed (false while the index trails the chain).
    complete: bool,
}

impl PoolTx {
    fn scripts(&self) -> impl Iterator<Item = &ScriptHash> {
        self.funds
            .iter()
            .map(|(_, s, _)| s)
            .chain(self.spends.iter().map(|(_, s, _)| s))
    }
}

/// The pool, by script.
#[derive(Default)]
pub(crate) struct PoolIndex {
    txs: HashMap<Hash256, PoolTx>,
    by_script: HashMap<ScriptHash, BTreeSet<Hash256>>,
}

impl PoolIndex {
    /// Brings the view to what `mempool` holds now; returns the scripts whose mempool
    /// rows changed. `recheck` reads every entry's inputs again (after the index moved).
    pub(crate) fn refresh(
        &mut self,
        mempool: &dyn MempoolService,
        store: &Store,
        recheck: bool,
    ) -> Result<Touched, StoreError> {
        let entries = mempool.entries();
        let mut touched = Touched::new();
        let live: std::collections::HashSet<Hash256> = entries.iter().map(|e| e.txid).collect();
        let gone: Vec<Hash256> = self
            .txs
            .keys()
            .filter(|txid| !live.contains(txid))
            .copied()
            .collect();
        for txid in gone {
            self.remove(&txid, &mut touched);
        }
        // Admission order: a parent is read before its children.
        for entry in &entries {
            let unconfirmed_parent = !entry.depends.is_empty();
            if let Some(known) = self.txs.get_mut(&entry.txid) {
                if known.unconfirmed_parent != unconfirmed_parent {
                    known.unconfirmed_parent = unconfirmed_parent;
                    touched.extend(known.scripts().copied());
                }
                if known.complete && !recheck {
                    continue;
                }
                self.remove(&entry.txid, &mut touched);
            }
            let Some(tx) = mempool.get(&entry.txid) else {
                continue;
            };
            let mut pool_tx = PoolTx {
                fee: entry.fee,
                size: entry.size,
                unconfirmed_parent,
                funds: Vec::new(),
                spends: Vec::new(),
                complete: true,
            };
            for input in &tx.inputs {
                let parent = self.txs.get(&input.prevout.txid).and_then(|p| {
                    p.funds
                        .iter()
                        .find(|(vout, _, _)| *vout == input.prevout.vout)
                        .map(|(_, s, v)| (*s, *v))
                });
                let spent = match parent {
                    Some(found) => Some(found),
                    None => store.funding(&input.prevout)?.map(|f| (f.script, f.value)),
                };
                match spent {
                    Some((script, value)) => pool_tx.spends.push((input.prevout, script, value)),
                    None => pool_tx.complete = false,
                }
            }
            for (vout, output) in tx.outputs.iter().enumerate() {
                if !is_op_return(&output.script_pubkey) {
                    pool_tx.funds.push((
                        vout as u32,
                        script_hash(&output.script_pubkey),
                        output.value,
                    ));
                }
            }
            for script in pool_tx.scripts() {
                self.by_script
                    .entry(*script)
                    .or_default()
                    .insert(entry.txid);
                touched.insert(*script);
            }
            self.txs.insert(entry.txid, pool_tx);
        }
        Ok(touched)
    }

    fn remove(&mut self, txid: &Hash256, touched: &mut Touched) {
        let Some(tx) = self.txs.remove(txid) else {
            return;
        };
        for script in tx.scripts() {
            touched.insert(*script);
            if let Some(set) = self.by_script.get_mut(script) {
                set.remove(txid);
                if set.is_empty() {
                    self.by_script.remove(script);
                }
            }
        }
    }

    /// The pooled transactions touching `script`, with their figures.
    pub(crate) fn for_script(&self, script: &ScriptHash) -> Vec<(Hash256, &PoolTx)> {
        self.by_script
            .get(script)
            .into_iter()
            .flatten()
            .filter_map(|txid| Some((*txid, self.txs.get(txid)?)))
            .collect()
    }

    /// Every pooled transaction's fee and size, for the fee histogram.
    pub(crate) fn fees(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.txs.values().map(|t| (t.fee, t.size))
    }
}
