//! The index kept in step with the chain and the mempool: a blocking task wakes at each
//! tip change (through the chain's in-order listener) and each mempool event, brings
//! the on-disk index to the chain's main chain (disconnecting what left it, block by
//! block, then connecting up to the tip), refreshes the mempool view, and tells the
//! connections which scripts changed.
//!
//! Invariant: the index's recorded tip is a block it holds every row of; a block's rows
//! and the tip move in one LMDB transaction, so a crash leaves the index at a block
//! boundary, and the next start resumes from there (or disconnects, if that block
//! left the main chain while the node was down).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use node_api::chain::{BlockHeader, ChainEvent, Hash256};
use node_api::{BoxError, ChainListener, ChainView, HistoryRow, MempoolService, ScriptHistory};
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::mempool::PoolIndex;
use crate::status::HistoryEntry;
use crate::store::{script_hash, ScriptHash, Store, StoreError, Touched};

/// Blocks connected in one write transaction while catching up: fewer fsyncs, and still
/// a block boundary at every commit.
const BLOCKS_PER_COMMIT: u32 = 64;
/// Past this many touched scripts an update says "everything changed" instead.
const MAX_TOUCHED: usize = 100_000;
/// How often the initial build logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What changed, for the connections: the scripts (or all of them) and the new tip.
#[derive(Debug)]
pub(crate) struct Update {
    /// Scripts whose status may have changed; `None`: any of them.
    pub(crate) touched: Option<Touched>,
    /// The chain's tip when the update was made.
    pub(crate) tip: (u32, BlockHeader),
}

/// The index, the mempool view and the services they read: shared by the sync task and
/// every connection.
pub(crate) struct Shared {
    pub(crate) chain: Arc<dyn ChainView>,
    pub(crate) mempool: Option<Arc<dyn MempoolService>>,
    pub(crate) store: Store,
    pub(crate) pool: RwLock<PoolIndex>,
    pub(crate) updates: broadcast::Sender<Arc<Update>>,
    pub(crate) wake: Arc<Notify>,
    /// Confirmed rows one history answer (and a status) may hold.
    pub(crate) max_history: usize,
}

/// Wakes the sync task at each tip change. It runs under the chain's writer lock, so it
/// only stores a wake-up; the task reads the blocks afterwards.
pub(crate) struct WakeOnTip(pub(crate) Arc<Notify>);

impl ChainListener for WakeOnTip {
    fn on_chain_event(&self, event: &ChainEvent) {
        if matches!(event, ChainEvent::TipChanged { .. }) {
            self.0.notify_one();
        }
    }
}

impl Shared {
    fn tip(&self) -> (u32, BlockHeader) {
        let tip = self.chain.tip();
        (tip.height, tip.header)
    }

    /// Runs until `cancel`: the initial build, then one step per wake-up.
    pub(crate) fn run(&self, cancel: &CancellationToken) -> Result<(), BoxError> {
        let runtime = tokio::runtime::Handle::current();
        self.build(cancel)?;
        loop {
            let woke = runtime.block_on(async {
                tokio::select! {
                    () = cancel.cancelled() => false,
                    () = self.wake.notified() => true,
                }
            });
            if !woke {
                return Ok(());
            }
            self.step(cancel)?;
        }
    }

    /// The first catch-up, with progress lines and one when done.
    fn build(&self, cancel: &CancellationToken) -> Result<(), BoxError> {
        let started = Instant::now();
        let from = self.store.tip()?.map_or(0, |(_, h)| h + 1);
        let target = self.chain.tip().height;
        if from <= target {
            tracing::info!(
                from,
                to = target,
                "electrum index: catching up with the chain"
            );
        }
        let mut last_log = Instant::now();
        let mut touched = Some(Touched::new());
        loop {
            let more = self.catch_up_some(&mut touched)?;
            if cancel.is_cancelled() {
                return Ok(());
            }
            if last_log.elapsed() >= PROGRESS_EVERY {
                last_log = Instant::now();
                let at = self.store.tip()?.map_or(0, |(_, h)| h);
                tracing::info!(
                    height = at,
                    tip = self.chain.tip().height,
                    "electrum index: building"
                );
            }
            if !more {
                break;
            }
        }
        self.refresh_pool(true, &mut touched)?;
        let at = self.store.tip()?.map_or(0, |(_, h)| h);
        tracing::info!(
            height = at,
            seconds = started.elapsed().as_secs_f64(),
            bytes = self.store.disk_size(),
            "electrum index up to date"
        );
        let _ = self.updates.send(Arc::new(Update {
            touched: None,
            tip: self.tip(),
        }));
        Ok(())
    }

    /// One wake-up: the index to the tip, the mempool view, one update out.
    fn step(&self, cancel: &CancellationToken) -> Result<(), BoxError> {
        let before = self.store.tip()?;
        let mut touched = Some(Touched::new());
        while self.catch_up_some(&mut touched)? {
            if cancel.is_cancelled() {
                return Ok(());
            }
        }
        let moved = self.store.tip()? != before;
        self.refresh_pool(moved, &mut touched)?;
        if moved || touched.as_ref().is_none_or(|t| !t.is_empty()) {
            // No connection listening is not an error.
            let _ = self.updates.send(Arc::new(Update {
                touched,
                tip: self.tip(),
            }));
        }
        Ok(())
    }

    fn refresh_pool(&self, recheck: bool, touched: &mut Option<Touched>) -> Result<(), BoxError> {
        let Some(mempool) = &self.mempool else {
            return Ok(());
        };
        let changed = self
            .pool
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .refresh(&**mempool, &self.store, recheck)?;
        add(touched, changed);
        Ok(())
    }

    /// Disconnects one block that left the main chain, or connects up to
    /// [`BLOCKS_PER_COMMIT`] blocks; returns whether there may be more to do.
    fn catch_up_some(&self, touched: &mut Option<Touched>) -> Result<bool, BoxError> {
        let tip = self.store.tip()?;
        if let Some((hash, height)) = tip {
            if !self.chain.is_main(&hash) {
                return match self.chain.block(&hash)? {
                    Some(block) => {
                        add(touched, self.store.disconnect(height, &block)?);
                        tracing::debug!(%hash, height, "electrum index: block disconnected");
                        Ok(true)
                    }
                    None => {
                        // The chain no longer has the block to undo (pruned): start over.
                        tracing::warn!(%hash, height, "electrum index: a disconnected block is gone; rebuilding the index");
                        self.store.clear()?;
                        *touched = None;
                        Ok(true)
                    }
                };
            }
        }
        let next = tip.map_or(0, |(_, h)| h + 1);
        let chain_tip = self.chain.tip().height;
        if next > chain_tip {
            return Ok(false);
        }
        let last = chain_tip.min(next + BLOCKS_PER_COMMIT - 1);
        let mut blocks = Vec::new();
        let mut parent: Option<Hash256> = tip.map(|(h, _)| h);
        for height in next..=last {
            let Some(hash) = self.chain.hash_at(height) else {
                break;
            };
            let Some(block) = self.chain.block(&hash)? else {
                return Err(format!(
                    "electrum index: block {hash} at height {height} has no body (pruned); the index needs every block"
                )
                .into());
            };
            // The main chain moved under us (a reorganisation): stop at the fork and
            // let the next round disconnect.
            if parent.is_some_and(|p| p != block.header.prev_block) {
                break;
            }
            parent = Some(hash);
            blocks.push((height, block));
        }
        if blocks.is_empty() {
            return Ok(true);
        }
        let refs: Vec<(u32, &node_api::chain::Block)> =
            blocks.iter().map(|(h, b)| (*h, b)).collect();
        match self.store.connect(&refs) {
            Ok(changed) => add(touched, changed),
            // A reorganisation between reading the tip and the blocks: go round again.
            Err(StoreError::Corrupt(why)) if !self.chain.is_main(&refs[0].1.hash()) => {
                tracing::debug!(why, "electrum index: chain moved while reading");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }

    /// A script's full history: confirmed rows in chain order, then the mempool's.
    pub(crate) fn history(&self, script: &ScriptHash) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut rows: Vec<HistoryEntry> = self
            .store
            .history(script, self.max_history)?
            .into_iter()
            .map(|(height, txid)| HistoryEntry {
                txid,
                height: i64::from(height),
                fee: None,
            })
            .collect();
        rows.extend(self.mempool_history(script)?);
        Ok(rows)
    }

    /// A script's mempool rows: those with confirmed inputs first, then by txid (electrs's
    /// order), leaving out a transaction the index already has confirmed.
    pub(crate) fn mempool_history(
        &self,
        script: &ScriptHash,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let pool = self.pool.read().unwrap_or_else(|e| e.into_inner());
        let mut rows = Vec::new();
        for (txid, tx) in pool.for_script(script) {
            if self.store.tx_position(&txid)?.is_some() {
                continue;
            }
            rows.push(HistoryEntry {
                txid,
                height: if tx.unconfirmed_parent { -1 } else { 0 },
                fee: Some(tx.fee),
            });
        }
        rows.sort_by_key(|r| (r.height == -1, r.txid));
        Ok(rows)
    }

    /// Confirmed and unconfirmed balance, satoshis (the second may be negative).
    pub(crate) fn balance(&self, script: &ScriptHash) -> Result<(u64, i64), StoreError> {
        let confirmed = self
            .store
            .unspent(script, self.max_history)?
            .iter()
            .map(|(_, v, _)| *v)
            .sum();
        let pool = self.pool.read().unwrap_or_else(|e| e.into_inner());
        let mut unconfirmed: i64 = 0;
        for (_, tx) in pool.for_script(script) {
            for (_, s, value) in &tx.funds {
                if s == script {
                    unconfirmed += *value as i64;
                }
            }
            for (_, s, value) in &tx.spends {
                if s == script {
                    unconfirmed -= *value as i64;
                }
            }
        }
        Ok((confirmed, unconfirmed))
    }

    /// Outputs paying `script` that nothing spends, confirmed or pooled: (outpoint,
    /// value, height; 0 for pooled).
    pub(crate) fn unspent(
        &self,
        script: &ScriptHash,
    ) -> Result<Vec<(node_api::chain::OutPoint, u64, u32)>, StoreError> {
        let spent_in_pool =
            |o: &node_api::chain::OutPoint| self.mempool.as_ref().is_some_and(|m| m.is_spent(o));
        let mut rows: Vec<_> = self
            .store
            .unspent(script, self.max_history)?
            .into_iter()
            .filter(|(o, _, _)| !spent_in_pool(o))
            .collect();
        let pool = self.pool.read().unwrap_or_else(|e| e.into_inner());
        for (txid, tx) in pool.for_script(script) {
            for (vout, s, value) in &tx.funds {
                let outpoint = node_api::chain::OutPoint { txid, vout: *vout };
                if s == script && !spent_in_pool(&outpoint) {
                    rows.push((outpoint, *value, 0));
                }
            }
        }
        Ok(rows)
    }
}

fn add(touched: &mut Option<Touched>, more: Touched) {
    if let Some(set) = touched {
        set.extend(more);
        if set.len() > MAX_TOUCHED {
            *touched = None;
        }
    }
}

/// The index as the `script-history` service.
pub(crate) struct HistoryService(pub(crate) Arc<Shared>);

impl ScriptHistory for HistoryService {
    fn indexed_tip(&self) -> Option<(Hash256, u32)> {
        self.0.store.tip().ok().flatten()
    }
    fn history(&self, script_pubkey: &[u8]) -> Result<Vec<HistoryRow>, BoxError> {
        Ok(self
            .0
            .store
            .history(&script_hash(script_pubkey), usize::MAX)?)
    }
    fn tx_height(&self, txid: &Hash256) -> Result<Option<u32>, BoxError> {
        Ok(self.0.store.tx_position(txid)?.map(|(h, _)| h))
    }
}
