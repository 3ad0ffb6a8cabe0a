//! The `tipstats` module: counts the blocks connected and disconnected since start, from
//! the chain's events, and answers `gettipstats`.
//!
//! Needs: the chain (for its events, and to start after it). Provides: nothing.
//! Profile table `[tipstats]`: `label`, shown in `gettipstats`.

use std::sync::{Arc, Mutex};

use node_api::chain::ChainEvent;
use node_api::rpc::Param;
use node_api::{
    async_trait, inventory, services, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory,
    RunOn, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The `[tipstats]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct TipStatsConfig {
    /// A name for this node, returned by `gettipstats`.
    label: String,
}

impl Default for TipStatsConfig {
    fn default() -> Self {
        TipStatsConfig {
            label: "unnamed".to_string(),
        }
    }
}

#[derive(Default)]
struct Counts {
    connected: u64,
    disconnected: u64,
    tip: Option<(String, u32)>,
}

struct TipStats {
    label: String,
    counts: Mutex<Counts>,
}

struct TipStatsModule {
    config: TipStatsConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: TipStatsConfig = config.parse()?;
    if config.label.trim().is_empty() {
        return Err(ConfigError::Invalid {
            key: "label".to_string(),
            reason: "empty; give this node a name".to_string(),
        });
    }
    Ok(Box::new(TipStatsModule { config }))
}

inventory::submit! {
    ModuleFactory {
        name: "tipstats",
        description: "counts blocks connected and disconnected since start (custom-node example)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[services::CHAIN],
        uses: &[],
        methods: &["gettipstats"],
        build,
    }
}

#[async_trait]
impl Module for TipStatsModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let stats = Arc::new(TipStats {
            label: self.config.label,
            counts: Mutex::new(Counts::default()),
        });
        let mut events = ctx.events().subscribe::<ChainEvent>();
        let cancel = ctx.cancel_token();
        let counting = stats.clone();
        ctx.spawn("count", async move {
            loop {
                let event = tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    event = events.recv() => event,
                };
                let mut counts = counting.counts.lock().unwrap_or_else(|e| e.into_inner());
                match event {
                    Ok(ChainEvent::BlockConnected { .. }) => counts.connected += 1,
                    Ok(ChainEvent::BlockDisconnected { .. }) => counts.disconnected += 1,
                    Ok(ChainEvent::TipChanged { hash, height }) => {
                        counts.tip = Some((hash.to_string(), height))
                    }
                    // Counting is best effort; a bus that lagged only lost counts.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        });
        const NONE: &[Param] = &[];
        ctx.register_methods(
            &stats,
            RunOn::Inline,
            &[(
                "gettipstats",
                NONE,
                "This example's own method: blocks connected and disconnected since start, the last tip, \
                 and this node's label.\n\n\
                 Result:\n\
                 {                          (json object)\n  \
                   \"label\" : \"str\",         (string) This node's label ([tipstats] label)\n  \
                   \"connected\" : n,         (numeric) Blocks connected since start\n  \
                   \"disconnected\" : n,      (numeric) Blocks disconnected since start\n  \
                   \"tip\" : {                (json object or null) The last tip connected; null before the first\n    \
                     \"hash\" : \"hex\",        (string) Its block hash\n    \
                     \"height\" : n         (numeric) Its height\n  \
                   }\n\
                 }",
                gettipstats,
            )],
        )?;
        Ok(())
    }
}

fn gettipstats(stats: &TipStats, _: node_api::RpcParams) -> Result<Value, node_api::RpcError> {
    let counts = stats.counts.lock().unwrap_or_else(|e| e.into_inner());
    Ok(json!({
        "label": stats.label,
        "connected": counts.connected,
        "disconnected": counts.disconnected,
        "tip": counts.tip.as_ref().map(|(hash, height)| json!({"hash": hash, "height": height})),
    }))
}
