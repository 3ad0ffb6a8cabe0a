//! The chain's metrics: a listener that sees every connect and disconnect in order (so
//! reorganisations are counted exactly), and a writer that times each block that
//! becomes the tip. Handles are resolved once; recording is an atomic add.
//!
//! `node_chain_work` is log2 of the tip's cumulative work (the expected number of
//! hashes behind the chain), so it fits a float without losing its meaning: +1 is twice
//! the work.

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use node_api::chain::{
    Block, BlockHeader, BlockOutcome, ChainError, ChainEvent, ProposalError, U256,
};
use node_api::metrics::{
    counter, describe_counter, describe_gauge, gauge, histogram, Counter, Gauge, Histogram,
    HistogramBuckets, Unit,
};
use node_api::{ChainListener, ChainView, ChainWriter, PendingBlock};
use node_chain_state::LocalChain;

/// `node_reorg_depth_blocks`. The alert rules count reorganisations deeper than 6
/// (`observability/prometheus/alerts.yml` subtracts the `le="6"` bucket from the count).
const REORG_DEPTH: HistogramBuckets = HistogramBuckets {
    name: "node_reorg_depth_blocks",
    description: "blocks disconnected by each reorganisation",
    buckets: &[1.0, 2.0, 3.0, 6.0, 10.0, 100.0],
    registered_by: env!("CARGO_PKG_NAME"),
};
node_api::inventory::submit! { REORG_DEPTH }

/// `node_block_connect_seconds`: milliseconds for a small block, up to seconds for a full
/// one on a cold cache.
const BLOCK_CONNECT: HistogramBuckets = HistogramBuckets {
    name: "node_block_connect_seconds",
    description: "time to accept a block that became the tip: checks, signatures, the write",
    buckets: &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ],
    registered_by: env!("CARGO_PKG_NAME"),
};
node_api::inventory::submit! { BLOCK_CONNECT }

/// Handles of the chain's series.
pub(crate) struct ChainMetrics {
    height: Gauge,
    tip_time: Gauge,
    header_height: Gauge,
    work: Gauge,
    connected: Counter,
    disconnected: Counter,
    reorgs: Counter,
    reorg_depth: Histogram,
    connect_seconds: Histogram,
    /// 1 while the last write failed for lack of disk space.
    disk_full: Gauge,
    /// Blocks disconnected since the last tip change: the depth of a reorganisation.
    pending_disconnects: Mutex<u32>,
    chain: Weak<LocalChain>,
}

impl ChainMetrics {
    /// Registers the series and sets them from `chain`'s tip.
    pub(crate) fn new(chain: &Arc<LocalChain>) -> Arc<ChainMetrics> {
        describe_gauge!("node_chain_height", "height of the tip");
        describe_gauge!(
            "node_chain_disk_full",
            "1 while the last chain state write failed for lack of disk space (ENOSPC, EDQUOT)"
        );
        describe_gauge!(
            "node_chain_header_height",
            "height of the most-work header known"
        );
        describe_gauge!("node_chain_work", "log2 of the tip's cumulative work");
        describe_gauge!(
            "node_chain_tip_timestamp_seconds",
            Unit::Seconds,
            "the tip header's time, in seconds since the Unix epoch"
        );
        describe_counter!(
            "node_blocks_connected_total",
            "blocks connected to the main chain"
        );
        describe_counter!(
            "node_blocks_disconnected_total",
            "blocks disconnected from the main chain by reorganisations"
        );
        describe_counter!(
            "node_reorgs_total",
            "reorganisations (a tip change that disconnected blocks)"
        );
        let metrics = Arc::new(ChainMetrics {
            height: gauge!("node_chain_height"),
            tip_time: gauge!("node_chain_tip_timestamp_seconds"),
            header_height: gauge!("node_chain_header_height"),
            work: gauge!("node_chain_work"),
            connected: counter!("node_blocks_connected_total"),
            disconnected: counter!("node_blocks_disconnected_total"),
            reorgs: counter!("node_reorgs_total"),
            reorg_depth: histogram!(REORG_DEPTH.name),
            connect_seconds: histogram!(BLOCK_CONNECT.name),
            disk_full: gauge!("node_chain_disk_full"),
            pending_disconnects: Mutex::new(0),
            chain: Arc::downgrade(chain),
        });
        metrics.tip_changed(chain.as_ref());
        metrics
    }

    fn tip_changed(&self, chain: &LocalChain) {
        let tip = chain.tip();
        self.height.set(f64::from(tip.height));
        self.tip_time.set(f64::from(tip.header.time));
        self.work.set(log2(tip.chain_work));
        self.header_height.set(f64::from(chain.best_header().1));
    }
}

impl ChainListener for ChainMetrics {
    fn on_chain_event(&self, event: &ChainEvent) {
        match event {
            ChainEvent::BlockConnected { height, .. } => {
                self.connected.increment(1);
                self.height.set(f64::from(*height));
            }
            ChainEvent::BlockDisconnected { .. } => {
                self.disconnected.increment(1);
                *self
                    .pending_disconnects
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) += 1;
            }
            ChainEvent::TipChanged { .. } => {
                let depth = std::mem::take(
                    &mut *self
                        .pending_disconnects
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()),
                );
                if depth > 0 {
                    self.reorgs.increment(1);
                    self.reorg_depth.record(f64::from(depth));
                }
                if let Some(chain) = self.chain.upgrade() {
                    self.tip_changed(&chain);
                }
            }
        }
    }
}

/// The chain writer every module feeds, timing blocks and following the best header.
pub(crate) struct MeteredWriter {
    pub(crate) chain: Arc<LocalChain>,
    pub(crate) metrics: Arc<ChainMetrics>,
}

impl MeteredWriter {
    /// Records how long a block that became the tip took to connect.
    fn timed(
        &self,
        started: Instant,
        outcome: Result<BlockOutcome, ChainError>,
    ) -> Result<BlockOutcome, ChainError> {
        if let Ok(BlockOutcome::BecameTip) = outcome {
            self.metrics
                .connect_seconds
                .record(started.elapsed().as_secs_f64());
        }
        let full = self.chain.disk_full();
        self.metrics.disk_full.set(if full { 1.0 } else { 0.0 });
        if let Err(e) = &outcome {
            if e.is_disk_full() {
                tracing::error!("{e}");
            }
        }
        outcome
    }
}

impl ChainWriter for MeteredWriter {
    fn accept_block(&self, block: &Block) -> Result<BlockOutcome, ChainError> {
        let started = Instant::now();
        let outcome = self.chain.accept_block(block);
        self.timed(started, outcome)
    }

    fn accept_shared_block(&self, block: Arc<Block>) -> Result<BlockOutcome, ChainError> {
        let started = Instant::now();
        let outcome = self.chain.accept_shared_block(block);
        self.timed(started, outcome)
    }

    fn accept_ahead(self: Arc<Self>, block: Arc<Block>) -> PendingBlock {
        let started = Instant::now();
        let pending = self.chain.clone().accept_ahead(block);
        Box::pin(async move {
            let outcome = pending.await?;
            Some(self.timed(started, outcome))
        })
    }

    fn accept_headers(&self, headers: &[BlockHeader]) -> Result<usize, ChainError> {
        let accepted = self.chain.accept_headers(headers);
        self.metrics
            .header_height
            .set(f64::from(self.chain.best_header().1));
        accepted
    }

    fn check_proposal(&self, block: &Block) -> Result<(), ProposalError> {
        self.chain.check_proposal(block)
    }
}

/// log2 of a 256-bit amount, to float precision (0 for 0).
fn log2(work: U256) -> f64 {
    let bits = work.bits();
    if bits == 0 {
        return 0.0;
    }
    // The top 64 bits carry all the precision an f64 holds.
    let shift = bits.saturating_sub(64);
    ((work >> shift).low_u64() as f64).log2() + shift as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_of_work() {
        assert_eq!(log2(U256::zero()), 0.0);
        assert_eq!(log2(U256::one()), 0.0);
        assert_eq!(log2(U256::from(1024u64)), 10.0);
        assert!((log2(U256::one() << 200) - 200.0).abs() < 1e-9);
        assert!((log2((U256::one() << 200) * 3) - (200.0 + 3f64.log2())).abs() < 1e-9);
    }
}
