//! Errors of the server's start and of the client.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start or clean up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address from `rpc.listen`.
        addr: SocketAddr,
        /// What the system said, e.g. "address in use".
        reason: String,
    },
    /// The cookie file cannot be written or removed.
    #[error("cookie file {path}: {reason}")]
    Cookie {
        /// The cookie file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Why a call from `node rpc` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The profile's `[rpc]` table cannot be used to find the node.
    #[error("[rpc] {key}: {reason}")]
    Config {
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No credential: the cookie cannot be read and no user and password are set.
    #[error("cannot read the RPC cookie {path}: {reason} (is a node with the rpc module running on this data directory? otherwise set rpc.user and rpc.password)")]
    Cookie {
        /// The cookie file looked for.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The node could not be reached.
    #[error("cannot connect to the node's RPC server at {addr}: {reason} (is the node running with the rpc module?)")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// What went wrong.
        reason: String,
    },
    /// The node refused the credentials.
    #[error("the node at {addr} refused the credentials (HTTP 401); check rpc.user and rpc.password, or that the cookie belongs to this node")]
    Unauthorized {
        /// The node's address.
        addr: SocketAddr,
    },
    /// The node's whitelist for this user leaves the method out.
    #[error("the node at {addr} does not let this user call {method} (HTTP 403, [rpc] whitelist)")]
    Forbidden {
        /// The node's address.
        addr: SocketAddr,
        /// The method called.
        method: String,
    },
    /// A command-line argument cannot be sent as the method's parameter.
    #[error("{reason}")]
    Argument {
        /// What is wrong, naming the argument and the method.
        reason: String,
    },
    /// The exchange failed at the HTTP level, or the answer is not JSON-RPC.
    #[error("bad answer from the node at {addr}: {reason}")]
    Protocol {
        /// The node's address.
        addr: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// The node answered with an error.
    #[error("error code: {code}\nerror message:\n{message}")]
    Rpc {
        /// JSON-RPC or Bitcoin Core error code.
        code: i64,
        /// The node's message.
        message: String,
    },
}
