//! What the caller (the kernel module reading the profile) sets.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::node_id::NodeId;

/// Bucket size and lookup result size, as in the Python package.
pub const K: usize = 20;
/// Lookup requests in flight at once, as in the Python package.
pub const ALPHA: usize = 3;

/// Where to listen, whom to ask first, how often to refresh.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// UDP address to bind. Its port is also the node's TCP data port, which is what other
    /// nodes connect to once they find us.
    pub listen: SocketAddr,
    /// Nodes to ping at start (and again whenever the table runs empty), by IP address.
    pub bootstrap: Vec<SocketAddr>,
    /// Our id; random when `None`, as the Python package does.
    pub node_id: Option<NodeId>,
    /// How often stale buckets are refreshed by a lookup of a random id in their range.
    pub refresh_interval: Duration,
    /// How long to wait for an answer before counting a node as gone.
    pub request_timeout: Duration,
    /// Bounds on what other nodes can make us keep or do.
    pub limits: DiscoveryLimits,
}

/// Bounds that protect the node from other nodes; the Python package has none of these.
#[derive(Clone, Debug)]
pub struct DiscoveryLimits {
    /// Values kept for other nodes; the oldest makes room for a new one.
    pub max_values: usize,
    /// Largest value kept (bytes of a str or bytes value; numbers count as 8).
    pub max_value_bytes: usize,
    /// How long a stored value is kept.
    pub value_ttl: Duration,
    /// Requests answered per second per source IP, once its burst is spent.
    pub requests_per_second: u32,
    /// Requests answered at once from one source IP.
    pub request_burst: u32,
    /// Source IPs whose rate is tracked at once.
    pub max_rate_sources: usize,
    /// Routing table entries sharing an IPv4 /24 or IPv6 /48 (loopback is exempt).
    pub per_subnet: usize,
    /// Our own requests awaiting an answer at once.
    pub max_in_flight: usize,
    /// Unknown nodes being pinged before they may enter the table, at once.
    pub max_verifying: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            // Port 0 picks a free port; the profile gives the real one.
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            bootstrap: Vec::new(),
            node_id: None,
            // The Python package refreshes hourly; ten minutes also retries an empty table
            // (bootstrap nodes down at start) sooner.
            refresh_interval: Duration::from_secs(600),
            // The Python package waits 5 s; a datagram round trip rarely needs 1 s.
            request_timeout: Duration::from_secs(2),
            limits: DiscoveryLimits::default(),
        }
    }
}

impl Default for DiscoveryLimits {
    fn default() -> Self {
        DiscoveryLimits {
            // 1024 values of at most 1 KiB: at most about 1 MiB held for others.
            max_values: 1024,
            max_value_bytes: 1024,
            // The Python package keeps values a week and republishes hourly; a day is
            // plenty for a cache we do not republish.
            value_ttl: Duration::from_secs(24 * 3600),
            // A lookup asks a node a handful of times; 60 at once and 20/s after that
            // leaves room for several lookups per second from one host.
            requests_per_second: 20,
            request_burst: 60,
            max_rate_sources: 4096,
            // Two per /24, so one operator's subnet cannot fill a bucket (eclipse attack).
            per_subnet: 2,
            max_in_flight: 512,
            max_verifying: 64,
        }
    }
}
