//! What the peers module publishes on the kernel's event bus.

use std::net::SocketAddr;

use crate::peer::{PeerId, PeerInfo};

/// A peer came or went. `Connected` is published once the handshake completes, with the
/// peer already able to receive messages; `Disconnected` follows exactly once for every
/// `Connected`, when the connection has ended (connections that never completed the
/// handshake publish nothing).
#[derive(Debug, Clone)]
pub enum PeerEvent {
    /// A peer completed the handshake.
    Connected(PeerInfo),
    /// A peer that had completed the handshake is gone.
    Disconnected {
        /// Its id.
        id: PeerId,
        /// Its address.
        addr: SocketAddr,
        /// Why the connection ended (a misbehaviour, a timeout, the peer closing...).
        reason: String,
    },
}
