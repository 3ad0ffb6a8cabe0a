//! `poll`: the tutorial's heartbeat made correct. At an interval every peer is asked for
//! headers after our locator (so a fork resolves at the common ancestor in one round,
//! not one block per heartbeat), and what is missing is fetched from one peer, a batch
//! at a time.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use node_api::chain::{BlockHeader, Hash256};
use node_api::p2p::{PeerId, PeerInfo};
use node_api::{inventory, BuiltStrategy, ConfigError, StrategyConfig, StrategyFactory};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use node_api::{SyncContext, SyncStrategy, STRATEGY};

/// The `[sync.poll]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PollConfig {
    /// Seconds between asking every peer for its tip (the tutorial's heartbeat); at
    /// least 1.
    pub interval_secs: u64,
    /// Most blocks requested from the chosen peer at once.
    pub batch: usize,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            // The tutorial's heartbeat was ten seconds; five keeps the spirit and halves
            // the wait.
            interval_secs: 5,
            // About what one peer delivers within the default heartbeat at the rates
            // `cargo bench --bench sync` measures for poll (124-152 blocks/s), so a
            // fetch seldom outlives it and is abandoned.
            batch: 500,
        }
    }
}

pub(crate) struct Poll {
    interval: Duration,
    batch: usize,
    /// The one peer blocks are being fetched from, and what is asked of it.
    fetching: Option<(PeerId, HashSet<Hash256>)>,
    /// When the current fetch started: one that outlives a heartbeat is abandoned.
    fetch_started: Option<Instant>,
}

fn build(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    let config: PollConfig = config.parse()?;
    if config.batch == 0 {
        return Err(ConfigError::Invalid {
            key: "batch".to_string(),
            reason: "0 would never request a block".to_string(),
        });
    }
    Ok(STRATEGY.erase(Box::new(Poll::new(&config))))
}

inventory::submit! {
    StrategyFactory {
        behaviour: STRATEGY.name,
        name: "poll",
        description: "the tutorial's heartbeat: ask peers' tips at an interval, fetch what is missing from one peer",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}

impl Poll {
    pub(crate) fn new(config: &PollConfig) -> Self {
        Poll {
            interval: Duration::from_secs(config.interval_secs.max(1)),
            batch: config.batch,
            fetching: None,
            fetch_started: None,
        }
    }

    /// Fetches the next batch of missing blocks from `peer` unless a fetch is running.
    fn fetch(&mut self, ctx: &SyncContext<'_>, peer: PeerId) {
        if self
            .fetching
            .as_ref()
            .is_some_and(|(_, pending)| !pending.is_empty())
        {
            return;
        }
        let missing = ctx.chain.missing_blocks(self.batch);
        if missing.is_empty() {
            self.fetching = None;
            return;
        }
        // A pruned peer lacks old bodies: the next headers answer from a full peer starts
        // the fetch instead.
        let first = ctx.height_of(&missing[0]).unwrap_or(0);
        if ctx.limited.contains(&peer) && !ctx.can_serve(peer, first) {
            return;
        }
        if ctx.request_blocks(peer, &missing) {
            self.fetching = Some((peer, missing.into_iter().collect()));
            self.fetch_started = Some(Instant::now());
        }
    }
}

impl SyncStrategy for Poll {
    fn tick_interval(&self) -> Duration {
        self.interval
    }

    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo) {
        // The handshake carried the peer's height, as the tutorial's did: ask at once.
        if peer.start_height > 0 && peer.start_height as u32 > ctx.chain.tip().height {
            ctx.request_headers(peer.id);
        }
    }

    fn peer_disconnected(&mut self, _ctx: &SyncContext<'_>, peer: PeerId) {
        if self.fetching.as_ref().is_some_and(|(p, _)| *p == peer) {
            self.fetching = None;
        }
    }

    fn headers(
        &mut self,
        ctx: &SyncContext<'_>,
        peer: PeerId,
        _headers: &[BlockHeader],
        _new: usize,
    ) {
        self.fetch(ctx, peer);
    }

    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256) {
        if let Some((from, pending)) = &mut self.fetching {
            pending.remove(&hash);
            if pending.is_empty() && *from == peer {
                self.fetching = None;
                self.fetch(ctx, peer);
            }
        }
    }

    fn not_found(&mut self, _ctx: &SyncContext<'_>, peer: PeerId, _hashes: &[Hash256]) {
        if self.fetching.as_ref().is_some_and(|(p, _)| *p == peer) {
            self.fetching = None;
        }
    }

    fn tick(&mut self, ctx: &SyncContext<'_>) {
        // A fetch whose blocks did not all come within a heartbeat is abandoned; the
        // next headers answer starts a new one, from whichever peer answers first.
        if self
            .fetch_started
            .is_some_and(|t| t.elapsed() >= self.interval)
        {
            self.fetching = None;
            self.fetch_started = None;
        }
        for peer in ctx.heights.keys() {
            ctx.request_headers(*peer);
        }
    }

    fn in_flight(&self) -> usize {
        self.fetching
            .as_ref()
            .map_or(0, |(_, pending)| pending.len())
    }
}
