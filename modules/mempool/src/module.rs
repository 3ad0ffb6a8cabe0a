//! The `mempool` module: builds the pool with the chosen policy, follows chain events,
//! expires old entries, and registers the mempool RPC methods.

use std::sync::Arc;
use std::time::Duration;

use node_chain::{ChainEvent, ChainState};
use node_kernel::{
    inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, StartContext,
};
use tokio::sync::broadcast::error::RecvError;

use crate::config::MempoolConfig;
use crate::mempool::Mempool;
use crate::policy::{MempoolPolicy, POLICY_BEHAVIOUR};

/// How often expiry runs; entries live for hours, so a minute of slack is nothing.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

struct MempoolModule {
    config: MempoolConfig,
    policy: Option<Box<dyn MempoolPolicy>>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: MempoolConfig = config.parse()?;
    let factory = config.choose_strategy("policy", POLICY_BEHAVIOUR, &parsed.policy)?;
    let policy = factory
        .build_as::<Box<dyn MempoolPolicy>>()
        .ok_or_else(|| ConfigError::Invalid {
            key: "policy".to_string(),
            reason: format!(
                "{:?} is not registered as a mempool policy type",
                parsed.policy
            ),
        })?;
    Ok(Box::new(MempoolModule {
        config: parsed,
        policy: Some(policy),
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "mempool",
        description: "unconfirmed transactions: policy, orphans, eviction, block selection",
        provides: &["mempool"],
        needs: &["chain"],
        uses: &[],
        build,
    }
}

impl Module for MempoolModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let chain: Arc<ChainState> = ctx.services.require("chain")?;
        let policy = self.policy.take().ok_or("mempool module started twice")?;
        let mempool = Mempool::new(chain, policy, self.config.clone(), ctx.events.clone());

        let mut chain_events = ctx.events.subscribe::<ChainEvent>();
        let cancel = ctx.cancel.clone();
        let pool = mempool.clone();
        ctx.spawn(async move {
            let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = expiry.tick() => pool.expire(),
                    event = chain_events.recv() => match event {
                        Ok(event) => {
                            let pool = pool.clone();
                            // Admission checks signatures: keep it off the async threads.
                            let _ = tokio::task::spawn_blocking(move || pool.on_chain_event(&event)).await;
                        }
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "mempool missed chain events");
                        }
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
        crate::rpc::register(ctx, &mempool)?;
        ctx.services.provide("mempool", mempool);
        Ok(())
    }
}
