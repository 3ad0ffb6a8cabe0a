//! Errors of the peers service.

use std::io;
use std::net::SocketAddr;

use node_p2p::PeerId;

/// What the [`crate::Peers`] handle reports.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// No connected peer has this id (it may have just disconnected).
    #[error("peer {0} is not connected")]
    NotConnected(PeerId),
    /// The peer does not read what we send it; it was disconnected.
    #[error("peer {0} does not read its messages (send buffer full); disconnected")]
    SendBufferFull(PeerId),
    /// The P2P port could not be bound.
    #[error("cannot listen for peers on {addr}: {source}")]
    Bind {
        /// The `listen` address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A node address that is neither `host:port`, `ip:port` nor a host name.
    #[error("{0:?} is not host:port, ip:port or a host name")]
    InvalidTarget(String),
    /// A node given to `addnode` is already in the list.
    #[error("node {0} is already added")]
    AlreadyAdded(String),
    /// A node given to `addnode remove` is not in the list.
    #[error("node {0} has not been added")]
    NotAdded(String),
}
