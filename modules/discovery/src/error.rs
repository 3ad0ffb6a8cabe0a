//! The crate's error type.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;

use crate::wire::WireError;

/// What went wrong starting discovery or talking to another node.
#[derive(Debug, Error)]
pub enum DiscoveryError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the discovery UDP socket on {addr}: {source}")]
    Bind {
        /// Address from the config.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The bound socket's address could not be read.
    #[error("cannot read the discovery socket's local address: {0}")]
    LocalAddr(io::Error),
    /// A datagram could not be sent.
    #[error("sending a discovery datagram to {addr} failed: {source}")]
    Send {
        /// Destination.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// An IPv6 destination for an IPv4 socket.
    #[error("cannot reach IPv6 address {addr} from the IPv4 discovery socket")]
    AddressFamily {
        /// Destination.
        addr: SocketAddr,
    },
    /// No answer in time (the node is then dropped from the table).
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout {
        /// Who was asked.
        addr: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// Too many of our requests are awaiting answers.
    #[error("{limit} discovery requests already await answers; not sending another")]
    Busy {
        /// `max_in_flight` from the config.
        limit: usize,
    },
    /// The other node answered with something malformed (it misbehaved).
    #[error("malformed answer from {addr}: {source}")]
    BadAnswer {
        /// Who answered.
        addr: SocketAddr,
        /// What was wrong.
        source: WireError,
    },
    /// A request of ours could not be encoded.
    #[error("cannot encode a discovery request: {0}")]
    Encode(WireError),
    /// Discovery was cancelled while the call was waiting.
    #[error("discovery has shut down")]
    ShutDown,
}
