//! The `tipstats` module: counts the blocks connected and disconnected since start, from
//! the chain stream, and answers `gettipstats`.
//!
//! Needs: the chain stream (every block in order, none lost however slow it is).
//! Provides: nothing.
//! Profile table `[tipstats]`: `label`, shown in `gettipstats`.

use std::sync::{Arc, Mutex};

use node_api::rpc::Param;
use node_api::{
    async_trait, inventory, service, BoxError, ChainStream, ConfigError, MethodEntry, Module,
    ModuleConfig, ModuleFactory, RunOn, StartContext, StreamError, StreamStart,
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

const NONE: &[Param] = &[];

/// The module's methods: registered at start and listed as they are in its factory's
/// `methods`, so each name is written once.
const METHODS: &[MethodEntry<TipStats>] = &[(
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
)];

inventory::submit! {
    ModuleFactory {
        name: "tipstats",
        description: "counts blocks connected and disconnected since start (custom-node example)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainStream>()],
        uses: &[],
        methods: &[&METHODS],
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
        // From the tip at start, taken with the subscription: no block is missed or
        // counted twice.
        let mut steps = ctx
            .require::<dyn ChainStream>()?
            .subscribe(StreamStart::Tip)?;
        let cancel = ctx.cancel_token();
        let counting = stats.clone();
        ctx.spawn("count", async move {
            loop {
                let step = tokio::select! {
                    () = cancel.cancelled() => return Ok::<(), StreamError>(()),
                    step = steps.next() => step?,
                };
                let mut counts = counting.counts.lock().unwrap_or_else(|e| e.into_inner());
                counts.connected += step.committed().len() as u64;
                counts.disconnected += step.reverted().len() as u64;
                let tip = step.tip();
                counts.tip = Some((tip.hash.to_string(), tip.height));
            }
        });
        ctx.register_methods(&stats, RunOn::Inline, METHODS)?;
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

#[cfg(test)]
mod tests {
    use node_api::StreamStart;
    use node_testkit::TestNode;
    use serde_json::json;

    #[tokio::test]
    async fn gettipstats_counts_every_block_mined() {
        let node = TestNode::builder()
            .module("tipstats")
            .profile("[tipstats]\nlabel = \"kit\"")
            .start()
            .await
            .unwrap();
        let mut follower = node.follow(StreamStart::Tip);
        let blocks = node.mine(3).await.unwrap();
        let tip = blocks[2].header.hash();
        follower.follow_to(tip).await;
        follower.assert_exactly_once();
        // The module's task counts after the step is published: wait for it.
        let deadline = tokio::time::Instant::now() + node_testkit::DEADLINE;
        let stats = loop {
            let stats = node.rpc("gettipstats", json!([])).await.unwrap();
            if stats["connected"] == 3 || tokio::time::Instant::now() > deadline {
                break stats;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_eq!(stats["label"], "kit");
        assert_eq!(stats["connected"], 3);
        assert_eq!(stats["disconnected"], 0);
        assert_eq!(stats["tip"]["hash"], tip.to_string());
        node.stop().await.unwrap();
    }
}
