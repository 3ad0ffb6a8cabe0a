//! The `one-peer` sync strategy: headers, then blocks, from one chosen peer. It picks the
//! ready peer with the highest known chain, asks it for headers every
//! `[sync.one-peer] interval_secs`, and fetches the blocks it lacks from that peer alone,
//! `batch` at a time. Another peer is chosen only when the chosen one leaves or stalls
//! (a batch not delivered within `stall_intervals` intervals). Blocks and headers other
//! peers push are still accepted by the sync driver; this strategy only decides what to
//! ask of whom.
//!
//! What it is for: a node that should load one peer only (a trusted upstream, a metered
//! link), the opposite of headers-first's fan-out. It uses only what
//! [`SyncContext`] gives a strategy: the chain read-only, sending to peers, the peers'
//! heights. Judging peers stays with the driver.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use node_api::chain::{BlockHeader, Hash256};
use node_api::p2p::{PeerId, PeerInfo};
use node_api::{
    inventory, BuiltStrategy, ConfigError, StrategyConfig, StrategyFactory, SyncContext,
    SyncStrategy, STRATEGY,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[sync.one-peer]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct OnePeerConfig {
    /// Seconds between asking the chosen peer for headers; at least 1.
    interval_secs: u64,
    /// Most blocks asked of the chosen peer at once; 1 to 1000.
    batch: usize,
    /// A batch not delivered within this many intervals makes the strategy choose
    /// another peer; at least 1.
    stall_intervals: u32,
}

impl Default for OnePeerConfig {
    fn default() -> Self {
        OnePeerConfig {
            interval_secs: 2,
            // Half a `getdata`'s worth of a run the chain writes at once, so one batch
            // keeps the chain's verifiers busy.
            batch: 64,
            stall_intervals: 5,
        }
    }
}

struct OnePeer {
    interval: Duration,
    batch: usize,
    stall_after: Duration,
    /// The peer everything is asked of.
    chosen: Option<PeerId>,
    /// Blocks asked of it and not yet received.
    pending: HashSet<Hash256>,
    /// When the last block of the current batch arrived, or the batch was asked.
    progress_at: Instant,
}

fn build(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    let config: OnePeerConfig = config.parse()?;
    if config.interval_secs == 0 {
        return Err(ConfigError::Invalid {
            key: "interval_secs".to_string(),
            reason: "0 would ask without pause; at least 1".to_string(),
        });
    }
    if !(1..=1000).contains(&config.batch) {
        return Err(ConfigError::Invalid {
            key: "batch".to_string(),
            reason: format!("{} is outside 1..=1000", config.batch),
        });
    }
    if config.stall_intervals == 0 {
        return Err(ConfigError::Invalid {
            key: "stall_intervals".to_string(),
            reason: "0 would drop every batch at once; at least 1".to_string(),
        });
    }
    let interval = Duration::from_secs(config.interval_secs);
    Ok(STRATEGY.erase(Box::new(OnePeer {
        interval,
        batch: config.batch,
        stall_after: interval * config.stall_intervals,
        chosen: None,
        pending: HashSet::new(),
        progress_at: Instant::now(),
    })))
}

inventory::submit! {
    StrategyFactory {
        behaviour: STRATEGY.name,
        name: "one-peer",
        description: "headers then blocks from one chosen peer, batch at a time (custom-node example)",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}

impl OnePeer {
    /// The ready peer with the highest known chain, other than `except`.
    fn best_peer(ctx: &SyncContext<'_>, except: Option<PeerId>) -> Option<PeerId> {
        ctx.heights
            .iter()
            .filter(|(peer, _)| Some(**peer) != except)
            .max_by_key(|(peer, height)| (**height, std::cmp::Reverse(peer.0)))
            .map(|(peer, _)| *peer)
    }

    /// Chooses `peer` and asks it for headers.
    fn choose(&mut self, ctx: &SyncContext<'_>, peer: Option<PeerId>) {
        self.chosen = peer;
        self.pending.clear();
        if let Some(peer) = peer {
            tracing::debug!(%peer, "one-peer: syncing from this peer");
            ctx.request_headers(peer);
        }
    }

    /// Asks the chosen peer for the next batch of missing blocks, unless one is out.
    fn fetch(&mut self, ctx: &SyncContext<'_>) {
        let Some(peer) = self.chosen else { return };
        if !self.pending.is_empty() {
            return;
        }
        let missing: Vec<Hash256> = ctx
            .chain
            .missing_blocks(self.batch)
            .into_iter()
            .filter(|hash| {
                ctx.height_of(hash)
                    .is_some_and(|height| ctx.can_serve(peer, height))
            })
            .collect();
        if !missing.is_empty() && ctx.request_blocks(peer, &missing) {
            self.pending = missing.into_iter().collect();
            self.progress_at = Instant::now();
        }
    }
}

impl SyncStrategy for OnePeer {
    fn tick_interval(&self) -> Duration {
        self.interval
    }

    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo) {
        if self.chosen.is_none() {
            self.choose(ctx, Some(peer.id));
        }
    }

    fn peer_disconnected(&mut self, ctx: &SyncContext<'_>, peer: PeerId) {
        if self.chosen == Some(peer) {
            self.choose(ctx, Self::best_peer(ctx, Some(peer)));
        }
    }

    fn headers(
        &mut self,
        ctx: &SyncContext<'_>,
        peer: PeerId,
        headers: &[BlockHeader],
        _new: usize,
    ) {
        if self.chosen != Some(peer) {
            return;
        }
        // A full `headers` message means the peer has more: ask for the rest at once.
        if headers.len() == node_api::p2p::MAX_HEADERS {
            ctx.request_headers(peer);
        }
        self.fetch(ctx);
    }

    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256) {
        // Counted once the chain is done with it, so the next batch's `missing_blocks`
        // no longer lists it.
        if self.chosen == Some(peer) && self.pending.remove(&hash) {
            self.progress_at = Instant::now();
            self.fetch(ctx);
        }
    }

    fn not_found(&mut self, ctx: &SyncContext<'_>, peer: PeerId, _hashes: &[Hash256]) {
        // The chosen peer lacks what we need: another one may have it.
        if self.chosen == Some(peer) {
            self.choose(ctx, Self::best_peer(ctx, Some(peer)).or(Some(peer)));
        }
    }

    fn tick(&mut self, ctx: &SyncContext<'_>) {
        match self.chosen {
            None => self.choose(ctx, Self::best_peer(ctx, None)),
            Some(peer)
                if !self.pending.is_empty() && self.progress_at.elapsed() >= self.stall_after =>
            {
                tracing::info!(%peer, pending = self.pending.len(), "one-peer: the chosen peer stalled; choosing another");
                self.choose(ctx, Self::best_peer(ctx, Some(peer)).or(Some(peer)));
            }
            Some(peer) => {
                ctx.request_headers(peer);
                self.fetch(ctx);
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.pending.len()
    }
}
