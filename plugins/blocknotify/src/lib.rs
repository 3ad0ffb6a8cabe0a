//! `blocknotify`: runs a command whenever the best block changes, as bitcoind's
//! `-blocknotify` does. It is the small example of a plugin: its own crate, depending on
//! `node-api` only, one `inventory::submit!`, one line in the binary's dependencies.
//!
//! Needs: the `chain-stream` service ([`node_api::ChainStream`]): it follows the chain
//! from the tip at start, one step at a time, without loss. Provides: nothing.
//!
//! Profile table `[blocknotify]`: `command` (run with `sh -c`, `%s` replaced by the block
//! hash in hex) and `timeout_secs`.
//!
//! Costs and limits: commands run one at a time in tip order, once per step of the chain
//! (a new tip, or a reorganisation's new tip), so a slow command delays later
//! notifications but never the node. If tips change faster than commands finish
//! (initial sync), the stream hands the steps missed as one step from the store, so
//! intermediate tips are not run and the latest still is. A command still running when
//! the node stops is killed.

use std::time::Duration;

use node_api::{
    async_trait, inventory, service, BoxError, ChainStream, ChainSubscription, ConfigError, Module,
    ModuleConfig, ModuleFactory, StartContext, StreamStart,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[blocknotify]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct BlockNotifyConfig {
    /// Shell command; `%s` becomes the new tip's hash.
    command: String,
    /// A command running longer than this is killed.
    timeout_secs: u64,
}

impl Default for BlockNotifyConfig {
    fn default() -> Self {
        BlockNotifyConfig {
            command: String::new(),
            // Long enough for a script that posts to a web hook, short enough that a hung
            // one does not pile up behind every later block.
            timeout_secs: 60,
        }
    }
}

struct BlockNotify {
    config: BlockNotifyConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: BlockNotifyConfig = config.parse()?;
    if config.command.trim().is_empty() {
        return Err(ConfigError::Invalid {
            key: "command".to_string(),
            reason: "empty; give the command to run, with %s for the block hash".to_string(),
        });
    }
    Ok(Box::new(BlockNotify { config }))
}

inventory::submit! {
    ModuleFactory {
        name: "blocknotify",
        description: "runs a command with the block hash whenever the best block changes (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainStream>()],
        uses: &[],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for BlockNotify {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        // Subscribed before start returns: no tip change after the node is up is missed.
        let steps = ctx
            .require::<dyn ChainStream>()?
            .subscribe(StreamStart::Tip)?;
        let cancel = ctx.cancel_token();
        ctx.spawn("notify", async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = follow_tips(&self.config, steps) => {}
            }
        });
        Ok(())
    }
}

/// Runs the command for each new tip until the stream fails (the store unreadable).
async fn follow_tips(config: &BlockNotifyConfig, mut steps: Box<dyn ChainSubscription>) {
    loop {
        match steps.next().await {
            Ok(step) => run_command(config, &step.tip().hash.to_string()).await,
            Err(e) => {
                tracing::warn!("blocknotify stops: the chain stream failed: {e}");
                return;
            }
        }
    }
}

/// Runs the command for one block. Its failures are the operator's to see in the log, not
/// a reason to stop the node.
async fn run_command(config: &BlockNotifyConfig, hash: &str) {
    let command = config.command.replace("%s", hash);
    tracing::debug!(%command, "blocknotify");
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        // Dropped when it times out or when the node stops while it runs.
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(%command, "blocknotify cannot start its command: {e}");
            return;
        }
    };
    let timeout = Duration::from_secs(config.timeout_secs);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => {}
        Ok(Ok(status)) => tracing::warn!(%command, %status, "blocknotify command failed"),
        Ok(Err(e)) => tracing::warn!(%command, "blocknotify command failed: {e}"),
        Err(_) => tracing::warn!(%command, ?timeout, "blocknotify command timed out; killed"),
    }
}
