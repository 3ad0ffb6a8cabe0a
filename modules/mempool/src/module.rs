//! The `mempool` module: builds the pool with the chosen policy over the chain (which it
//! then follows through a chain listener), expires old entries, and registers the
//! mempool RPC methods.

use std::time::Duration;

use node_api::{
    async_trait, inventory, services, BoxError, ChainView, ConfigError, MempoolPolicy,
    MempoolService, Module, ModuleConfig, ModuleFactory, StartContext, POLICY,
};

use crate::config::MempoolConfig;
use crate::mempool::Mempool;

/// How often expiry runs; entries live for hours, so a minute of slack is nothing.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

struct MempoolModule {
    config: MempoolConfig,
    policy: Box<dyn MempoolPolicy>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: MempoolConfig = config.parse()?;
    let policy = config.strategy("policy", &POLICY, &parsed.policy)?;
    Ok(Box::new(MempoolModule {
        config: parsed,
        policy,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "mempool",
        description: "unconfirmed transactions: policy, orphans, eviction, block selection",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[services::MEMPOOL],
        needs: &[services::CHAIN],
        uses: &[],
        build,
    }
}

#[async_trait]
impl Module for MempoolModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let mempool = Mempool::new(chain, self.policy, self.config, ctx.events().clone());

        let cancel = ctx.cancel_token();
        let pool = mempool.clone();
        ctx.spawn("expiry", async move {
            let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = expiry.tick() => pool.expire(),
                }
            }
        });
        crate::rpc::register(&ctx, &mempool)?;
        ctx.provide::<dyn MempoolService>(mempool)?;
        Ok(())
    }
}
