//! `node_relay_first_seen_to_announced_seconds{kind,behaviour}`: from the moment the
//! relay learns of a validated object (the mempool's or the chain's event) until the
//! behaviour in use announces it to at least one peer. Measured around the peers service
//! the behaviour is handed, so any behaviour, a plugin's too, is measured the same way
//! without knowing it. At most [`MAX_PENDING`] objects wait to be announced; past that
//! the oldest are forgotten (a behaviour that never announces, or no peers).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use node_api::chain::Hash256;
use node_api::metrics::{histogram, Histogram, HistogramBuckets};
use node_api::p2p::{Message, PeerId, PeerInfo, Topic};
use node_api::{MakeAnnouncement, PeerAdmin, PeerInventory, PeerMessaging, PeerService};
use tokio::sync::mpsc;

/// `node_relay_first_seen_to_announced_seconds`: immediate behaviours take microseconds
/// to milliseconds; `batched` waits its interval (seconds).
const FIRST_SEEN_TO_ANNOUNCED: HistogramBuckets = HistogramBuckets {
    name: "node_relay_first_seen_to_announced_seconds",
    description: "from a validated object reaching the relay to its first announcement, by kind and broadcast behaviour",
    buckets: &[
        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
    ],
    registered_by: env!("CARGO_PKG_NAME"),
};
node_api::inventory::submit! { FIRST_SEEN_TO_ANNOUNCED }

/// Objects seen and not yet announced, at most: a few blocks' worth of transactions.
pub(crate) const MAX_PENDING: usize = 50_000;

/// What was announced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Tx,
    Block,
}

#[derive(Default)]
struct Pending {
    since: HashMap<Hash256, (Kind, Instant)>,
    order: VecDeque<Hash256>,
}

/// The relay's latency histograms and the objects waiting to be announced.
pub(crate) struct RelayMetrics {
    tx: Histogram,
    block: Histogram,
    pending: Mutex<Pending>,
}

impl RelayMetrics {
    pub(crate) fn new(behaviour: &str) -> RelayMetrics {
        let name = FIRST_SEEN_TO_ANNOUNCED.name;
        RelayMetrics {
            tx: histogram!(name, "kind" => "tx", "behaviour" => behaviour.to_string()),
            block: histogram!(name, "kind" => "block", "behaviour" => behaviour.to_string()),
            pending: Mutex::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The relay learned of `hash` now.
    pub(crate) fn seen(&self, hash: Hash256, kind: Kind) {
        let mut pending = self.pending();
        if pending.since.insert(hash, (kind, Instant::now())).is_none() {
            pending.order.push_back(hash);
        }
        while pending.order.len() > MAX_PENDING {
            if let Some(oldest) = pending.order.pop_front() {
                pending.since.remove(&oldest);
            }
        }
    }

    fn announced(&self, hashes: &[Hash256]) {
        let mut pending = self.pending();
        for hash in hashes {
            if let Some((kind, since)) = pending.since.remove(hash) {
                let seconds = since.elapsed().as_secs_f64();
                match kind {
                    Kind::Tx => self.tx.record(seconds),
                    Kind::Block => self.block.record(seconds),
                }
            }
        }
        // Announced hashes leave `order` lazily: drop those at the front already gone.
        while let Some(front) = pending.order.front() {
            if pending.since.contains_key(front) {
                break;
            }
            pending.order.pop_front();
        }
    }

    /// The peers service as the behaviour sees it: every announce is timed.
    pub(crate) fn around<'a>(&'a self, peers: &'a Arc<dyn PeerService>) -> Timed<'a> {
        Timed {
            peers: peers.as_ref(),
            metrics: self,
        }
    }
}

/// The peers service with each announcement timed.
pub(crate) struct Timed<'a> {
    peers: &'a dyn PeerService,
    metrics: &'a RelayMetrics,
}

impl PeerMessaging for Timed<'_> {
    fn subscribe(&self, topic: Topic) -> mpsc::Receiver<(PeerId, Arc<Message>)> {
        self.peers.subscribe(topic)
    }
    fn has_subscribers(&self, topic: Topic) -> bool {
        self.peers.has_subscribers(topic)
    }
    fn send(&self, peer: PeerId, message: Message) -> Result<(), String> {
        self.peers.send(peer, message)
    }
    fn broadcast(&self, message: Message) -> usize {
        let hashes = message.inventory_hashes();
        let sent = self.peers.broadcast(message);
        if sent > 0 {
            self.metrics.announced(&hashes);
        }
        sent
    }
    fn peers(&self) -> Vec<PeerInfo> {
        self.peers.peers()
    }
    fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        self.peers.peer(id)
    }
}

impl PeerInventory for Timed<'_> {
    fn announce(&self, hashes: &[Hash256], make: &mut MakeAnnouncement<'_>) -> usize {
        let sent = self.peers.announce(hashes, make);
        if sent > 0 {
            self.metrics.announced(hashes);
        }
        sent
    }
    fn knows(&self, peer: PeerId, hash: &Hash256) -> bool {
        self.peers.knows(peer, hash)
    }
    fn mark_known(&self, peer: PeerId, hashes: &[Hash256]) {
        self.peers.mark_known(peer, hashes)
    }
}

impl PeerAdmin for Timed<'_> {
    fn connection_count(&self) -> usize {
        self.peers.connection_count()
    }
    fn misbehaving(&self, peer: PeerId, reason: &str) {
        self.peers.misbehaving(peer, reason)
    }
    fn disconnect(&self, peer: PeerId) -> bool {
        self.peers.disconnect(peer)
    }
    fn add_candidate(&self, addr: SocketAddr) -> bool {
        self.peers.add_candidate(addr)
    }
    fn local_addr(&self) -> SocketAddr {
        self.peers.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_objects_stay_bounded() {
        let metrics = RelayMetrics::new("test");
        for i in 0..(MAX_PENDING + 10) as u64 {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            metrics.seen(Hash256(bytes), Kind::Tx);
        }
        let pending = metrics.pending();
        assert_eq!(pending.since.len(), MAX_PENDING);
        assert_eq!(pending.order.len(), MAX_PENDING);
    }
}
