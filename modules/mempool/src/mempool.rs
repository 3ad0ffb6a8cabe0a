//! The `mempool` service: admission, block selection, and what a wallet needs to spend
//! unconfirmed change. How the pool follows the chain is in [`follow`].

mod follow;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use node_api::chain::validation::{
    check_transaction, check_tx_inputs, verify_input_scripts, TxError,
};
use node_api::chain::{Coin, Hash256, OutPoint, Transaction, TxOut};
use node_api::{
    Accepted, Admitted, ChainView, EntryInfo, EventBus, MempoolError, MempoolEvent, MempoolInfo,
    MempoolPolicy, MempoolService, SelectedTx,
};

use crate::config::MempoolConfig;
use crate::fees::{FeeEstimator, Mode};
use crate::metrics::MempoolMetrics;
use crate::min_fee::RollingMinFee;
use crate::orphans::Orphans;
use crate::pool::Pool;

struct Inner {
    pool: Pool,
    orphans: Orphans,
    /// How far the pool has followed the chain; see [`follow`].
    follow: follow::Following,
    /// Fee rates and waits of what blocks confirmed from the pool.
    fees: FeeEstimator,
    /// Raised by evictions, decaying after blocks; see [`crate::min_fee`].
    min_fee: RollingMinFee,
}

impl Inner {
    /// The rolling minimum fee rate now (0 while the pool has not trimmed lately).
    fn rolling_min_fee(&mut self, config: &MempoolConfig) -> u64 {
        let bytes = self.pool.bytes();
        self.min_fee.get(
            now(),
            bytes,
            config.max_bytes,
            config.incremental_relay_fee_per_kb,
        )
    }
}

/// The mempool service. It follows the chain it was built over from the moment it is
/// built: when `accept_block` returns, the pool agrees with the new tip.
pub struct Mempool {
    chain: Arc<dyn ChainView>,
    policy: Box<dyn MempoolPolicy>,
    config: MempoolConfig,
    events: EventBus,
    inner: Mutex<Inner>,
    metrics: MempoolMetrics,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Mempool {
    /// A pool over `chain`, deciding by `policy`, announcing on `events`. It registers as
    /// a listener of `chain`, so it removes what blocks confirm and re-admits what a
    /// reorganisation disconnects inside the step that changes the tip.
    pub fn new(
        chain: Arc<dyn ChainView>,
        policy: Box<dyn MempoolPolicy>,
        config: MempoolConfig,
        events: EventBus,
    ) -> Arc<Mempool> {
        let pool = Arc::new(Mempool {
            inner: Mutex::new(Inner {
                pool: Pool::default(),
                orphans: Orphans::default(),
                follow: follow::Following::at(chain.tip().hash),
                fees: FeeEstimator::default(),
                min_fee: RollingMinFee::default(),
            }),
            chain,
            policy,
            config,
            events,
            metrics: MempoolMetrics::new(),
        });
        pool.metrics.size(&pool.lock().pool);
        follow::listen(&pool);
        pool
    }

    /// `estimatesmartfee`: satoshis per 1000 bytes that confirmed within `target` blocks
    /// recently (see [`crate::fees`]), never below the pool's minimum fee nor the
    /// minimum relay fee, as Core: an estimate the pool would refuse is no estimate.
    pub(crate) fn estimate_fee(&self, target: u32, mode: Mode) -> Option<u64> {
        let mut inner = self.lock();
        let estimate = inner.fees.estimate(target, mode)?;
        let pool_min = inner.rolling_min_fee(&self.config);
        Some(estimate.max(pool_min).max(self.config.min_relay_fee_per_kb))
    }

    /// `prioritisetransaction`: `txid` counts `delta` satoshis more (or less) in block
    /// selection and eviction.
    pub(crate) fn prioritise(&self, txid: Hash256, delta: i64) {
        self.lock().pool.prioritise(txid, delta);
    }

    /// In-pool ancestors (or descendants) of a pooled `txid`, itself excluded, in
    /// admission order; `None` when `txid` is not pooled.
    pub(crate) fn relatives(&self, txid: &Hash256, ancestors: bool) -> Option<Vec<EntryInfo>> {
        let inner = self.lock();
        let entry = inner.pool.get(txid)?;
        let mut set = if ancestors {
            inner.pool.ancestors_of(&entry.parents)
        } else {
            inner.pool.descendants(txid)
        };
        set.remove(txid);
        let mut found: Vec<(u64, EntryInfo)> = set
            .iter()
            .filter_map(|t| Some((inner.pool.get(t)?.sequence, inner.pool.info(t)?)))
            .collect();
        found.sort_by_key(|(sequence, _)| *sequence);
        Some(found.into_iter().map(|(_, info)| info).collect())
    }

    /// Every pooled transaction in admission order (parents first).
    pub(crate) fn in_order(&self) -> Vec<Arc<Transaction>> {
        let inner = self.lock();
        inner.pool.in_order().iter().map(|e| e.tx.clone()).collect()
    }

    /// Fees of every pooled transaction, satoshis.
    pub(crate) fn total_fee(&self) -> u64 {
        self.lock().pool.total_fee()
    }

    /// The fee delta `prioritise` gave `txid`.
    pub(crate) fn fee_delta(&self, txid: &Hash256) -> i64 {
        self.lock().pool.delta(txid)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, events: Vec<MempoolEvent>) {
        for event in events {
            self.metrics.event(&event);
            self.events.publish(event);
        }
    }

    /// The chain the pool validates against.
    pub(crate) fn chain(&self) -> &Arc<dyn ChainView> {
        &self.chain
    }

    fn accept_as(&self, tx: Transaction, keep_orphan: bool) -> Result<Accepted, MempoolError> {
        let mut events = Vec::new();
        let result = {
            let mut inner = self.lock();
            let result = self.admit(&mut inner, Arc::new(tx), keep_orphan, &mut events);
            self.metrics.size(&inner.pool);
            result
        };
        if let Err(error) = &result {
            self.metrics.rejected(error);
        }
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
            Ok(a) => self.admit_orphans_of(inner, a.txid, events),
            Err(_) => {}
        }
        accepted
    }

    /// Admits the orphans waiting for `parent`, and theirs in turn.
    fn admit_orphans_of(&self, inner: &mut Inner, parent: Hash256, events: &mut Vec<MempoolEvent>) {
        let mut unblocked = vec![parent];
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
        // Core's order: the pool's rolling minimum first, then the relay minimum.
        let pool_min = inner.rolling_min_fee(&self.config);
        if pool_min > 0 {
            let required = self.policy.mempool_min_fee(size, pool_min);
            if checked.fee < required {
                return Err(MempoolError::MinFeeNotMet {
                    fee: checked.fee,
                    required,
                });
            }
        }
        let required = self.policy.min_fee(size, self.config.min_relay_fee_per_kb);
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
            // What the next transaction must beat: what was just thrown out, plus the
            // increment (Core's TrimToSize).
            if let Some(rate) = inner.pool.fee_rate_per_kb(&victim) {
                inner
                    .min_fee
                    .evicted(rate, self.config.incremental_relay_fee_per_kb);
            }
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
            self.metrics.size(&inner.pool);
        }
        self.publish(events);
    }
}

impl MempoolService for Mempool {
    fn accept(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        self.accept_as(tx, false)
    }

    fn accept_from_peer(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        self.accept_as(tx, true)
    }

    fn contains(&self, txid: &Hash256) -> bool {
        self.lock().pool.contains(txid)
    }

    fn get(&self, txid: &Hash256) -> Option<Arc<Transaction>> {
        self.lock().pool.get(txid).map(|e| e.tx.clone())
    }

    fn txids(&self) -> Vec<Hash256> {
        self.lock().pool.txids()
    }

    fn entry(&self, txid: &Hash256) -> Option<EntryInfo> {
        self.lock().pool.info(txid)
    }

    fn admitted_since(&self, after: u64, max: usize) -> Vec<Admitted> {
        self.lock()
            .pool
            .admitted_since(after, max)
            .into_iter()
            .map(|(sequence, txid, entry)| Admitted {
                sequence,
                txid,
                tx: entry.tx.clone(),
                fee: entry.fee,
            })
            .collect()
    }

    fn last_admitted(&self) -> u64 {
        self.lock().pool.last_sequence()
    }

    fn entries(&self) -> Vec<EntryInfo> {
        let inner = self.lock();
        inner
            .pool
            .txids()
            .iter()
            .filter_map(|t| inner.pool.info(t))
            .collect()
    }

    fn info(&self) -> MempoolInfo {
        let mut inner = self.lock();
        let pool_min = inner.rolling_min_fee(&self.config);
        // The policy's figures, not the configuration's: what it actually asks.
        let relay = self
            .policy
            .min_fee_rate_per_kb(self.config.min_relay_fee_per_kb);
        MempoolInfo {
            min_fee_per_kb: self.policy.mempool_min_fee_rate_per_kb(pool_min).max(relay),
            size: inner.pool.len(),
            bytes: inner.pool.bytes(),
            max_bytes: self.config.max_bytes,
            orphans: inner.orphans.len(),
            min_relay_fee_per_kb: relay,
        }
    }

    fn select(&self, max_bytes: usize, max_txs: usize) -> Vec<SelectedTx> {
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

    fn is_spent(&self, outpoint: &OutPoint) -> bool {
        self.lock().pool.spender(outpoint).is_some()
    }

    fn unspent_outputs_to(&self, script_pubkey: &[u8]) -> Vec<(OutPoint, TxOut)> {
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
