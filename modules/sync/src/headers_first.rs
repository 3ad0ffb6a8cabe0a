//! `headers-first`: validate the header chain, then fetch bodies in parallel from several
//! peers in a moving window, re-assigning blocks from peers that stall.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use node_api::chain::{BlockHeader, Hash256};
use node_api::p2p::{PeerId, PeerInfo, MAX_HEADERS};
use node_api::{inventory, BuiltStrategy, ConfigError, StrategyConfig, StrategyFactory};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use node_api::{SyncContext, SyncStrategy, STRATEGY};

/// Scheduling runs this often even when nothing arrives, to catch stalls.
const TICK: Duration = Duration::from_millis(250);

/// The `[sync.headers-first]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HeadersFirstConfig {
    /// The moving window of missing blocks being fetched.
    pub window: usize,
    /// Most blocks requested from one peer and not yet received (blocks the chain is
    /// still accepting do not count).
    pub max_in_flight_per_peer: usize,
    /// Seconds a requested block may take before another peer is asked.
    pub stall_timeout_secs: u64,
    /// At the tip (at most a few blocks missing), milliseconds a requested block may
    /// go with no byte arriving from the peer asked before one more peer that has it is
    /// asked too, the first request left standing. A peer that is sending (a large block
    /// on a slow link) is not stalled: asking another then only doubles the traffic.
    pub tip_stall_ms: u64,
    /// Requests in flight at once for one block at the tip, counting the first.
    pub max_tip_requests: usize,
}

impl Default for HeadersFirstConfig {
    fn default() -> Self {
        HeadersFirstConfig {
            // Bitcoin Core's BLOCK_DOWNLOAD_WINDOW.
            window: 1024,
            // Bitcoin Core's MAX_BLOCKS_IN_TRANSIT_PER_PEER.
            max_in_flight_per_peer: 16,
            // Core waits seconds to minutes depending on load; our blocks are small and
            // peers near, so a few seconds is a stall.
            stall_timeout_secs: 5,
            // A 1 MB block crosses a 20 Mbit/s link in 0.4 s; one still missing after a
            // second waits behind other uploads of its sender.
            tip_stall_ms: 1000,
            // Bitcoin Core lets three peers deliver one compact block at once.
            max_tip_requests: 3,
        }
    }
}

pub(crate) struct HeadersFirst {
    config: HeadersFirstConfig,
    /// Blocks requested and not yet received: from whom, since when.
    in_flight: HashMap<Hash256, (PeerId, Instant)>,
    /// Blocks requested, received and being accepted by the chain: no longer in transit
    /// (so their peer may be asked for more), not to be asked for again.
    accepting: HashSet<Hash256>,
    /// Peers a block must not be asked from again (they said they lack it).
    avoid: HashMap<Hash256, HashSet<PeerId>>,
    /// Peers that let a request for the block stall: asked again only when no other
    /// peer can take it, since a slow peer is better than none (with one peer, avoiding
    /// it for good stopped the sync at the first stall).
    stalled: HashMap<Hash256, HashSet<PeerId>>,
    /// Blocks at the tip asked of more peers than the one in `in_flight`: those peers.
    also_asked: HashMap<Hash256, Vec<PeerId>>,
    /// Bytes received from each peer with a block at the tip in flight, and when that
    /// count last grew.
    progress: HashMap<PeerId, (u64, Instant)>,
}

/// At most this many missing blocks, the node is at the tip, where a block is worth
/// asking of a second peer (Bitcoin Core's MAX_BLOCKS_TO_ANNOUNCE: a run longer than an
/// announcement is a sync, where doubled requests would cost bandwidth).
const AT_TIP: usize = 8;

fn build(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    let config: HeadersFirstConfig = config.parse()?;
    for (key, value) in [
        ("window", config.window),
        ("max_in_flight_per_peer", config.max_in_flight_per_peer),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: "0 would never request a block".to_string(),
            });
        }
    }
    Ok(STRATEGY.erase(Box::new(HeadersFirst::new(config))))
}

inventory::submit! {
    StrategyFactory {
        behaviour: STRATEGY.name,
        name: "headers-first",
        description: "validate headers, then fetch bodies in parallel from several peers in a moving window",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}

impl HeadersFirst {
    pub(crate) fn new(config: HeadersFirstConfig) -> Self {
        HeadersFirst {
            config,
            in_flight: HashMap::new(),
            accepting: HashSet::new(),
            avoid: HashMap::new(),
            stalled: HashMap::new(),
            also_asked: HashMap::new(),
            progress: HashMap::new(),
        }
    }

    /// Asks blocks at the tip whose peer sends nothing of one more peer that has them.
    fn ask_more_at_tip(&mut self, ctx: &SyncContext<'_>) {
        let late = Duration::from_millis(self.config.tip_stall_ms);
        if self.in_flight.len() > AT_TIP || ctx.chain.missing_blocks(AT_TIP + 1).len() > AT_TIP {
            self.progress.clear();
            return;
        }
        let now = Instant::now();
        let mut silent: HashMap<PeerId, Duration> = HashMap::new();
        for (peer, _) in self.in_flight.values() {
            let received = ctx.peers.peer(*peer).map_or(0, |info| info.bytes_received);
            let entry = self.progress.entry(*peer).or_insert((received, now));
            if received > entry.0 {
                *entry = (received, now);
            }
            silent.insert(*peer, now - entry.1);
        }
        self.progress.retain(|peer, _| silent.contains_key(peer));
        let candidates: Vec<(Hash256, PeerId, Instant)> = self
            .in_flight
            .iter()
            .map(|(h, (p, since))| (*h, *p, *since))
            .collect();
        for (hash, first, since) in candidates {
            let asked = self.also_asked.get(&hash).map_or(0, Vec::len);
            // The n-th extra request waits until the peer was silent n + 1 times the delay.
            let wait = late * (asked as u32 + 1);
            let quiet = silent
                .get(&first)
                .copied()
                .unwrap_or_default()
                .min(now - since);
            if asked + 1 >= self.config.max_tip_requests || quiet < wait {
                continue;
            }
            let height = ctx.height_of(&hash).unwrap_or(u32::MAX);
            let others = self.also_asked.get(&hash);
            let avoid = self.avoid.get(&hash);
            let next = ctx
                .heights
                .keys()
                .filter(|p| **p != first && ctx.can_serve(**p, height))
                .filter(|p| {
                    !others.is_some_and(|o| o.contains(p)) && !avoid.is_some_and(|a| a.contains(p))
                })
                .min_by_key(|p| (self.load(**p), **p))
                .copied();
            if let Some(peer) = next {
                if ctx.request_blocks(peer, &[hash]) {
                    tracing::debug!(%peer, block = %hash, "block at the tip is late; asking one more peer");
                    self.also_asked.entry(hash).or_default().push(peer);
                }
            }
        }
    }

    /// Refilling a peer once half its requests are answered sends `getdata` in batches
    /// and walks the chain for missing blocks once per batch instead of once per block
    /// (that walk is the costly part of scheduling while far behind).
    fn refill(&mut self, ctx: &SyncContext<'_>, peer: PeerId) {
        if self.load(peer) <= self.config.max_in_flight_per_peer / 2 {
            self.schedule(ctx);
        }
    }

    fn load(&self, peer: PeerId) -> usize {
        self.in_flight.values().filter(|(p, _)| *p == peer).count()
    }

    /// Requests missing blocks of the window from peers with room, least loaded first.
    fn schedule(&mut self, ctx: &SyncContext<'_>) {
        let missing = ctx.chain.missing_blocks(self.config.window);
        let mut requests: HashMap<PeerId, Vec<Hash256>> = HashMap::new();
        let mut load: HashMap<PeerId, usize> =
            ctx.heights.keys().map(|p| (*p, self.load(*p))).collect();
        for hash in missing {
            if self.in_flight.contains_key(&hash) || self.accepting.contains(&hash) {
                continue;
            }
            let height = ctx.height_of(&hash).unwrap_or(u32::MAX);
            let avoid = self.avoid.get(&hash);
            let stalled = self.stalled.get(&hash);
            let choice = ctx
                .heights
                .keys()
                .filter(|peer| {
                    ctx.can_serve(**peer, height) && !avoid.is_some_and(|a| a.contains(peer))
                })
                .map(|peer| (*peer, load.get(peer).copied().unwrap_or(0)))
                .filter(|(_, l)| *l < self.config.max_in_flight_per_peer)
                // Peers that stalled on this block last, then the least loaded.
                .min_by_key(|(peer, l)| (stalled.is_some_and(|s| s.contains(peer)), *l, *peer));
            let Some((peer, _)) = choice else {
                // The window is in order: if no peer can take this block now, later
                // ones wait too, so the window does not run ahead of a gap.
                break;
            };
            *load.entry(peer).or_default() += 1;
            requests.entry(peer).or_default().push(hash);
        }
        let now = Instant::now();
        for (peer, hashes) in requests {
            if ctx.request_blocks(peer, &hashes) {
                for hash in hashes {
                    self.in_flight.insert(hash, (peer, now));
                }
            }
        }
    }
}

impl SyncStrategy for HeadersFirst {
    fn tick_interval(&self) -> Duration {
        TICK
    }

    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo) {
        ctx.request_headers(peer.id);
    }

    fn peer_disconnected(&mut self, ctx: &SyncContext<'_>, peer: PeerId) {
        self.in_flight.retain(|_, (p, _)| *p != peer);
        for asked in self.also_asked.values_mut() {
            asked.retain(|p| *p != peer);
        }
        for avoid in self.avoid.values_mut().chain(self.stalled.values_mut()) {
            avoid.remove(&peer);
        }
        self.schedule(ctx);
    }

    fn headers(
        &mut self,
        ctx: &SyncContext<'_>,
        peer: PeerId,
        headers: &[BlockHeader],
        _new: usize,
    ) {
        // A full message: the peer has more.
        if headers.len() == MAX_HEADERS {
            ctx.request_headers(peer);
        }
        self.schedule(ctx);
    }

    fn received(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256) {
        self.also_asked.remove(&hash);
        if self.in_flight.remove(&hash).is_some() {
            self.accepting.insert(hash);
            self.refill(ctx, peer);
        }
    }

    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256) {
        let in_transit = self.in_flight.remove(&hash).is_some();
        self.accepting.remove(&hash);
        self.avoid.remove(&hash);
        self.stalled.remove(&hash);
        self.also_asked.remove(&hash);
        // A block `received` already freed its slot and refilled; walking the window
        // again for every block the chain finishes would cost a walk per block.
        if in_transit {
            self.refill(ctx, peer);
        }
    }

    fn not_found(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hashes: &[Hash256]) {
        for hash in hashes {
            if self.in_flight.get(hash).is_some_and(|(p, _)| *p == peer) {
                self.in_flight.remove(hash);
                self.avoid.entry(*hash).or_default().insert(peer);
            }
        }
        self.schedule(ctx);
    }

    fn tick(&mut self, ctx: &SyncContext<'_>) {
        let timeout = Duration::from_secs(self.config.stall_timeout_secs);
        let stalled: Vec<(Hash256, PeerId)> = self
            .in_flight
            .iter()
            .filter(|(_, (_, since))| since.elapsed() > timeout)
            .map(|(h, (p, _))| (*h, *p))
            .collect();
        for (hash, peer) in stalled {
            tracing::debug!(%peer, block = %hash, "block download stalled; asking another peer, or this one again");
            self.in_flight.remove(&hash);
            self.stalled.entry(hash).or_default().insert(peer);
        }
        // Blocks that arrived by other routes (pushed, or already stored) leave the set.
        self.in_flight
            .retain(|hash, _| ctx.chain.entry(hash).is_some_and(|e| !e.has_data()));
        let in_flight = &self.in_flight;
        self.also_asked
            .retain(|hash, _| in_flight.contains_key(hash));
        self.schedule(ctx);
        self.ask_more_at_tip(ctx);
    }

    fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
