//! No-op and recording services: the mempool, the wallet, the miner and a broadcast
//! behaviour, for tests about something else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use node_api::chain::{Address, Block, ChainEvent, Hash256, OutPoint, Transaction, TxOut};
use node_api::{
    Accepted, Admitted, Broadcast, ChainListener, ChainView, EntryInfo, MempoolError, MempoolInfo,
    MempoolService, MinerService, MinerStatus, PeerService, SelectedTx, WalletService,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mempool that keeps what it is given in admission order, refusing duplicates and
/// a second spend of one output; over a chain ([`MemoryPool::checking`]) also inputs
/// that are neither pooled nor unspent on the chain, with fees from the inputs. No
/// signature or policy check: a test that wants a real pool's refusals runs the mempool
/// module. Empty, it is the no-op pool.
#[derive(Default)]
pub struct MemoryPool {
    inner: Mutex<PoolInner>,
    chain: Option<Arc<dyn ChainView>>,
    before_is_spent: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

/// Drops what connected blocks confirm or spend, as the mempool module does in order.
struct Follower(Weak<MemoryPool>);

impl ChainListener for Follower {
    fn on_chain_event(&self, event: &ChainEvent) {
        let (Some(pool), ChainEvent::BlockConnected { block, txids, .. }) =
            (self.0.upgrade(), event)
        else {
            return;
        };
        let spent: Vec<OutPoint> = block
            .txs
            .iter()
            .flat_map(|t| t.inputs.iter().map(|i| i.prevout))
            .collect();
        lock(&pool.inner).entries.retain(|(_, tx, _)| {
            !txids.contains(&tx.txid()) && !tx.inputs.iter().any(|i| spent.contains(&i.prevout))
        });
    }
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

    /// A pool whose transactions must spend pooled outputs or `chain`'s unspent coins;
    /// it never hears of blocks (what a mempool behind the chain looks like).
    pub fn checking(chain: Arc<dyn ChainView>) -> Arc<MemoryPool> {
        Arc::new(MemoryPool {
            chain: Some(chain),
            ..MemoryPool::default()
        })
    }

    /// [`MemoryPool::checking`], following `chain`: a connected block drops what it
    /// confirms or spends, inside the block's step.
    pub fn following(chain: Arc<dyn ChainView>) -> Arc<MemoryPool> {
        let pool = MemoryPool::checking(chain.clone());
        chain.listen(Arc::new(Follower(Arc::downgrade(&pool))));
        pool
    }

    /// Runs `hook` at the start of the next `is_spent` call, before it answers: a block
    /// connecting between a caller's reads.
    pub fn before_next_is_spent(&self, hook: impl FnOnce() + Send + 'static) {
        *lock(&self.before_is_spent) = Some(Box::new(hook));
    }

    /// The fee of `tx` from its inputs (pooled outputs or the chain's coins).
    fn fee_from_inputs(
        chain: &dyn ChainView,
        inner: &PoolInner,
        tx: &Transaction,
    ) -> Result<u64, MempoolError> {
        let mut value_in: u64 = 0;
        for input in &tx.inputs {
            let pooled = inner.entries.iter().find_map(|(_, t, _)| {
                (t.txid() == input.prevout.txid)
                    .then(|| t.outputs.get(input.prevout.vout as usize).map(|o| o.value))
                    .flatten()
            });
            let value = match pooled {
                Some(value) => value,
                None => chain
                    .coin(&input.prevout)
                    .ok()
                    .flatten()
                    .map(|c| c.value)
                    .ok_or(MempoolError::MissingInputs)?,
            };
            value_in = value_in.saturating_add(value);
        }
        Ok(value_in.saturating_sub(tx.output_value().unwrap_or(u64::MAX)))
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
        let fee = match &self.chain {
            Some(chain) => MemoryPool::fee_from_inputs(&**chain, &inner, &tx)?,
            None => inner.fees.get(&txid).copied().unwrap_or(0),
        };
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
        let hook = lock(&self.before_is_spent).take();
        if let Some(hook) = hook {
            hook();
        }
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
