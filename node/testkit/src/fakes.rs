//! No-op and recording services: the mempool, the wallet, the miner and a broadcast
//! behaviour, for tests about something else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use node_api::chain::{Address, Block, Hash256, OutPoint, Transaction, TxOut};
use node_api::{
    Accepted, Admitted, Broadcast, EntryInfo, MempoolError, MempoolInfo, MempoolService,
    MinerService, MinerStatus, PeerService, SelectedTx, WalletService,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mempool that keeps what it is given in admission order, refusing only
/// duplicates and a second spend of one output: no signature, fee or chain check (the
/// test hands it valid transactions, or wants the refusals of a real pool, then runs
/// the mempool module). Empty, it is the no-op pool.
#[derive(Default)]
pub struct MemoryPool {
    inner: Mutex<PoolInner>,
}

#[derive(Default)]
struct PoolInner {
    /// Admission number, transaction, fee; in admission order.
    entries: Vec<(u64, Arc<Transaction>, u64)>,
    last: u64,
    /// Fees given with [`MemoryPool::set_fee`], else 0.
    fees: HashMap<Hash256, u64>,
}

impl MemoryPool {
    /// An empty pool.
    pub fn new() -> Arc<MemoryPool> {
        Arc::new(MemoryPool::default())
    }

    /// Sets the fee `txid` is recorded with when it is admitted.
    pub fn set_fee(&self, txid: Hash256, fee: u64) {
        lock(&self.inner).fees.insert(txid, fee);
    }

    /// Removes `txid` (a confirmation, an eviction).
    pub fn remove(&self, txid: &Hash256) -> bool {
        let mut inner = lock(&self.inner);
        let before = inner.entries.len();
        inner.entries.retain(|(_, tx, _)| tx.txid() != *txid);
        inner.entries.len() != before
    }

    fn find(inner: &PoolInner, txid: &Hash256) -> Option<(u64, Arc<Transaction>, u64)> {
        inner
            .entries
            .iter()
            .find(|(_, tx, _)| tx.txid() == *txid)
            .cloned()
    }
}

impl MempoolService for MemoryPool {
    fn accept(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        let mut inner = lock(&self.inner);
        let txid = tx.txid();
        if MemoryPool::find(&inner, &txid).is_some() {
            return Err(MempoolError::AlreadyInMempool);
        }
        let spent = |o: &OutPoint| {
            inner
                .entries
                .iter()
                .any(|(_, t, _)| t.inputs.iter().any(|i| i.prevout == *o))
        };
        if tx.inputs.iter().any(|i| spent(&i.prevout)) {
            return Err(MempoolError::Conflict);
        }
        let fee = inner.fees.get(&txid).copied().unwrap_or(0);
        inner.last += 1;
        let sequence = inner.last;
        inner.entries.push((sequence, Arc::new(tx), fee));
        Ok(Accepted { txid, fee })
    }
    fn accept_from_peer(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        self.accept(tx)
    }
    fn contains(&self, txid: &Hash256) -> bool {
        MemoryPool::find(&lock(&self.inner), txid).is_some()
    }
    fn get(&self, txid: &Hash256) -> Option<Arc<Transaction>> {
        MemoryPool::find(&lock(&self.inner), txid).map(|(_, tx, _)| tx)
    }
    fn txids(&self) -> Vec<Hash256> {
        lock(&self.inner)
            .entries
            .iter()
            .map(|(_, tx, _)| tx.txid())
            .collect()
    }
    fn admitted_since(&self, after: u64, max: usize) -> Vec<Admitted> {
        lock(&self.inner)
            .entries
            .iter()
            .filter(|(sequence, _, _)| *sequence > after)
            .take(max)
            .map(|(sequence, tx, fee)| Admitted {
                sequence: *sequence,
                txid: tx.txid(),
                tx: tx.clone(),
                fee: *fee,
            })
            .collect()
    }
    fn last_admitted(&self) -> u64 {
        lock(&self.inner).last
    }
    fn entry(&self, txid: &Hash256) -> Option<EntryInfo> {
        let inner = lock(&self.inner);
        let (_, tx, fee) = MemoryPool::find(&inner, txid)?;
        let pooled = |p: &Hash256| inner.entries.iter().any(|(_, t, _)| t.txid() == *p);
        let depends = tx
            .inputs
            .iter()
            .map(|i| i.prevout.txid)
            .filter(|p| pooled(p))
            .collect();
        Some(EntryInfo {
            txid: *txid,
            size: tx.size(),
            fee,
            time: 0,
            height: 0,
            ancestor_count: 1,
            ancestor_size: tx.size(),
            ancestor_fees: fee,
            descendant_count: 1,
            descendant_size: tx.size(),
            descendant_fees: fee,
            depends,
            spent_by: Vec::new(),
        })
    }
    fn entries(&self) -> Vec<EntryInfo> {
        self.txids().iter().filter_map(|t| self.entry(t)).collect()
    }
    fn info(&self) -> MempoolInfo {
        let inner = lock(&self.inner);
        MempoolInfo {
            size: inner.entries.len(),
            bytes: inner.entries.iter().map(|(_, tx, _)| tx.size()).sum(),
            max_bytes: usize::MAX,
            orphans: 0,
            min_relay_fee_per_kb: 0,
            min_fee_per_kb: 0,
        }
    }
    fn select(&self, _max_bytes: usize, max_txs: usize) -> Vec<SelectedTx> {
        lock(&self.inner)
            .entries
            .iter()
            .take(max_txs)
            .map(|(_, tx, fee)| SelectedTx {
                tx: tx.clone(),
                fee: *fee,
            })
            .collect()
    }
    fn is_spent(&self, outpoint: &OutPoint) -> bool {
        lock(&self.inner)
            .entries
            .iter()
            .any(|(_, tx, _)| tx.inputs.iter().any(|i| i.prevout == *outpoint))
    }
    fn unspent_outputs_to(&self, script_pubkey: &[u8]) -> Vec<(OutPoint, TxOut)> {
        let inner = lock(&self.inner);
        let mut found = Vec::new();
        for (_, tx, _) in &inner.entries {
            let txid = tx.txid();
            for (vout, out) in tx.outputs.iter().enumerate() {
                let outpoint = OutPoint {
                    txid,
                    vout: vout as u32,
                };
                let spent = inner
                    .entries
                    .iter()
                    .any(|(_, t, _)| t.inputs.iter().any(|i| i.prevout == outpoint));
                if out.script_pubkey == script_pubkey && !spent {
                    found.push((outpoint, out.clone()));
                }
            }
        }
        found
    }
}

/// A wallet with no keys: what a module that only asks `is_mine` sees of a node
/// without a wallet.
pub struct NoWallet;

impl WalletService for NoWallet {
    fn new_address(&self, _label: &str) -> Result<Address, String> {
        Err("no wallet in this test".to_string())
    }
    fn addresses(&self) -> Vec<(Address, String)> {
        Vec::new()
    }
    fn is_mine(&self, _address: &Address) -> bool {
        false
    }
    fn transaction_block(&self, _txid: &Hash256) -> Option<Hash256> {
        None
    }
}

/// A miner that mines nothing and records what it was told.
#[derive(Default)]
pub struct RecordingMiner {
    calls: Mutex<Vec<(bool, Option<Vec<u8>>)>>,
}

impl RecordingMiner {
    /// Every `set_generate` call, in order.
    pub fn calls(&self) -> Vec<(bool, Option<Vec<u8>>)> {
        lock(&self.calls).clone()
    }
}

impl MinerService for RecordingMiner {
    fn status(&self) -> MinerStatus {
        let generating = lock(&self.calls).last().is_some_and(|(on, _)| *on);
        MinerStatus {
            generating,
            threads: 0,
            kernel: "none",
            hashes_per_second: 0.0,
            hashes: 0,
            blocks_found: 0,
        }
    }
    fn set_generate(&self, on: bool, payout_script: Option<Vec<u8>>) {
        lock(&self.calls).push((on, payout_script));
    }
}

/// A broadcast behaviour that announces nothing.
pub struct NoBroadcast;

impl Broadcast for NoBroadcast {
    fn transaction(&mut self, _peers: &dyn PeerService, _txid: Hash256, _tx: &Arc<Transaction>) {}
    fn block(&mut self, _peers: &dyn PeerService, _hash: Hash256, _block: &Arc<Block>) {}
}
