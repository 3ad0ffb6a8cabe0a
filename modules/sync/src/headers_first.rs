//! `headers-first`: validate the header chain, then fetch bodies in parallel from several
//! peers in a moving window, re-assigning blocks from peers that stall.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use node_chain::{BlockHeader, Hash256};
use node_kernel::{inventory, StrategyFactory};
use node_peers::{PeerId, PeerInfo};

use crate::config::SyncConfig;
use crate::strategy::{SyncContext, SyncStrategy, STRATEGY_BEHAVIOUR};

/// A full `headers` message: the peer has more.
const MAX_HEADERS: usize = 2000;
/// Scheduling runs this often even when nothing arrives, to catch stalls.
const TICK: Duration = Duration::from_millis(250);

#[derive(Default)]
pub(crate) struct HeadersFirst {
    /// Blocks requested: from whom, since when.
    in_flight: HashMap<Hash256, (PeerId, Instant)>,
    /// Peers a block must not be asked from again (they stalled or lacked it).
    avoid: HashMap<Hash256, HashSet<PeerId>>,
    progress: Progress,
}

struct Progress {
    last_log: Instant,
    height_at_log: u32,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            last_log: Instant::now(),
            height_at_log: 0,
        }
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: STRATEGY_BEHAVIOUR,
        name: "headers-first",
        description: "validate headers, then fetch bodies in parallel from several peers in a moving window",
        build: || Box::new(Box::new(HeadersFirst::default()) as Box<dyn SyncStrategy>),
    }
}

impl HeadersFirst {
    fn load(&self, peer: PeerId) -> usize {
        self.in_flight.values().filter(|(p, _)| *p == peer).count()
    }

    /// Requests missing blocks of the window from peers with room, least loaded first.
    fn schedule(&mut self, ctx: &SyncContext<'_>) {
        let missing = ctx.chain.missing_blocks(ctx.config.window);
        let mut requests: HashMap<PeerId, Vec<Hash256>> = HashMap::new();
        let mut load: HashMap<PeerId, usize> =
            ctx.heights.keys().map(|p| (*p, self.load(*p))).collect();
        for hash in missing {
            if self.in_flight.contains_key(&hash) {
                continue;
            }
            let height = ctx.height_of(&hash).unwrap_or(u32::MAX);
            let avoid = self.avoid.get(&hash);
            let choice = ctx
                .heights
                .keys()
                .filter(|peer| {
                    ctx.can_serve(**peer, height) && !avoid.is_some_and(|a| a.contains(peer))
                })
                .map(|peer| (*peer, load.get(peer).copied().unwrap_or(0)))
                .filter(|(_, l)| *l < ctx.config.max_in_flight_per_peer)
                .min_by_key(|(peer, l)| (*l, *peer));
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

    fn log_progress(&mut self, ctx: &SyncContext<'_>) {
        let interval = Duration::from_secs(ctx.config.progress_interval_secs);
        if self.progress.last_log.elapsed() < interval {
            return;
        }
        let tip = ctx.chain.tip().height;
        let (_, best) = ctx.chain.best_header();
        let elapsed = self.progress.last_log.elapsed().as_secs_f64();
        let rate = f64::from(tip.saturating_sub(self.progress.height_at_log)) / elapsed;
        if best > tip {
            tracing::info!(
                height = tip,
                headers = best,
                progress = format!("{:.1}%", 100.0 * f64::from(tip) / f64::from(best.max(1))),
                blocks_per_s = format!("{rate:.1}"),
                in_flight = self.in_flight.len(),
                "syncing"
            );
        }
        self.progress = Progress {
            last_log: Instant::now(),
            height_at_log: tip,
        };
    }
}

impl SyncStrategy for HeadersFirst {
    fn tick_interval(&self, _config: &SyncConfig) -> Duration {
        TICK
    }

    fn peer_connected(&mut self, ctx: &SyncContext<'_>, peer: &PeerInfo) {
        ctx.request_headers(peer.id);
    }

    fn peer_disconnected(&mut self, ctx: &SyncContext<'_>, peer: PeerId) {
        self.in_flight.retain(|_, (p, _)| *p != peer);
        for avoid in self.avoid.values_mut() {
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
        if headers.len() == MAX_HEADERS {
            ctx.request_headers(peer);
        }
        self.schedule(ctx);
    }

    fn block(&mut self, ctx: &SyncContext<'_>, peer: PeerId, hash: Hash256) {
        self.in_flight.remove(&hash);
        self.avoid.remove(&hash);
        // Refilling a peer once half its requests are answered sends `getdata` in batches
        // and walks the chain for missing blocks once per batch instead of once per block
        // (that walk is the costly part of scheduling while far behind).
        if self.load(peer) <= ctx.config.max_in_flight_per_peer / 2 {
            self.schedule(ctx);
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
        let timeout = Duration::from_secs(ctx.config.stall_timeout_secs);
        let stalled: Vec<(Hash256, PeerId)> = self
            .in_flight
            .iter()
            .filter(|(_, (_, since))| since.elapsed() > timeout)
            .map(|(h, (p, _))| (*h, *p))
            .collect();
        for (hash, peer) in stalled {
            tracing::debug!(%peer, block = %hash, "block download stalled; asking another peer");
            self.in_flight.remove(&hash);
            self.avoid.entry(hash).or_default().insert(peer);
        }
        // Blocks that arrived by other routes (pushed, or already stored) leave the set.
        self.in_flight
            .retain(|hash, _| ctx.chain.entry(hash).is_some_and(|e| !e.has_data()));
        self.schedule(ctx);
        self.log_progress(ctx);
    }
}
