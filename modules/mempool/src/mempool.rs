//! The `mempool` service: admission, removal on blocks, re-admission after a
//! reorganisation, block selection, and what the wallet needs to spend unconfirmed change.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use node_chain::validation::{check_transaction, check_tx_inputs, verify_input_scripts, TxError};
use node_chain::{ChainEvent, ChainState, Coin, Hash256, OutPoint, Transaction, TxOut};
use node_kernel::EventBus;

use crate::config::MempoolConfig;
use crate::error::MempoolError;
use crate::orphans::Orphans;
use crate::policy::MempoolPolicy;
use crate::pool::{EntryInfo, Pool};

/// What the bus carries about the pool: relay announces accepted transactions.
#[derive(Debug, Clone)]
pub enum MempoolEvent {
    /// A transaction entered the pool.
    Accepted {
        /// Its id.
        txid: Hash256,
        /// The transaction.
        tx: Arc<Transaction>,
        /// Its fee, satoshis.
        fee: u64,
    },
    /// A transaction left the pool without being confirmed.
    Removed {
        /// Its id.
        txid: Hash256,
        /// Why: `conflict`, `expiry`, `sizelimit`, `reorg`.
        reason: &'static str,
    },
}

/// A transaction was admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its id.
    pub txid: Hash256,
    /// Its fee, satoshis.
    pub fee: u64,
}

/// A transaction chosen for a block, with its fee.
#[derive(Debug, Clone)]
pub struct SelectedTx {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its fee, satoshis.
    pub fee: u64,
}

/// Figures for `getmempoolinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolInfo {
    /// Entries.
    pub size: usize,
    /// Their serialized bytes.
    pub bytes: usize,
    /// The configured limit in bytes.
    pub max_bytes: usize,
    /// Orphans waiting for parents.
    pub orphans: usize,
    /// Minimum relay fee, satoshis per 1000 bytes.
    pub min_relay_fee_per_kb: u64,
}

#[derive(Default)]
struct Inner {
    pool: Pool,
    orphans: Orphans,
    /// Transactions of disconnected blocks, oldest block first, re-admitted when the tip
    /// settles.
    readmit: Vec<Vec<Arc<Transaction>>>,
}

/// The mempool service.
pub struct Mempool {
    chain: Arc<ChainState>,
    policy: Box<dyn MempoolPolicy>,
    config: MempoolConfig,
    events: EventBus,
    inner: Mutex<Inner>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Mempool {
    /// A pool over `chain`, deciding by `policy`, announcing on `events`.
    pub fn new(
        chain: Arc<ChainState>,
        policy: Box<dyn MempoolPolicy>,
        config: MempoolConfig,
        events: EventBus,
    ) -> Arc<Mempool> {
        Arc::new(Mempool {
            chain,
            policy,
            config,
            events,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, events: Vec<MempoolEvent>) {
        for event in events {
            self.events.publish(event);
        }
    }

    /// Admits a transaction from a local client (RPC, wallet): a missing parent is an
    /// error, not an orphan.
    pub fn accept(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        let mut events = Vec::new();
        let result = {
            let mut inner = self.lock();
            self.admit(&mut inner, Arc::new(tx), false, &mut events)
        };
        self.publish(events);
        result
    }

    /// Admits a transaction relayed by a peer: with unknown parents it waits in the
    /// orphan pool (and the error says so).
    pub fn accept_from_peer(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        let mut events = Vec::new();
        let result = {
            let mut inner = self.lock();
            self.admit(&mut inner, Arc::new(tx), true, &mut events)
        };
        self.publish(events);
        result
    }

    /// Admits `tx`, then any orphans it unblocks.
    fn admit(
        &self,
        inner: &mut Inner,
        tx: Arc<Transaction>,
        keep_orphan: bool,
        events: &mut Vec<MempoolEvent>,
    ) -> Result<Accepted, MempoolError> {
        let accepted = self.admit_one(inner, tx.clone(), events);
        match &accepted {
            Err(MempoolError::MissingInputs) if keep_orphan => {
                let txid = tx.txid();
                if inner.orphans.add(tx, now(), self.config.max_orphans) {
                    tracing::debug!(%txid, "kept as orphan");
                }
            }
            Ok(a) => {
                let mut unblocked = vec![a.txid];
                while let Some(parent) = unblocked.pop() {
                    for child in inner.orphans.take_children(&parent) {
                        match self.admit_one(inner, child.clone(), events) {
                            Ok(a) => unblocked.push(a.txid),
                            Err(MempoolError::MissingInputs) => {
                                inner.orphans.add(child, now(), self.config.max_orphans);
                            }
                            Err(e) => tracing::debug!(reason = %e, "orphan refused"),
                        }
                    }
                }
            }
            Err(_) => {}
        }
        accepted
    }

    fn admit_one(
        &self,
        inner: &mut Inner,
        tx: Arc<Transaction>,
        events: &mut Vec<MempoolEvent>,
    ) -> Result<Accepted, MempoolError> {
        let txid = tx.txid();
        if inner.pool.contains(&txid) {
            return Err(MempoolError::AlreadyInMempool);
        }
        if tx.is_coinbase() {
            return Err(MempoolError::Coinbase);
        }
        check_transaction(&tx, self.chain.spec().max_block_size).map_err(MempoolError::Invalid)?;
        self.policy.check_standard(&tx)?;
        if tx
            .inputs
            .iter()
            .any(|i| inner.pool.spender(&i.prevout).is_some())
        {
            return Err(MempoolError::Conflict);
        }
        let tip = self.chain.tip();
        let pool = &inner.pool;
        let mut lookup = |outpoint: &OutPoint| -> Option<Coin> {
            if let Some(out) = pool.output(outpoint) {
                return Some(Coin {
                    value: out.value,
                    height: tip.height + 1,
                    coinbase: false,
                    script_pubkey: out.script_pubkey.clone(),
                });
            }
            match self.chain.coin(outpoint) {
                Ok(coin) => coin,
                Err(e) => {
                    tracing::error!("chain read failed: {e}");
                    None
                }
            }
        };
        let checked = check_tx_inputs(
            &tx,
            &mut lookup,
            tip.height + 1,
            self.chain.spec().coinbase_maturity,
        );
        let checked = match checked {
            Ok(c) => c,
            Err(TxError::MissingInputs) => return Err(self.missing_or_known(&tx, txid)),
            Err(e) => return Err(MempoolError::Invalid(e)),
        };
        let size = tx.size();
        let required = self.policy.min_fee(size, &self.config);
        if checked.fee < required {
            return Err(MempoolError::FeeTooLow {
                fee: checked.fee,
                required,
            });
        }
        let parents = tx
            .inputs
            .iter()
            .map(|i| i.prevout.txid)
            .filter(|p| inner.pool.contains(p))
            .collect();
        if inner.pool.ancestors_of(&parents).len() + 1 > self.config.ancestor_limit {
            return Err(MempoolError::TooLongChain {
                limit: self.config.ancestor_limit,
            });
        }
        verify_input_scripts(&tx, &checked.spent).map_err(MempoolError::Invalid)?;

        inner
            .pool
            .insert(tx.clone(), checked.fee, now(), tip.height);
        while inner.pool.bytes() > self.config.max_bytes {
            let Some(victim) = inner.pool.cheapest_leaf() else {
                break;
            };
            inner.pool.remove(&victim);
            if victim == txid {
                return Err(MempoolError::Full);
            }
            events.push(MempoolEvent::Removed {
                txid: victim,
                reason: "sizelimit",
            });
        }
        tracing::debug!(%txid, fee = checked.fee, size, "accepted to mempool");
        events.push(MempoolEvent::Accepted {
            txid,
            tx,
            fee: checked.fee,
        });
        Ok(Accepted {
            txid,
            fee: checked.fee,
        })
    }

    /// A transaction with an unknown input is either already confirmed (its outputs are
    /// in the UTXO set) or waits for a parent.
    fn missing_or_known(&self, tx: &Transaction, txid: Hash256) -> MempoolError {
        let confirmed = (0..tx.outputs.len() as u32)
            .any(|vout| matches!(self.chain.coin(&OutPoint { txid, vout }), Ok(Some(_))));
        if confirmed {
            MempoolError::AlreadyKnown
        } else {
            MempoolError::MissingInputs
        }
    }

    /// Follows the chain: confirmed transactions leave, conflicts with a block are
    /// dropped, disconnected blocks' transactions come back once the tip settles.
    pub fn on_chain_event(&self, event: &ChainEvent) {
        let mut events = Vec::new();
        {
            let mut inner = self.lock();
            match event {
                ChainEvent::BlockConnected { block, .. } => {
                    for tx in &block.txs {
                        inner.pool.remove(&tx.txid());
                    }
                    for tx in block.txs.iter().filter(|t| !t.is_coinbase()) {
                        for input in &tx.inputs {
                            if let Some(conflict) = inner.pool.spender(&input.prevout) {
                                for e in inner.pool.remove_with_descendants(&conflict) {
                                    events.push(MempoolEvent::Removed {
                                        txid: e.tx.txid(),
                                        reason: "conflict",
                                    });
                                }
                            }
                        }
                    }
                    for tx in &block.txs {
                        let txid = tx.txid();
                        inner.orphans.remove(&txid);
                        for child in inner.orphans.take_children(&txid) {
                            let _ = self.admit(&mut inner, child, true, &mut events);
                        }
                    }
                }
                ChainEvent::BlockDisconnected { block, .. } => {
                    let txs = block
                        .txs
                        .iter()
                        .filter(|t| !t.is_coinbase())
                        .map(|t| Arc::new(t.clone()))
                        .collect();
                    // Disconnects come newest block first; re-admission goes oldest first.
                    inner.readmit.insert(0, txs);
                }
                ChainEvent::TipChanged { .. } => {
                    if !inner.readmit.is_empty() {
                        self.revalidate(&mut inner, &mut events);
                    }
                }
            }
        }
        self.publish(events);
    }

    /// Re-admits disconnected blocks' transactions, then every entry again (a
    /// reorganisation may have confirmed, conflicted or un-matured their inputs).
    fn revalidate(&self, inner: &mut Inner, events: &mut Vec<MempoolEvent>) {
        let readmit: Vec<Arc<Transaction>> = inner.readmit.drain(..).flatten().collect();
        let previous: Vec<Arc<Transaction>> =
            inner.pool.drain().into_iter().map(|e| e.tx).collect();
        let mut back = 0;
        for tx in readmit.into_iter().chain(previous.iter().cloned()) {
            if self.admit_one(inner, tx, events).is_ok() {
                back += 1;
            }
        }
        // Entries that were already pooled are not news to relay; only report drops.
        events.retain(|e| !matches!(e, MempoolEvent::Accepted { txid, .. } if previous.iter().any(|p| p.txid() == *txid)));
        for tx in &previous {
            let txid = tx.txid();
            if !inner.pool.contains(&txid) {
                events.push(MempoolEvent::Removed {
                    txid,
                    reason: "reorg",
                });
            }
        }
        tracing::info!(
            entries = back,
            "mempool re-validated after a reorganisation"
        );
    }

    /// Drops entries and orphans past their expiry.
    pub fn expire(&self) {
        let mut events = Vec::new();
        {
            let mut inner = self.lock();
            let now = now();
            let cutoff = now.saturating_sub(self.config.expiry_hours * 3600);
            for txid in inner.pool.older_than(cutoff) {
                for e in inner.pool.remove_with_descendants(&txid) {
                    events.push(MempoolEvent::Removed {
                        txid: e.tx.txid(),
                        reason: "expiry",
                    });
                }
            }
            inner
                .orphans
                .expire(now.saturating_sub(self.config.orphan_expiry_secs));
        }
        self.publish(events);
    }

    /// The chain the pool validates against.
    pub fn chain(&self) -> &Arc<ChainState> {
        &self.chain
    }

    /// Whether `txid` is pooled.
    pub fn contains(&self, txid: &Hash256) -> bool {
        self.lock().pool.contains(txid)
    }

    /// A pooled transaction.
    pub fn get(&self, txid: &Hash256) -> Option<Arc<Transaction>> {
        self.lock().pool.get(txid).map(|e| e.tx.clone())
    }

    /// Every pooled txid, in admission order.
    pub fn txids(&self) -> Vec<Hash256> {
        self.lock().pool.txids()
    }

    /// One entry's figures.
    pub fn entry(&self, txid: &Hash256) -> Option<EntryInfo> {
        self.lock().pool.info(txid)
    }

    /// Every entry's figures, in admission order.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let inner = self.lock();
        inner
            .pool
            .txids()
            .iter()
            .filter_map(|t| inner.pool.info(t))
            .collect()
    }

    /// Figures for `getmempoolinfo`.
    pub fn info(&self) -> MempoolInfo {
        let inner = self.lock();
        MempoolInfo {
            size: inner.pool.len(),
            bytes: inner.pool.bytes(),
            max_bytes: self.config.max_bytes,
            orphans: inner.orphans.len(),
            min_relay_fee_per_kb: self.config.min_relay_fee_per_kb,
        }
    }

    /// The best transactions for a block of at most `max_bytes` of transactions and
    /// `max_txs` of them, each after its unconfirmed parents.
    pub fn select(&self, max_bytes: usize, max_txs: usize) -> Vec<SelectedTx> {
        let inner = self.lock();
        inner
            .pool
            .select(max_bytes, max_txs)
            .iter()
            .filter_map(|t| inner.pool.get(t))
            .map(|e| SelectedTx {
                tx: e.tx.clone(),
                fee: e.fee,
            })
            .collect()
    }

    /// Whether an entry spends `outpoint`.
    pub fn is_spent(&self, outpoint: &OutPoint) -> bool {
        self.lock().pool.spender(outpoint).is_some()
    }

    /// Unspent outputs of pooled transactions paying `script_pubkey`: unconfirmed coins a
    /// wallet may spend again.
    pub fn unspent_outputs_to(&self, script_pubkey: &[u8]) -> Vec<(OutPoint, TxOut)> {
        let inner = self.lock();
        let mut found = Vec::new();
        for entry in inner.pool.in_order() {
            let txid = entry.tx.txid();
            for (vout, out) in entry.tx.outputs.iter().enumerate() {
                let outpoint = OutPoint {
                    txid,
                    vout: vout as u32,
                };
                if out.script_pubkey == script_pubkey && inner.pool.spender(&outpoint).is_none() {
                    found.push((outpoint, out.clone()));
                }
            }
        }
        found
    }
}
