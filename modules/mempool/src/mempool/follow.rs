//! How the pool follows the chain: a [`ChainListener`] called in order inside the step
//! that connects or disconnects a block (Bitcoin Core's validation interface), so that
//! when `accept_block` returns the pool agrees with the new tip and a template built
//! next never offers a transaction the block confirmed.
//!
//! - A connected block's transactions leave the pool, with every entry that spends an
//!   output one of them spends (a conflict) and that entry's descendants; orphans waiting
//!   for one of its transactions are tried again.
//! - A disconnected block's transactions wait to come back, and the entries that spend
//!   their outputs leave at once (their inputs left the chain with the block). When the
//!   step ends (`TipChanged`), those come back, oldest first, and every other entry is
//!   checked again: a reorganisation may have confirmed, conflicted or un-matured its
//!   inputs. Between the events of one step, the pool holds only entries whose inputs
//!   exist at the chain's current tip (coinbase maturity is checked again at its end).
//! - Every event is checked against the tip the pool last saw. One that does not follow
//!   from it (a change the pool never heard of, such as a block connected between
//!   building the pool and registering its listener) marks the pool stale, and the end of
//!   the step checks every entry against the tip: the pool is never left out of step,
//!   however it fell behind.
//!
//! Locking: the listener runs while the chain holds its writer lock. It takes the pool's
//! lock and reads the chain, whose reads never take the writer lock; the pool never
//! calls the chain's writer, so the two locks are never taken in the opposite order.
//! Costs: removal is linear in the block; re-validation after a reorganisation checks
//! every entry's signatures again, inside the step that moves the tip.

use std::collections::HashSet;
use std::sync::{Arc, Weak};

use node_api::chain::{Block, ChainEvent, Hash256, OutPoint, Transaction};
use node_api::{ChainListener, MempoolEvent};

use super::{Inner, Mempool};

/// How far the pool has followed the chain.
pub(super) struct Following {
    /// The tip the pool agrees with.
    tip: Hash256,
    /// Non-coinbase transactions of disconnected blocks, oldest block first.
    readmit: Vec<Vec<Arc<Transaction>>>,
    /// Entries taken out because a disconnected block created an input they spend, with
    /// their admission sequence (parents before children).
    displaced: Vec<(u64, Arc<Transaction>)>,
    /// An event did not follow from `tip`: some change never reached the pool.
    stale: bool,
}

impl Following {
    /// A pool that agrees with `tip`.
    pub(super) fn at(tip: Hash256) -> Following {
        Following {
            tip,
            readmit: Vec::new(),
            displaced: Vec::new(),
            stale: false,
        }
    }

    /// The chain moved from `from` to `to`.
    fn step(&mut self, from: Hash256, to: Hash256) {
        if from != self.tip && !self.stale {
            tracing::warn!(
                expected = %self.tip,
                got = %from,
                "mempool missed a chain change; it re-checks every entry at the end of the step"
            );
            self.stale = true;
        }
        self.tip = to;
    }

    /// Whether the end of the step must re-admit or re-check entries.
    fn pending(&self) -> bool {
        self.stale || !self.readmit.is_empty() || !self.displaced.is_empty()
    }
}

/// Registers `pool` with its chain. The chain holds the pool weakly: the chain outlives
/// the mempool module, and a stopped pool is freed rather than kept following.
pub(super) fn listen(pool: &Arc<Mempool>) {
    pool.chain.listen(Arc::new(Follower(Arc::downgrade(pool))));
}

struct Follower(Weak<Mempool>);

impl ChainListener for Follower {
    fn on_chain_event(&self, event: &ChainEvent) {
        if let Some(pool) = self.0.upgrade() {
            pool.follow(event);
        }
    }
}

impl Mempool {
    fn follow(&self, event: &ChainEvent) {
        let mut events = Vec::new();
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            match event {
                ChainEvent::BlockConnected {
                    hash,
                    block,
                    height,
                    txids,
                } => {
                    inner.follow.step(block.header.prev_block, *hash);
                    self.connected(inner, block, txids, *height, &mut events);
                }
                ChainEvent::BlockDisconnected {
                    hash,
                    block,
                    height,
                } => {
                    inner.follow.step(*hash, block.header.prev_block);
                    inner.fees.disconnected(*height);
                    disconnected(inner, block);
                }
                ChainEvent::TipChanged { hash, .. } => {
                    inner.follow.step(*hash, *hash);
                    if inner.follow.pending() {
                        self.revalidate(inner, &mut events);
                    }
                }
            }
            self.metrics.size(&inner.pool);
        }
        self.publish(events);
    }

    fn connected(
        &self,
        inner: &mut Inner,
        block: &Block,
        txids: &[Hash256],
        height: u32,
        events: &mut Vec<MempoolEvent>,
    ) {
        // Core's removeForBlock: the rolling minimum fee may decay from here on.
        inner.min_fee.block(super::now());
        // Nothing to remove or retry: the common case while a node syncs, where these
        // lookups were most of the pool's cost on the chain's writer thread.
        if inner.pool.is_empty() && inner.orphans.is_empty() {
            return;
        }
        for txid in txids {
            if let Some(entry) = inner.pool.remove(txid) {
                // What the fee estimator learns: this rate waited this long.
                inner
                    .fees
                    .confirmed(height, entry.height, entry.fee, entry.size);
            }
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
        for txid in txids {
            inner.orphans.remove(txid);
            for child in inner.orphans.take_children(txid) {
                let _ = self.admit(inner, child, true, events);
            }
        }
    }

    /// Re-admits disconnected blocks' transactions and the entries they displaced, then
    /// every entry again (a reorganisation may have confirmed, conflicted or un-matured
    /// their inputs).
    fn revalidate(&self, inner: &mut Inner, events: &mut Vec<MempoolEvent>) {
        let readmit: Vec<Arc<Transaction>> = inner.follow.readmit.drain(..).flatten().collect();
        let mut previous = std::mem::take(&mut inner.follow.displaced);
        previous.extend(inner.pool.drain().into_iter().map(|e| (e.sequence, e.tx)));
        previous.sort_by_key(|(sequence, _)| *sequence);
        let stale = std::mem::replace(&mut inner.follow.stale, false);
        let was_pooled: HashSet<Hash256> = previous.iter().map(|(_, tx)| tx.txid()).collect();
        let mut back = 0;
        for tx in readmit
            .into_iter()
            .chain(previous.iter().map(|(_, tx)| tx.clone()))
        {
            if self.admit(inner, tx, false, events).is_ok() {
                back += 1;
            }
        }
        // Entries that were already pooled are not news to relay; only report drops.
        events.retain(
            |e| !matches!(e, MempoolEvent::Accepted { txid, .. } if was_pooled.contains(txid)),
        );
        for (_, tx) in &previous {
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
            stale,
            "mempool re-validated against the new tip"
        );
    }
}

/// Queues a disconnected block's transactions for re-admission and takes out the entries
/// that spend its outputs.
fn disconnected(inner: &mut Inner, block: &Block) {
    for tx in &block.txs {
        let txid = tx.txid();
        for vout in 0..tx.outputs.len() as u32 {
            if let Some(spender) = inner.pool.spender(&OutPoint { txid, vout }) {
                for e in inner.pool.remove_with_descendants(&spender) {
                    inner.follow.displaced.push((e.sequence, e.tx));
                }
            }
        }
    }
    let txs = block
        .txs
        .iter()
        .filter(|t| !t.is_coinbase())
        .map(|t| Arc::new(t.clone()))
        .collect();
    // Disconnects come newest block first; re-admission goes oldest first.
    inner.follow.readmit.insert(0, txs);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use node_api::chain::ChainSpec;
    use node_api::{ChainView, ChainWriter, EventBus, MempoolService, POLICY};
    use node_chain_state::testing::{Builder, Wallet};
    use node_chain_state::{ChainOptions, LocalChain};

    use super::*;
    use crate::config::MempoolConfig;
    use crate::orphans::Orphans;
    use crate::pool::Pool;

    #[test]
    fn a_pool_that_missed_a_block_rechecks_every_entry_at_the_end_of_the_next_step() {
        let dir = tempfile::tempdir().unwrap();
        let heard: Arc<Mutex<Vec<ChainEvent>>> = Arc::default();
        let sink = heard.clone();
        let spec = ChainSpec::by_name("regtest").unwrap();
        let chain = LocalChain::open(dir.path(), spec, ChainOptions::default(), move |e| {
            sink.lock().unwrap().push(e)
        })
        .unwrap();
        let (alice, bob) = (Wallet::new(1), Wallet::new(2));
        let mut builder = Builder::new(chain.state());
        let mut coinbase = None;
        for _ in 0..101 {
            let block = builder.next_block(&alice, vec![]);
            coinbase.get_or_insert_with(|| block.txs[0].clone());
            chain.accept_block(&block).unwrap();
        }
        // Built without its listener, so that the test decides which changes reach it.
        let pool = Arc::new(Mempool {
            chain: chain.clone(),
            policy: POLICY.build_default("standard").unwrap(),
            config: MempoolConfig::default(),
            events: EventBus::default(),
            metrics: crate::metrics::MempoolMetrics::new(),
            inner: std::sync::Mutex::new(Inner {
                pool: Pool::default(),
                orphans: Orphans::default(),
                follow: Following::at(chain.tip().hash),
                fees: crate::fees::FeeEstimator::default(),
                min_fee: Default::default(),
            }),
        });
        let tx = alice.pay(&coinbase.unwrap(), 0, &bob, 100_000_000, 10_000);
        pool.accept(tx.clone()).unwrap();

        // The block confirming `tx` never reaches the pool; the next one does.
        chain
            .accept_block(&builder.next_block(&alice, vec![tx.clone()]))
            .unwrap();
        heard.lock().unwrap().clear();
        chain
            .accept_block(&builder.next_block(&alice, vec![]))
            .unwrap();
        for event in heard.lock().unwrap().drain(..) {
            pool.follow(&event);
        }
        assert!(!pool.contains(&tx.txid()));
        let inner = pool.lock();
        assert!(!inner.follow.stale && inner.follow.tip == chain.tip().hash);
    }
}
