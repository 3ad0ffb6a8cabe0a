//! Peer discovery: Kademlia over UDP, wire-compatible with the Python `kademlia` package
//! (2.2.3, on rpcudp 5 and u-msgpack) that the tutorial's network chapter uses, so a node
//! can bootstrap from a node of the chapter's implementation and be found by it.
//!
//! - **Wire**: rpcudp datagrams — type byte (0x00 request, 0x01 response), 20-byte message
//!   id, msgpack payload `[name, [args...]]` or the bare result; 160-bit ids as 20-byte
//!   `bin`. The procedures and their shapes are the package's: `ping(id) -> id`,
//!   `stun() -> [ip, port]`, `find_node(id, key) -> [[id, ip, port], ...]`,
//!   `find_value(id, key) -> {"value": v}` or the `find_node` list,
//!   `store(id, key, value) -> bool`. k = 20, alpha = 3.
//! - **Needs**: a tokio runtime, a UDP address (its port is also the node's TCP data port),
//!   bootstrap addresses from the profile, a cancellation token.
//! - **Provides**: [`Discovery::start`] spawns the node; [`Discovery::contacts`] lists the
//!   routing table; [`Discovery::subscribe`] announces each newly added contact's address
//!   for the peers module to connect to; [`Discovery::lookup`], [`Discovery::bootstrap`],
//!   [`Discovery::ping`].
//! - **Module** `discovery` (needs `peers`, a `dyn PeerService`; provides no service):
//!   binds UDP on the peers service's `local_addr` in `start` and hands each new contact
//!   to `PeerService::add_candidate`. Its supervised tasks: `kademlia node` (the library's
//!   task tree, joined) and `candidates` (the forwarding). Profile table `[discovery]`
//!   ([`DiscoveryTable`]): `bootstrap = ["host:port", ...]`, `refresh_interval_secs`,
//!   `request_timeout_ms` and the limits below.
//! - **Invariants** (hardening the Python package lacks): only the five procedures are
//!   callable; datagrams over 8 KiB + 21 bytes are dropped; stored values are bounded in
//!   size, count and age; requests are rate-limited per source IP; a node enters the table
//!   only after answering our ping with its id from its address, and at most
//!   `per_subnet` (2) entries share an IPv4 /24 or IPv6 /48, loopback excepted. Stored
//!   values are served but never republished.
//! - **Costs**: one UDP socket, one receive task, short-lived tasks for pings and lookups
//!   (bounded by `max_verifying` and `max_in_flight`); a table of at most 160 × 20
//!   contacts; about 1 MiB of stored values by default. Buckets untouched for
//!   `refresh_interval` cost one lookup each per interval.

mod config;
mod error;
mod kademlia_rpc;
mod lookup;
mod module;
mod node_id;
mod rate_limit;
mod routing;
mod service;
mod store;
mod util;
mod wire;

/// Entry points for the fuzz targets in `fuzz/` only.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use config::{DiscoveryConfig, DiscoveryLimits, ALPHA, K};
pub use error::DiscoveryError;
pub use module::DiscoveryTable;
pub use node_id::{Contact, Distance, NodeId};
pub use service::Discovery;
pub use wire::WireError;
