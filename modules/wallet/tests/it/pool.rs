//! A small mempool for the wallet's tests, written against the contract (a module crate
//! never depends on another module's). It checks that inputs exist and are unspent,
//! keeps admission order, and, unless built lagging, follows the chain through a
//! listener as the mempool module does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use node_api::chain::{ChainEvent, Hash256, OutPoint, Transaction, TxOut};
use node_api::{
    Accepted, Admitted, ChainListener, ChainView, EntryInfo, MempoolError, MempoolInfo,
    MempoolService, SelectedTx,
};

pub(crate) struct TestPool {
    chain: Arc<dyn ChainView>,
    /// Transactions and fees, in admission order.
    txs: Mutex<Vec<(Arc<Transaction>, u64)>>,
    /// Admission numbers by txid (the first is 1); entries of transactions gone stay.
    admitted: Mutex<HashMap<Hash256, u64>>,
    /// Runs once, at the next `is_spent`, before it answers: a block connecting between
    /// a caller's reads.
    before_is_spent: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

struct Follower(Weak<TestPool>);

impl ChainListener for Follower {
    fn on_chain_event(&self, event: &ChainEvent) {
        let Some(pool) = self.0.upgrade() else {
            return;
        };
        if let ChainEvent::BlockConnected { block, .. } = event {
            let confirmed: Vec<Hash256> = block.txs.iter().map(|t| t.txid()).collect();
            let spent: Vec<OutPoint> = block
                .txs
                .iter()
                .flat_map(|t| t.inputs.iter().map(|i| i.prevout))
                .collect();
            pool.lock().retain(|(tx, _)| {
                !confirmed.contains(&tx.txid())
                    && !tx.inputs.iter().any(|i| spent.contains(&i.prevout))
            });
        }
    }
}

impl TestPool {
    /// A pool that follows `chain`.
    pub(crate) fn following(chain: Arc<dyn ChainView>) -> Arc<TestPool> {
        let pool = TestPool::lagging(chain.clone());
        chain.listen(Arc::new(Follower(Arc::downgrade(&pool))));
        pool
    }

    /// A pool that never hears of blocks: what a mempool behind the chain looks like.
    pub(crate) fn lagging(chain: Arc<dyn ChainView>) -> Arc<TestPool> {
        Arc::new(TestPool {
            chain,
            txs: Mutex::default(),
            admitted: Mutex::default(),
            before_is_spent: Mutex::default(),
        })
    }

    /// Runs `hook` at the start of the next `is_spent` call.
    pub(crate) fn before_next_is_spent(&self, hook: impl FnOnce() + Send + 'static) {
        *self.before_is_spent.lock().unwrap() = Some(Box::new(hook));
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Arc<Transaction>, u64)>> {
        self.txs.lock().unwrap()
    }

    fn output(txs: &[(Arc<Transaction>, u64)], outpoint: &OutPoint) -> Option<TxOut> {
        txs.iter()
            .find(|(tx, _)| tx.txid() == outpoint.txid)
            .and_then(|(tx, _)| tx.outputs.get(outpoint.vout as usize).cloned())
    }

    fn spender(txs: &[(Arc<Transaction>, u64)], outpoint: &OutPoint) -> Option<Hash256> {
        txs.iter()
            .find(|(tx, _)| tx.inputs.iter().any(|i| i.prevout == *outpoint))
            .map(|(tx, _)| tx.txid())
    }
}

impl MempoolService for TestPool {
    fn accept(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        let mut txs = self.lock();
        let txid = tx.txid();
        if txs.iter().any(|(t, _)| t.txid() == txid) {
            return Err(MempoolError::AlreadyInMempool);
        }
        let mut value_in = 0;
        for input in &tx.inputs {
            if TestPool::spender(&txs, &input.prevout).is_some() {
                return Err(MempoolError::Conflict);
            }
            let pooled = TestPool::output(&txs, &input.prevout).map(|o| o.value);
            let confirmed = || self.chain.coin(&input.prevout).unwrap().map(|c| c.value);
            value_in += pooled
                .or_else(confirmed)
                .ok_or(MempoolError::MissingInputs)?;
        }
        let fee = value_in - tx.outputs.iter().map(|o| o.value).sum::<u64>();
        txs.push((Arc::new(tx), fee));
        let mut admitted = self.admitted.lock().unwrap();
        let sequence = admitted.len() as u64 + 1;
        admitted.insert(txid, sequence);
        Ok(Accepted { txid, fee })
    }

    fn accept_from_peer(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        self.accept(tx)
    }

    fn contains(&self, txid: &Hash256) -> bool {
        self.get(txid).is_some()
    }

    fn get(&self, txid: &Hash256) -> Option<Arc<Transaction>> {
        let txs = self.lock();
        txs.iter()
            .find(|(tx, _)| tx.txid() == *txid)
            .map(|(tx, _)| tx.clone())
    }

    fn txids(&self) -> Vec<Hash256> {
        self.lock().iter().map(|(tx, _)| tx.txid()).collect()
    }

    fn admitted_since(&self, after: u64, max: usize) -> Vec<Admitted> {
        let admitted = self.admitted.lock().unwrap();
        self.lock()
            .iter()
            .filter_map(|(tx, fee)| {
                let txid = tx.txid();
                let sequence = admitted[&txid];
                (sequence > after).then(|| Admitted {
                    sequence,
                    txid,
                    tx: tx.clone(),
                    fee: *fee,
                })
            })
            .take(max)
            .collect()
    }

    fn last_admitted(&self) -> u64 {
        self.admitted.lock().unwrap().len() as u64
    }

    fn entry(&self, txid: &Hash256) -> Option<EntryInfo> {
        let txs = self.lock();
        let (tx, fee) = txs.iter().find(|(tx, _)| tx.txid() == *txid)?;
        let depends = tx
            .inputs
            .iter()
            .map(|i| i.prevout.txid)
            .filter(|p| txs.iter().any(|(t, _)| t.txid() == *p))
            .collect();
        Some(EntryInfo {
            txid: *txid,
            size: tx.size(),
            fee: *fee,
            time: 0,
            height: 0,
            ancestor_count: 1,
            ancestor_size: tx.size(),
            ancestor_fees: *fee,
            descendant_count: 1,
            descendant_size: tx.size(),
            descendant_fees: *fee,
            depends,
            spent_by: Vec::new(),
        })
    }

    fn entries(&self) -> Vec<EntryInfo> {
        self.txids().iter().filter_map(|t| self.entry(t)).collect()
    }

    fn info(&self) -> MempoolInfo {
        let txs = self.lock();
        MempoolInfo {
            size: txs.len(),
            bytes: txs.iter().map(|(tx, _)| tx.size()).sum(),
            max_bytes: usize::MAX,
            orphans: 0,
            min_relay_fee_per_kb: 0,
            min_fee_per_kb: 0,
        }
    }

    fn select(&self, _max_bytes: usize, max_txs: usize) -> Vec<SelectedTx> {
        self.lock()
            .iter()
            .take(max_txs)
            .map(|(tx, fee)| SelectedTx {
                tx: tx.clone(),
                fee: *fee,
            })
            .collect()
    }

    fn is_spent(&self, outpoint: &OutPoint) -> bool {
        let hook = self.before_is_spent.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        TestPool::spender(&self.lock(), outpoint).is_some()
    }

    fn unspent_outputs_to(&self, script_pubkey: &[u8]) -> Vec<(OutPoint, TxOut)> {
        let txs = self.lock();
        let mut found = Vec::new();
        for (tx, _) in txs.iter() {
            let txid = tx.txid();
            for (vout, out) in tx.outputs.iter().enumerate() {
                let outpoint = OutPoint {
                    txid,
                    vout: vout as u32,
                };
                if out.script_pubkey == script_pubkey
                    && TestPool::spender(&txs, &outpoint).is_none()
                {
                    found.push((outpoint, out.clone()));
                }
            }
        }
        found
    }
}
