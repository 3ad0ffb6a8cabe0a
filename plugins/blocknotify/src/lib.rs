//! `blocknotify`: runs a command whenever the best block changes, as bitcoind's
//! `-blocknotify` does. It is shipped the way a third party would ship a module: its own
//! crate, one `inventory::submit!`, one line in the binary's dependencies.
//!
//! Needs: the `chain` service's tip events on the event bus. Provides: nothing.
//! Profile table `[blocknotify]`: `command` (run with `sh -c`, `%s` replaced by the block
//! hash in hex) and `timeout_secs`.
//!
//! Commands run one at a time in tip order, so a slow command delays later notifications
//! but never the node; if tips change faster than commands finish, intermediate ones are
//! skipped (the event bus reports how many) and the latest still runs.

use std::time::Duration;

use node_chain::ChainEvent;
use node_kernel::{
    inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, StartContext,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

/// The `[blocknotify]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
        provides: &[],
        needs: &["chain"],
        uses: &[],
        build,
    }
}

impl Module for BlockNotify {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let mut events = ctx.events.subscribe::<ChainEvent>();
        let cancel = ctx.cancel.clone();
        let config = self.config.clone();
        ctx.spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = cancel.cancelled() => return,
                    event = events.recv() => event,
                };
                match event {
                    Ok(ChainEvent::TipChanged { hash, .. }) => {
                        notify(&config, &hash.to_string()).await
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "blocknotify fell behind; skipped tips")
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(())
    }
}

async fn notify(config: &BlockNotifyConfig, hash: &str) {
    let command = config.command.replace("%s", hash);
    tracing::debug!(%command, "blocknotify");
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
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
