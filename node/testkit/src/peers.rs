//! A peers service that records what modules send and announce, and delivers the
//! test's messages to their subscribers, with no network.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use node_api::chain::Hash256;
use node_api::p2p::{ConnectionType, Message, PeerId, PeerInfo, Topic};
use node_api::{MakeAnnouncement, PeerAdmin, PeerInventory, PeerMessaging};
use tokio::sync::mpsc;

/// A message from a peer, as subscribers receive it.
type Delivery = (PeerId, Arc<Message>);

/// Subscriptions queue this many messages before `deliver` reports them dropped.
const SUBSCRIPTION_QUEUE: usize = 1024;

/// Peers as a module sees them: a list the test sets, what each is known to have, and a
/// record of every message sent or announced to each.
#[derive(Default)]
pub struct RecordingPeers {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    peers: Vec<PeerInfo>,
    known: HashSet<(PeerId, Hash256)>,
    sent: Vec<(PeerId, Arc<Message>)>,
    subscribers: HashMap<Topic, Vec<mpsc::Sender<Delivery>>>,
    misbehaving: Vec<(PeerId, String)>,
    disconnected: Vec<PeerId>,
    candidates: Vec<SocketAddr>,
    /// Where each sent message is also copied, for tests that answer as they go.
    outboxes: Vec<mpsc::UnboundedSender<Delivery>>,
}

impl Inner {
    fn record(&mut self, peer: PeerId, message: Arc<Message>) {
        self.outboxes
            .retain(|outbox| outbox.send((peer, message.clone())).is_ok());
        self.sent.push((peer, message));
    }
}

impl RecordingPeers {
    /// Peers connected from the start (wrap it in an `Arc` to provide it).
    pub fn with_peers(peers: Vec<PeerInfo>) -> RecordingPeers {
        let recording = RecordingPeers::default();
        recording.lock().peers = peers;
        recording
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connected peer.
    pub fn connect(&self, info: PeerInfo) {
        self.lock().peers.push(info);
    }

    /// Marks `hash` as known to `peer` (it will not be announced to it).
    pub fn set_known(&self, peer: PeerId, hash: Hash256) {
        self.lock().known.insert((peer, hash));
    }

    /// Every message sent or announced from now on, as it is sent: what a test reads to
    /// answer as the peer would (a `getheaders` with `headers`, through [`Self::deliver`]).
    pub fn outbox(&self) -> mpsc::UnboundedReceiver<(PeerId, Arc<Message>)> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock().outboxes.push(sender);
        receiver
    }

    /// Everything sent or announced so far, in order, and forgets it.
    pub fn take(&self) -> Vec<(PeerId, Arc<Message>)> {
        std::mem::take(&mut self.lock().sent)
    }

    /// Everything sent or announced so far, in order.
    pub fn sent(&self) -> Vec<(PeerId, Arc<Message>)> {
        self.lock().sent.clone()
    }

    /// The peers reported as misbehaving, with the reasons.
    pub fn misbehaving_reports(&self) -> Vec<(PeerId, String)> {
        self.lock().misbehaving.clone()
    }

    /// The peers disconnected by a module.
    pub fn disconnected(&self) -> Vec<PeerId> {
        self.lock().disconnected.clone()
    }

    /// Hands `message` from `peer` to the subscribers of `topic`, as a connection would;
    /// how many took it.
    pub fn deliver(&self, peer: PeerId, topic: Topic, message: Message) -> usize {
        let message = Arc::new(message);
        let mut inner = self.lock();
        let subscribers = inner.subscribers.entry(topic).or_default();
        subscribers.retain(|s| !s.is_closed());
        subscribers
            .iter()
            .filter(|s| s.try_send((peer, message.clone())).is_ok())
            .count()
    }

    /// A peer's description as the peers module gives it: inbound from loopback,
    /// current protocol; whether it takes transactions (`relay`) and asked for headers
    /// announcements (`sendheaders`) as given.
    pub fn peer(id: u64, relay: bool, sendheaders: bool) -> PeerInfo {
        let addr = SocketAddr::from(([127, 0, 0, 1], 18444));
        PeerInfo {
            id: PeerId(id),
            addr,
            local_addr: addr,
            connection_type: ConnectionType::Inbound,
            inbound: true,
            version: node_api::p2p::PROTOCOL_VERSION,
            services: node_api::p2p::NODE_NETWORK,
            user_agent: "/testkit/".to_string(),
            start_height: 0,
            relay,
            sendheaders,
            connected_at: 0,
            time_offset: 0,
            bytes_sent: 0,
            bytes_received: 0,
            messages_sent: 0,
            messages_received: 0,
            last_send: 0,
            last_recv: 0,
            ping_time: None,
            min_ping: None,
            ping_wait: None,
        }
    }
}

impl PeerMessaging for RecordingPeers {
    fn subscribe(&self, topic: Topic) -> mpsc::Receiver<Delivery> {
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_QUEUE);
        self.lock()
            .subscribers
            .entry(topic)
            .or_default()
            .push(sender);
        receiver
    }
    fn has_subscribers(&self, topic: Topic) -> bool {
        self.lock()
            .subscribers
            .get(&topic)
            .is_some_and(|s| s.iter().any(|s| !s.is_closed()))
    }
    fn send(&self, peer: PeerId, message: Message) -> Result<(), String> {
        let mut inner = self.lock();
        if !inner.peers.iter().any(|p| p.id == peer) {
            return Err(format!("peer {peer} is not connected"));
        }
        inner.record(peer, Arc::new(message));
        Ok(())
    }
    fn broadcast(&self, message: Message) -> usize {
        let mut inner = self.lock();
        let message = Arc::new(message);
        let ids: Vec<PeerId> = inner.peers.iter().map(|p| p.id).collect();
        for id in &ids {
            inner.record(*id, message.clone());
        }
        ids.len()
    }
    fn peers(&self) -> Vec<PeerInfo> {
        self.lock().peers.clone()
    }
    fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        self.lock().peers.iter().find(|p| p.id == id).cloned()
    }
}

impl PeerInventory for RecordingPeers {
    fn announce(&self, hashes: &[Hash256], make: &mut MakeAnnouncement<'_>) -> usize {
        // `make` may ask this service (`knows`): it runs without the lock.
        let peers = self.lock().peers.clone();
        let mut count = 0;
        for peer in peers {
            let missing: Vec<Hash256> = hashes
                .iter()
                .filter(|h| !self.knows(peer.id, h))
                .copied()
                .collect();
            if missing.is_empty() {
                continue;
            }
            if let Some(message) = make(&peer, &missing) {
                let mut inner = self.lock();
                for hash in &missing {
                    inner.known.insert((peer.id, *hash));
                }
                inner.record(peer.id, message);
                count += 1;
            }
        }
        count
    }
    fn knows(&self, peer: PeerId, hash: &Hash256) -> bool {
        self.lock().known.contains(&(peer, *hash))
    }
    fn mark_known(&self, peer: PeerId, hashes: &[Hash256]) {
        let mut inner = self.lock();
        for hash in hashes {
            inner.known.insert((peer, *hash));
        }
    }
}

impl PeerAdmin for RecordingPeers {
    fn connection_count(&self) -> usize {
        self.lock().peers.len()
    }
    fn misbehaving(&self, peer: PeerId, reason: &str) {
        self.lock().misbehaving.push((peer, reason.to_string()));
    }
    fn disconnect(&self, peer: PeerId) -> bool {
        let mut inner = self.lock();
        let before = inner.peers.len();
        inner.peers.retain(|p| p.id != peer);
        let gone = inner.peers.len() != before;
        if gone {
            inner.disconnected.push(peer);
        }
        gone
    }
    fn add_candidate(&self, addr: SocketAddr) -> bool {
        self.lock().candidates.push(addr);
        true
    }
    fn local_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }
}
