//! The peers as other modules see them, in three parts so that each user asks for what it
//! needs: [`PeerMessaging`] (hearing from and talking to peers, the peer list: what a sync
//! strategy or a protocol module uses), [`PeerInventory`] (what each peer is known to
//! have: the announcements behind every broadcast behaviour) and [`PeerAdmin`] (judging
//! and dropping peers, offering addresses, the listener: what the modules that run the
//! network use). [`PeerService`] is all three, the `peers` service the peers module
//! provides; a `&dyn PeerService` gives a `&dyn PeerMessaging` (or either other part) by
//! plain coercion.

use std::net::SocketAddr;
use std::sync::Arc;

use node_chain::Hash256;
use node_p2p::{Message, PeerId, PeerInfo, Topic};
use tokio::sync::mpsc;

/// What [`PeerInventory::announce`] calls for each peer: given the peer and the hashes it
/// lacks, the message to send it, or `None`.
pub type MakeAnnouncement<'a> = dyn FnMut(&PeerInfo, &[Hash256]) -> Option<Arc<Message>> + 'a;

/// Hearing from and talking to peers. Calls never wait: they lock shared state briefly
/// and queue frames.
pub trait PeerMessaging: Send + Sync {
    /// Inbound messages of `topic` from every peer, from now on, with the sender's id.
    /// A full channel makes the sending peer wait rather than lose a message; dropping
    /// the receiver unsubscribes.
    fn subscribe(&self, topic: Topic) -> mpsc::Receiver<(PeerId, Arc<Message>)>;
    /// Whether anyone listens to `topic`.
    fn has_subscribers(&self, topic: Topic) -> bool;
    /// Queues a message to one peer.
    fn send(&self, peer: PeerId, message: Message) -> Result<(), String>;
    /// Queues a message to every ready peer; returns how many.
    fn broadcast(&self, message: Message) -> usize;
    /// Every peer past the handshake.
    fn peers(&self) -> Vec<PeerInfo>;
    /// One peer, if connected and past the handshake.
    fn peer(&self, id: PeerId) -> Option<PeerInfo>;
}

/// What each peer is known to have, and the announcements that use it.
pub trait PeerInventory: Send + Sync {
    /// The inventory-aware send behind every broadcast behaviour: for each peer, the
    /// `hashes` it is not known to have go to `make`, which returns the message to send
    /// it (or `None`); peers that have them all are skipped, so nothing is echoed back.
    /// Returning one `Arc` for many peers encodes it once. Returns how many peers got
    /// a message.
    fn announce(&self, hashes: &[Hash256], make: &mut MakeAnnouncement<'_>) -> usize;
    /// Whether `peer` is known to have `hash`.
    fn knows(&self, peer: PeerId, hash: &Hash256) -> bool;
    /// Records that `peer` has `hashes`.
    fn mark_known(&self, peer: PeerId, hashes: &[Hash256]);
}

/// Running the connections: judging and dropping peers, offering addresses.
pub trait PeerAdmin: Send + Sync {
    /// Open connections, handshaking ones included.
    fn connection_count(&self) -> usize;
    /// The peer broke a rule: disconnect it and ban its address (loopback addresses are
    /// only disconnected). `reason` goes to the log.
    fn misbehaving(&self, peer: PeerId, reason: &str);
    /// Ends a connection; `false` when it was not connected.
    fn disconnect(&self, peer: PeerId) -> bool;
    /// Offers an address for automatic outbound connections (discovery does).
    fn add_candidate(&self, addr: SocketAddr) -> bool;
    /// The address the P2P listener is bound to.
    fn local_addr(&self) -> SocketAddr;
}

/// The peers service: every P2P connection of the node, all three parts. Implemented for
/// anything that implements the parts.
pub trait PeerService: PeerMessaging + PeerInventory + PeerAdmin {}

impl<T: PeerMessaging + PeerInventory + PeerAdmin + ?Sized> PeerService for T {}
