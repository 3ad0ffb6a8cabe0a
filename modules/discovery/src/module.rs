//! The `discovery` module as the kernel sees it: reads `[discovery]`, binds UDP on the
//! peers service's own address (same IP, same port number as its TCP listener), and hands
//! every newly found contact to the peers service as a candidate to connect to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use node_api::{
    async_trait, inventory, service, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory,
    PeerService, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::config::{DiscoveryConfig, DiscoveryLimits};
use crate::service::Discovery;

/// The `[discovery]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryTable {
    /// `host:port` of nodes to ask first (ours or the tutorial's Python nodes).
    pub bootstrap: Vec<String>,
    /// Seconds between refreshes of stale buckets (each a lookup).
    pub refresh_interval_secs: u64,
    /// Milliseconds to wait for an answer before counting a node as gone.
    pub request_timeout_ms: u64,
    /// Values kept for other nodes.
    pub max_values: usize,
    /// Largest value kept, in bytes.
    pub max_value_bytes: usize,
    /// Seconds a stored value is kept.
    pub value_ttl_secs: u64,
    /// Requests answered per second per source IP, once its burst is spent.
    pub requests_per_second: u32,
    /// Requests answered at once from one source IP.
    pub request_burst: u32,
    /// Source IPs whose request rate is tracked at once.
    pub max_rate_sources: usize,
    /// Routing table entries sharing an IPv4 /24 or IPv6 /48 (loopback is exempt).
    pub per_subnet: usize,
    /// Our own requests awaiting an answer at once.
    pub max_in_flight: usize,
    /// Unknown nodes being pinged before they may enter the table, at once.
    pub max_verifying: usize,
}

impl Default for DiscoveryTable {
    /// The library's defaults (see [`DiscoveryConfig`] and [`DiscoveryLimits`] for why
    /// each number), so the profile and the library cannot drift apart.
    fn default() -> Self {
        let config = DiscoveryConfig::default();
        let limits = config.limits;
        DiscoveryTable {
            bootstrap: Vec::new(),
            refresh_interval_secs: config.refresh_interval.as_secs(),
            request_timeout_ms: config.request_timeout.as_millis() as u64,
            max_values: limits.max_values,
            max_value_bytes: limits.max_value_bytes,
            value_ttl_secs: limits.value_ttl.as_secs(),
            requests_per_second: limits.requests_per_second,
            request_burst: limits.request_burst,
            max_rate_sources: limits.max_rate_sources,
            per_subnet: limits.per_subnet,
            max_in_flight: limits.max_in_flight,
            max_verifying: limits.max_verifying,
        }
    }
}

impl DiscoveryTable {
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            key: key.to_string(),
            reason,
        };
        for entry in &self.bootstrap {
            let port = entry
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok());
            if !matches!(port, Some(p) if p != 0) {
                return Err(invalid(
                    "bootstrap",
                    format!("{entry:?} is not host:port (the node's discovery port)"),
                ));
            }
        }
        for (key, value) in [
            ("refresh_interval_secs", self.refresh_interval_secs),
            ("request_timeout_ms", self.request_timeout_ms),
            ("request_burst", u64::from(self.request_burst)),
            ("max_in_flight", self.max_in_flight as u64),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".to_string()));
            }
        }
        Ok(())
    }

    fn library_config(&self, listen: SocketAddr, bootstrap: Vec<SocketAddr>) -> DiscoveryConfig {
        DiscoveryConfig {
            listen,
            bootstrap,
            node_id: None,
            refresh_interval: Duration::from_secs(self.refresh_interval_secs),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            limits: DiscoveryLimits {
                max_values: self.max_values,
                max_value_bytes: self.max_value_bytes,
                value_ttl: Duration::from_secs(self.value_ttl_secs),
                requests_per_second: self.requests_per_second,
                request_burst: self.request_burst,
                max_rate_sources: self.max_rate_sources,
                per_subnet: self.per_subnet,
                max_in_flight: self.max_in_flight,
                max_verifying: self.max_verifying,
            },
        }
    }
}

struct DiscoveryModule {
    table: DiscoveryTable,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let table: DiscoveryTable = config.parse()?;
    table.check()?;
    Ok(Box::new(DiscoveryModule { table }))
}

inventory::submit! {
    ModuleFactory {
        name: "discovery",
        description: "Kademlia discovery over UDP on the peers port, compatible with the \
                      Python kademlia package; found nodes become peer candidates",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn PeerService>()],
        uses: &[],
        methods: &[],
        build,
    }
}

/// Resolves `host:port` entries; one that does not resolve is skipped with a warning, so
/// a bootstrap node that is down or unnamed does not keep the node from starting.
async fn resolve(entries: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for entry in entries {
        match tokio::net::lookup_host(entry.as_str()).await {
            Ok(addrs) => out.extend(addrs),
            Err(error) => {
                tracing::warn!(bootstrap = %entry, %error, "cannot resolve a bootstrap node; skipping it")
            }
        }
    }
    out
}

#[async_trait]
impl Module for DiscoveryModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let peers = ctx.require::<dyn PeerService>()?;
        let listen = peers.local_addr();
        let bootstrap = resolve(&self.table.bootstrap).await;
        let config = self.table.library_config(listen, bootstrap);
        let (discovery, node) = Discovery::start(config, ctx.cancel_token()).await?;
        // The library's own task tree, joined so the kernel waits for it on stop and a
        // panic in it stops the node.
        ctx.spawn("kademlia node", async move {
            node.await
                .map_err(|error| format!("the discovery node's task failed: {error}"))
        });
        tracing::info!(
            udp = %discovery.local_addr(),
            id = %discovery.id(),
            "discovery listening on {}",
            discovery.local_addr()
        );
        if self.table.bootstrap.is_empty() {
            tracing::info!(
                "discovery has no bootstrap node: it finds peers only once another node \
                 contacts it; add some with [discovery] bootstrap (e.g. --set \
                 'discovery.bootstrap=[\"HOST:PORT\"]')"
            );
        }
        ctx.spawn("candidates", forward(discovery, peers, ctx.cancel_token()));
        Ok(())
    }
}

/// Hands every contact the routing table gains to the peers module.
async fn forward(discovery: Discovery, peers: Arc<dyn PeerService>, cancel: CancellationToken) {
    let mut found = discovery.subscribe();
    for contact in discovery.contacts() {
        peers.add_candidate(contact.addr);
    }
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => return,
            next = found.recv() => next,
        };
        match next {
            Ok(addr) => {
                peers.add_candidate(addr);
            }
            // Missed some: the table has them all.
            Err(RecvError::Lagged(_)) => {
                for contact in discovery.contacts() {
                    peers.add_candidate(contact.addr);
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn defaults_match_the_library_and_bad_values_name_their_key() {
        let table = DiscoveryTable::default();
        assert_eq!(table.refresh_interval_secs, 600);
        assert_eq!(table.per_subnet, 2);
        assert!(table.check().is_ok());
        let bad = DiscoveryTable {
            bootstrap: vec!["10.0.0.1".into()],
            ..DiscoveryTable::default()
        };
        assert!(matches!(bad.check(), Err(ConfigError::Invalid { key, .. }) if key == "bootstrap"));
        let bad = DiscoveryTable {
            refresh_interval_secs: 0,
            ..DiscoveryTable::default()
        };
        assert!(
            matches!(bad.check(), Err(ConfigError::Invalid { key, .. }) if key == "refresh_interval_secs")
        );
        let config = table.library_config(
            "127.0.0.1:18444".parse().unwrap(),
            resolve(&["127.0.0.1:1".to_string(), "no such host:x".to_string()]).await,
        );
        assert_eq!(config.bootstrap, ["127.0.0.1:1".parse().unwrap()]);
        assert_eq!(config.request_timeout, Duration::from_secs(2));
    }
}
