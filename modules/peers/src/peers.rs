//! The [`Peers`] handle: the `peers` service other modules use to hear from, talk to and
//! judge peers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::RandomState;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use node_api::chain::Hash256;
use node_api::{
    ChainView, EventBus, MakeAnnouncement, PeerAdmin, PeerInventory, PeerMessaging, TaskSpawner,
};
use node_p2p::{
    encode_frame, route, ConnectionType, InvType, Message, PeerEvent, PeerId, PeerInfo, Topic,
};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::addrbook::AddrBook;
use crate::bans::{BanEntry, BanList, Subnet};
use crate::config::{normalize_target, Settings};
use crate::error::PeersError;
use crate::eviction::{self, netgroup, Candidate};
use crate::inventory::InventoryKeys;
use crate::metrics::PeerMetrics;
use crate::peer::{Outgoing, Peer, PeerSetup};
use crate::targets::{TargetSource, TargetState};
use crate::util::{lock, unix_now};

/// Messages buffered per subscriber. When a subscriber falls this far behind, the peer
/// whose message does not fit waits (its reader stops reading), so nothing is dropped;
/// 64 bounds the memory at 64 blocks per subscriber.
pub const SUBSCRIPTION_CAPACITY: usize = 64;

type Subscriber = mpsc::Sender<(PeerId, Arc<Message>)>;

/// Mutable state shared by the connections, the manager and the handle.
pub(crate) struct State {
    pub(crate) peers: BTreeMap<PeerId, Arc<Peer>>,
    /// Bytes (sent, received) of connections that ended, for `getnettotals`.
    pub(crate) closed_bytes: (u64, u64),
    pub(crate) bans: BanList,
    pub(crate) book: AddrBook,
    /// Persistent outbound targets (`connect`, `addnode`), by `host:port`.
    pub(crate) targets: BTreeMap<String, TargetState>,
    /// Automatic outbound connection attempts in flight.
    pub(crate) dialing: HashSet<SocketAddr>,
}

/// The `peers` service: every P2P connection of the node.
///
/// Cheap calls that never wait: they lock shared state briefly and queue frames. Provided
/// to other modules as `dyn PeerService`; the RPC methods use the rest (bans, added
/// nodes).
pub struct Peers {
    pub(crate) settings: Settings,
    pub(crate) chain: Arc<dyn ChainView>,
    events: EventBus,
    /// The module's token; every connection's own token is a child of it.
    pub(crate) cancel: CancellationToken,
    /// Spawns the connections' and dials' tasks, supervised under the module's name.
    pub(crate) spawner: TaskSpawner,
    local_addr: SocketAddr,
    next_id: AtomicU64,
    keys: InventoryKeys,
    pub(crate) state: Mutex<State>,
    topics: RwLock<HashMap<Topic, Vec<Subscriber>>>,
    /// Wakes the outbound connection manager (a connection ended, addresses arrived).
    pub(crate) wake: Notify,
    /// The secret order of network groups for eviction.
    netgroup_key: RandomState,
    pub(crate) metrics: PeerMetrics,
}

impl Peers {
    pub(crate) fn new(
        settings: Settings,
        chain: Arc<dyn ChainView>,
        events: EventBus,
        spawner: TaskSpawner,
        local_addr: SocketAddr,
    ) -> Arc<Peers> {
        let mut targets = BTreeMap::new();
        for target in &settings.connect {
            targets.insert(target.clone(), TargetState::new(TargetSource::Connect));
        }
        for target in &settings.addnode {
            targets
                .entry(target.clone())
                .or_insert_with(|| TargetState::new(TargetSource::AddNode));
        }
        let state = State {
            peers: BTreeMap::new(),
            closed_bytes: (0, 0),
            bans: BanList::new(settings.max_bans),
            book: AddrBook::default(),
            targets,
            dialing: HashSet::new(),
        };
        Arc::new(Peers {
            settings,
            chain,
            events,
            cancel: spawner.cancel_token(),
            spawner,
            local_addr,
            next_id: AtomicU64::new(0),
            keys: InventoryKeys::default(),
            state: Mutex::new(state),
            topics: RwLock::new(HashMap::new()),
            wake: Notify::new(),
            netgroup_key: RandomState::new(),
            metrics: PeerMetrics::new(),
        })
    }

    /// Hands a message (`bytes` on the wire) to the subscribers of its topics, waiting
    /// for room in each channel (or until the connection ends). It counts against the
    /// peer's receive buffer until every subscriber has dropped it.
    pub(crate) async fn deliver(&self, peer: &Peer, message: Message, bytes: usize) {
        let routes = {
            let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
            route(message, |t| topics.get(&t).is_some_and(|s| !s.is_empty()))
        };
        for (_, message) in &routes {
            peer.hold(Arc::clone(message), bytes);
        }
        for (topic, message) in routes {
            let subscribers = {
                let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
                topics.get(&topic).cloned().unwrap_or_default()
            };
            for subscriber in subscribers {
                let sent = tokio::select! {
                    () = peer.cancel.cancelled() => return,
                    sent = subscriber.send((peer.id, Arc::clone(&message))) => sent,
                };
                if sent.is_err() {
                    let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
                    if let Some(list) = topics.get_mut(&topic) {
                        list.retain(|s| !s.is_closed());
                    }
                }
            }
        }
    }

    /// What sending `message` tells the peer. A block's `inv` is left out: the peer
    /// learns that the block exists but not its header, and "known to the peer" is what
    /// decides whether the next block is announced by `headers` that must connect there
    /// (counting an `inv` made a peer that had asked for the headers and not yet got them
    /// receive the child's header first, which does not connect: ten of those and it
    /// banned us).
    fn keys_of(&self, message: &Message) -> Vec<u64> {
        let hashes = match message {
            Message::Inv(items) => items
                .iter()
                .filter(|i| i.kind != InvType::Block)
                .map(|i| i.hash)
                .collect(),
            other => other.inventory_hashes(),
        };
        hashes.iter().map(|h| self.keys.key(h)).collect()
    }

    /// The frame of `message` on our chain.
    pub(crate) fn frame(&self, message: &Message) -> Bytes {
        encode_frame(self.settings.magic, message)
    }

    /// Queues `message` (already framed) for `peer` and records what it carries as known
    /// to the peer.
    fn queue(&self, peer: &Peer, frame: Bytes, message: &Message) -> Result<(), PeersError> {
        peer.learn(self.keys_of(message));
        peer.try_send(frame, message.command())
    }

    /// Like [`Peers::queue`], waiting for room in the peer's send buffer.
    pub(crate) async fn queue_wait(&self, peer: &Peer, message: &Message) -> bool {
        peer.learn(self.keys_of(message));
        peer.send_wait(self.frame(message), message.command()).await
    }

    /// Queues a message for a peer during its handshake or from its own tasks.
    pub(crate) fn send_to(&self, peer: &Peer, message: &Message) -> Result<(), PeersError> {
        self.queue(peer, self.frame(message), message)
    }

    pub(crate) fn note_known(&self, peer: &Peer, hash: &Hash256) {
        peer.learn([self.keys.key(hash)]);
    }

    fn ready_peers(&self) -> Vec<Arc<Peer>> {
        lock(&self.state)
            .peers
            .values()
            .filter(|p| p.is_ready())
            .cloned()
            .collect()
    }

    pub(crate) fn all_peers(&self) -> Vec<Arc<Peer>> {
        lock(&self.state).peers.values().cloned().collect()
    }

    fn ready_peer(&self, id: PeerId) -> Result<Arc<Peer>, PeersError> {
        lock(&self.state)
            .peers
            .get(&id)
            .filter(|p| p.is_ready())
            .cloned()
            .ok_or(PeersError::NotConnected(id))
    }

    /// Sends `message` to one peer. The hashes it carries (inventory, transaction, block,
    /// headers) are recorded as known to the peer. Fails if the peer is gone, or if its
    /// send buffer is full, in which case it is disconnected: it does not read.
    pub fn send(&self, peer: PeerId, message: Message) -> Result<(), PeersError> {
        let peer = self.ready_peer(peer)?;
        self.queue(&peer, self.frame(&message), &message)
    }

    pub(crate) fn punish(&self, peer: &Peer, reason: &str) {
        let ip = peer.addr.ip();
        if is_local(ip) {
            tracing::info!(peer = %peer.id, addr = %peer.addr, reason, "peer misbehaved; disconnecting (local address, not banned)");
        } else {
            tracing::info!(peer = %peer.id, addr = %peer.addr, reason, "peer misbehaved; disconnecting and banning");
            self.ban(Subnet::host(ip), self.settings.ban);
        }
        peer.close(format!("misbehaved: {reason}"));
    }

    /// Adds a `host:port` to keep connected to (the `addnode add` RPC).
    pub fn add_node(&self, target: &str) -> Result<(), PeersError> {
        let text = normalize_target(target, self.settings.default_port)
            .ok_or_else(|| PeersError::InvalidTarget(target.to_string()))?;
        let mut state = lock(&self.state);
        if state.targets.contains_key(&text) {
            return Err(PeersError::AlreadyAdded(text));
        }
        state
            .targets
            .insert(text, TargetState::new(TargetSource::AddNode));
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Stops keeping `host:port` connected (the `addnode remove` RPC); an open connection
    /// to it stays. Entries of the profile's `connect` cannot be removed.
    pub fn remove_node(&self, target: &str) -> Result<(), PeersError> {
        let text = normalize_target(target, self.settings.default_port)
            .unwrap_or_else(|| target.to_string());
        let mut state = lock(&self.state);
        match state.targets.get(&text) {
            Some(t) if t.source == TargetSource::AddNode => {
                state.targets.remove(&text);
                Ok(())
            }
            _ => Err(PeersError::NotAdded(text)),
        }
    }

    /// The `host:port` targets kept connected (`connect`, `addnode`, the `addnode` RPC).
    pub fn added_nodes(&self) -> Vec<String> {
        lock(&self.state).targets.keys().cloned().collect()
    }

    /// Bans a subnet for `duration`, disconnecting the peers in it. False if it was
    /// already banned (the ban is then extended, never shortened).
    pub fn ban(&self, subnet: Subnet, duration: Duration) -> bool {
        let now = unix_now();
        let (added, doomed) = {
            let mut state = lock(&self.state);
            let added = state
                .bans
                .add(subnet, now.saturating_add(duration.as_secs()), now);
            if added {
                self.metrics.banned();
            }
            let doomed: Vec<Arc<Peer>> = state
                .peers
                .values()
                .filter(|p| subnet.contains(p.addr.ip()))
                .cloned()
                .collect();
            (added, doomed)
        };
        for peer in doomed {
            peer.close(format!("banned ({subnet})"));
        }
        added
    }

    /// Lifts a ban; false if there was none on exactly this subnet.
    pub fn unban(&self, subnet: &Subnet) -> bool {
        lock(&self.state).bans.remove(subnet)
    }

    /// Every ban in force.
    pub fn list_bans(&self) -> Vec<BanEntry> {
        lock(&self.state).bans.list(unix_now())
    }

    /// Lifts every ban.
    pub fn clear_bans(&self) {
        lock(&self.state).bans.clear();
    }

    /// Whether `ip` is banned.
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        lock(&self.state).bans.is_banned(ip, unix_now())
    }

    /// Asks every peer for a pong now, to measure round trips (the `ping` RPC).
    pub fn ping_all(&self) {
        for peer in self.ready_peers() {
            peer.ping_now.notify_one();
        }
    }

    /// Addresses in the address book.
    pub fn known_addresses(&self) -> usize {
        lock(&self.state).book.len()
    }

    /// The chain's network magic.
    pub fn magic(&self) -> [u8; 4] {
        self.settings.magic
    }

    /// Adds a connection, or refuses an inbound one over `max_inbound`.
    pub(crate) fn register(
        &self,
        addr: SocketAddr,
        local_addr: SocketAddr,
        kind: ConnectionType,
        target: Option<String>,
    ) -> Option<(Arc<Peer>, mpsc::UnboundedReceiver<Outgoing>)> {
        let mut state = lock(&self.state);
        if kind == ConnectionType::Inbound {
            // Connections being closed (an eviction a moment ago) no longer hold a slot.
            let inbound: Vec<&Arc<Peer>> = state
                .peers
                .values()
                .filter(|p| p.kind == ConnectionType::Inbound && !p.cancel.is_cancelled())
                .collect();
            if inbound.len() >= self.settings.max_inbound {
                let candidates = inbound
                    .iter()
                    .map(|p| Candidate {
                        id: p.id,
                        netgroup: netgroup(p.addr.ip()),
                        min_ping: p.min_ping(),
                        last_block: p.last_block.load(Ordering::Relaxed),
                        last_tx: p.last_tx.load(Ordering::Relaxed),
                    })
                    .collect();
                let Some(victim) = eviction::select(candidates, &self.netgroup_key) else {
                    tracing::debug!(%addr, inbound = inbound.len(), "refusing inbound connection: max_inbound reached and every inbound peer is protected");
                    return None;
                };
                if let Some(victim) = state.peers.get(&victim) {
                    tracing::info!(peer = %victim.id, addr = %victim.addr, newcomer = %addr, "inbound slots full: evicting a peer for a new one");
                    victim.close("evicted: inbound slots full");
                }
            }
        }
        let id = PeerId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (peer, rx) = Peer::new(PeerSetup {
            id,
            addr,
            local_addr,
            kind,
            target,
            cancel: self.cancel.child_token(),
            send_buffer_bytes: self.settings.send_buffer_bytes,
            known_inventory: self.settings.known_inventory,
        });
        state.peers.insert(id, Arc::clone(&peer));
        Some((peer, rx))
    }

    /// The handshake completed: the peer is ready for other modules.
    pub(crate) fn on_ready(&self, peer: &Peer) {
        let now = unix_now() as u32;
        {
            let mut state = lock(&self.state);
            if peer.kind != ConnectionType::Inbound {
                state.book.success(&peer.addr, now);
            }
            if let Some(target) = peer.target.as_ref().and_then(|t| state.targets.get_mut(t)) {
                target.connected();
            }
        }
        self.metrics.peer_ready(peer.kind);
        if let Some(info) = peer.info() {
            tracing::info!(
                peer = %info.id,
                addr = %info.addr,
                inbound = info.inbound,
                version = info.version,
                user_agent = %info.user_agent,
                height = info.start_height,
                "peer connected"
            );
            self.events.publish(PeerEvent::Connected(info));
        }
    }

    /// Bytes (sent, received) over every connection since start, ended ones included.
    pub(crate) fn net_totals(&self) -> (u64, u64) {
        let state = lock(&self.state);
        state
            .peers
            .values()
            .map(|p| p.bytes())
            .fold(state.closed_bytes, |(s, r), (ps, pr)| (s + ps, r + pr))
    }

    /// The connection ended: forget it, account for it, tell the bus.
    pub(crate) fn unregister(&self, peer: &Peer) {
        let reason = peer.reason();
        {
            let mut state = lock(&self.state);
            state.peers.remove(&peer.id);
            let (sent, received) = peer.bytes();
            state.closed_bytes.0 += sent;
            state.closed_bytes.1 += received;
            if peer.kind == ConnectionType::Outbound && !peer.is_ready() {
                state.book.failure(&peer.addr);
            }
            if let Some(target) = peer.target.as_ref().and_then(|t| state.targets.get_mut(t)) {
                target.ended(peer.is_ready());
            }
        }
        if peer.is_ready() {
            self.metrics.peer_gone(peer.kind);
            tracing::info!(peer = %peer.id, addr = %peer.addr, %reason, "peer disconnected");
            self.events.publish(PeerEvent::Disconnected {
                id: peer.id,
                addr: peer.addr,
                reason,
            });
        } else {
            tracing::debug!(peer = %peer.id, addr = %peer.addr, %reason, "connection closed before the handshake completed");
        }
        self.wake.notify_one();
    }

    /// If `nonce` is one of our own outbound `version` nonces, we connected to ourselves:
    /// the outbound address is remembered as ours and never dialled again.
    pub(crate) fn is_own_nonce(&self, nonce: u64) -> bool {
        let mut state = lock(&self.state);
        let own = state
            .peers
            .values()
            .find(|p| p.kind != ConnectionType::Inbound && p.nonce == nonce)
            .map(|p| p.addr);
        match own {
            Some(addr) => {
                state.book.mark_own(addr);
                true
            }
            None => false,
        }
    }
}

impl PeerMessaging for Peers {
    /// Inbound messages of `topic` from every peer, from now on, with the sender's id.
    /// Each subscriber gets its own copy; the channel holds [`SUBSCRIPTION_CAPACITY`]
    /// messages, and a full channel makes the sending peer wait rather than lose a message.
    /// Dropping the receiver unsubscribes.
    fn subscribe(&self, topic: Topic) -> mpsc::Receiver<(PeerId, Arc<Message>)> {
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let subscribers = topics.entry(topic).or_default();
        subscribers.retain(|s| !s.is_closed());
        subscribers.push(tx);
        rx
    }
    /// Whether anyone listens to `topic`.
    fn has_subscribers(&self, topic: Topic) -> bool {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics
            .get(&topic)
            .is_some_and(|s| s.iter().any(|s| !s.is_closed()))
    }
    fn send(&self, peer: PeerId, message: Message) -> Result<(), String> {
        Peers::send(self, peer, message).map_err(|e| e.to_string())
    }
    /// Sends `message` to every peer that completed the handshake, encoding it once.
    /// Returns how many peers it was queued for.
    fn broadcast(&self, message: Message) -> usize {
        let frame = self.frame(&message);
        self.ready_peers()
            .iter()
            .filter(|peer| self.queue(peer, frame.clone(), &message).is_ok())
            .count()
    }
    /// Every peer that completed the handshake, by id.
    fn peers(&self) -> Vec<PeerInfo> {
        self.ready_peers().iter().filter_map(|p| p.info()).collect()
    }
    /// One peer, if connected and past the handshake.
    fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        lock(&self.state).peers.get(&id).and_then(|p| p.info())
    }
}

impl PeerInventory for Peers {
    /// The inventory-aware send behind every broadcast behaviour: for each peer, the
    /// `hashes` it is not known to have are passed to `make`, which returns the message
    /// to send it (or `None` to send nothing). Peers that already have every hash are
    /// skipped, so nothing is echoed back to where it came from. What the message carries
    /// is then recorded as known to the peer. `make` may return the same `Arc` for many
    /// peers: each distinct one is encoded once. Returns how many peers got a message.
    fn announce(&self, hashes: &[Hash256], make: &mut MakeAnnouncement<'_>) -> usize {
        let keyed: Vec<(Hash256, u64)> = hashes.iter().map(|h| (*h, self.keys.key(h))).collect();
        // Frames by message: `make` usually returns one of a few shared messages.
        let mut encoded: Vec<(Arc<Message>, Bytes)> = Vec::new();
        let mut sent = 0;
        for peer in self.ready_peers() {
            let missing: Vec<Hash256> = keyed
                .iter()
                .filter(|(_, key)| !peer.knows(*key))
                .map(|(hash, _)| *hash)
                .collect();
            if missing.is_empty() {
                continue;
            }
            let Some(info) = peer.info() else { continue };
            let Some(message) = make(&info, &missing) else {
                continue;
            };
            let cached = encoded.iter().find(|(m, _)| Arc::ptr_eq(m, &message));
            let frame = match cached {
                Some((_, frame)) => frame.clone(),
                None => {
                    let frame = self.frame(&message);
                    encoded.push((Arc::clone(&message), frame.clone()));
                    frame
                }
            };
            if self.queue(&peer, frame, &message).is_ok() {
                sent += 1;
            }
        }
        sent
    }
    /// Whether `peer` is known to have `hash` (it sent or was sent it recently).
    fn knows(&self, peer: PeerId, hash: &Hash256) -> bool {
        lock(&self.state)
            .peers
            .get(&peer)
            .is_some_and(|p| p.knows(self.keys.key(hash)))
    }
    /// Records that `peer` has `hashes` (learned some other way than by a message).
    fn mark_known(&self, peer: PeerId, hashes: &[Hash256]) {
        if let Some(p) = lock(&self.state).peers.get(&peer) {
            p.learn(hashes.iter().map(|h| self.keys.key(h)));
        }
    }
}

impl PeerAdmin for Peers {
    /// Open connections, handshaking ones included.
    fn connection_count(&self) -> usize {
        lock(&self.state).peers.len()
    }
    /// `peer` broke a protocol rule: it is disconnected and its address banned for
    /// `ban_secs`, unless it is a local address (loopback), which is only disconnected,
    /// as Bitcoin Core does.
    fn misbehaving(&self, peer: PeerId, reason: &str) {
        let found = lock(&self.state).peers.get(&peer).cloned();
        if let Some(peer) = found {
            self.punish(&peer, reason);
        }
    }
    /// Disconnects a peer; false if no such connection.
    fn disconnect(&self, peer: PeerId) -> bool {
        let found = lock(&self.state).peers.get(&peer).cloned();
        match found {
            Some(peer) => {
                peer.close("disconnected on request");
                true
            }
            None => false,
        }
    }
    /// Offers an address to connect to (from discovery, say). Used when outbound slots are
    /// free and `connect` is not set; returns whether it was new.
    fn add_candidate(&self, addr: SocketAddr) -> bool {
        if addr == self.local_addr {
            return false;
        }
        let added = lock(&self.state).book.add(addr, 0, unix_now() as u32);
        if added {
            tracing::debug!(%addr, "new candidate peer address");
            self.wake.notify_one();
        }
        added
    }
    /// The bound TCP address (the discovery module binds UDP on the same one).
    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Loopback and "this network" addresses: misbehaviour from them disconnects without a
/// ban (Bitcoin Core's `IsLocal`), so tools and tests on the same host cannot lock
/// themselves out.
pub(crate) fn is_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.octets()[0] == 0,
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified(),
    }
}
