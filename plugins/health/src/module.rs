//! The `health` module: its table, its factory, and the two routes.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use node_api::http::{response, StatusCode};
use node_api::metrics::{describe_gauge, gauge};
use node_api::{
    async_trait, inventory, monitoring_listen, service, Access, BoxError, ChainView, ConfigError,
    HttpResponse, Module, ModuleConfig, ModuleFactory, PeerService, Route, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::readiness::{failing, Snapshot, Thresholds, CONDITIONS};

/// How often `node_ready` is refreshed: finer than any sensible scrape interval.
const READY_GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// The `[health]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct HealthConfig {
    /// `host:port`; unset: the `metrics` plugin's default address (shared listener).
    listen: Option<String>,
    /// `/ready` fails when the tip is more blocks than this behind the best known height.
    max_blocks_behind: u32,
    /// `/ready` fails when the tip's timestamp is older than this.
    max_tip_age_secs: u64,
    /// `/ready` fails with fewer peers connected.
    min_peers: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            listen: None,
            // A block being fetched or connected right now is normal for a node that
            // follows the chain; more means it is catching up.
            max_blocks_behind: 2,
            // Bitcoin Core's DEFAULT_MAX_TIP_AGE: a tip a day old means the node (or the
            // whole chain) stopped moving.
            max_tip_age_secs: 24 * 60 * 60,
            // A node with no peer cannot know whether it is behind.
            min_peers: 1,
        }
    }
}

struct HealthModule {
    listen: SocketAddr,
    limits: Thresholds,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: HealthConfig = config.parse()?;
    let listen = monitoring_listen(
        parsed.listen.as_deref(),
        &config.node().chain,
        &config.node().chain_base,
    )?;
    Ok(Box::new(HealthModule {
        listen,
        limits: Thresholds {
            max_blocks_behind: parsed.max_blocks_behind,
            max_tip_age_secs: parsed.max_tip_age_secs,
            min_peers: parsed.min_peers,
        },
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "health",
        description: "/healthy while the node runs, /ready when synced, fresh and connected (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainView>()],
        uses: &[service::<dyn PeerService>()],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for HealthModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let peers = ctx.get::<dyn PeerService>()?;
        let shutdown = ctx.shutdown_token();
        let healthy = Route::new("/healthy", Access::Public, move |_request| {
            let stopping = shutdown.is_cancelled();
            async move {
                if stopping {
                    json_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({"healthy": false, "reason": "node stopping"}),
                    )
                } else {
                    json_response(StatusCode::OK, json!({"healthy": true}))
                }
            }
        });
        let limits = self.limits;
        let (route_chain, route_peers) = (chain.clone(), peers.clone());
        let ready = Route::new("/ready", Access::Public, move |_request| {
            let snapshot = snapshot(route_chain.as_ref(), route_peers.as_deref());
            async move { ready_response(&snapshot, &limits) }
        });
        let bound = ctx.serve_http(self.listen, vec![healthy, ready]).await?;
        tracing::info!(%bound, "serving /healthy and /ready");

        // The same verdict as a series, so an alert rule can say "not ready for 10
        // minutes" without a probe of its own (a no-op without the metrics plugin).
        describe_gauge!("node_ready", "1 when /ready answers 200, else 0");
        describe_gauge!(
            "node_ready_failing",
            "1 for each /ready condition that fails (blocks_behind, tip_age, peers, disk_full)"
        );
        let ready_gauge = gauge!("node_ready");
        let conditions = CONDITIONS.map(|c| gauge!("node_ready_failing", "condition" => c));
        let cancel = ctx.cancel_token();
        ctx.spawn("readiness gauge", async move {
            let mut tick = tokio::time::interval(READY_GAUGE_INTERVAL);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let failing = failing(&snapshot(chain.as_ref(), peers.as_deref()), &limits);
                ready_gauge.set(if failing.is_empty() { 1.0 } else { 0.0 });
                for (condition, gauge) in CONDITIONS.iter().zip(&conditions) {
                    let fails = failing.iter().any(|f| f.condition == *condition);
                    gauge.set(if fails { 1.0 } else { 0.0 });
                }
            }
        });
        Ok(())
    }
}

/// The node now, as the readiness rule sees it.
fn snapshot(chain: &dyn ChainView, peers: Option<&dyn PeerService>) -> Snapshot {
    let tip = chain.tip();
    let connected = peers.map(|p| p.peers()).unwrap_or_default();
    let announced = connected
        .iter()
        .map(|p| u32::try_from(p.start_height).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Snapshot {
        tip_height: tip.height,
        best_known_height: chain.best_header().1.max(announced),
        tip_age_secs: now.saturating_sub(u64::from(tip.header.time)),
        peers: connected.len(),
        disk_full: chain.disk_full(),
    }
}

fn ready_response(snapshot: &Snapshot, limits: &Thresholds) -> HttpResponse {
    let failing = failing(snapshot, limits);
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        json!({ "ready": failing.is_empty(), "failing": failing, "node": snapshot }),
    )
}

fn json_response(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    response(status, "application/json", format!("{body}\n"))
}
