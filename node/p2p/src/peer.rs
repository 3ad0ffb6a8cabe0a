//! Who a connected peer is, as other modules see it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A connection's id, unique for the life of the process (Bitcoin Core's `nodeid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a connection came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    /// The peer connected to us.
    Inbound,
    /// We connected to an automatically chosen address.
    Outbound,
    /// We connected because of `connect`, `addnode` or the `addnode` RPC.
    Manual,
}

impl ConnectionType {
    /// Bitcoin Core's `connection_type` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Inbound => "inbound",
            ConnectionType::Outbound => "outbound-full-relay",
            ConnectionType::Manual => "manual",
        }
    }
}

/// A connected peer that completed the handshake, as `getpeerinfo` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The connection's id.
    pub id: PeerId,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our end of the connection.
    pub local_addr: SocketAddr,
    /// Who opened the connection, and why.
    pub connection_type: ConnectionType,
    /// Whether the peer opened the connection.
    pub inbound: bool,
    /// The peer's protocol version.
    pub version: i32,
    /// The peer's service bits.
    pub services: u64,
    /// The peer's user agent.
    pub user_agent: String,
    /// The peer's best height when it connected.
    pub start_height: i32,
    /// Whether the peer wants transactions announced to it (`version` relay flag).
    pub relay: bool,
    /// Whether the peer asked for new blocks to be announced by `headers` (BIP130).
    pub sendheaders: bool,
    /// Unix time the connection was made.
    pub connected_at: u64,
    /// The peer's clock minus ours, in seconds, from its `version`.
    pub time_offset: i64,
    /// Bytes sent to the peer, frame headers included.
    pub bytes_sent: u64,
    /// Bytes received from the peer, frame headers included.
    pub bytes_received: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Unix time of the last message sent, 0 if none.
    pub last_send: u64,
    /// Unix time of the last message received, 0 if none.
    pub last_recv: u64,
    /// Round trip of the last answered ping.
    pub ping_time: Option<Duration>,
    /// Fastest round trip seen.
    pub min_ping: Option<Duration>,
    /// How long the ping in flight has been waiting.
    pub ping_wait: Option<Duration>,
}
