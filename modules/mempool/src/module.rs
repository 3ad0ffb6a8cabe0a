//! The `mempool` module: builds the pool with the chosen policy over the chain (which it
//! then follows through a chain listener), expires old entries, and registers the
//! mempool RPC methods.

use std::time::Duration;

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, MempoolPolicy,
    MempoolService, Module, ModuleConfig, ModuleFactory, StartContext, WalletService, POLICY,
};

use crate::config::MempoolConfig;
use crate::mempool::Mempool;
use crate::persist;

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
        provides: &[service::<dyn MempoolService>()],
        needs: &[service::<dyn ChainView>()],
        // getrawtransaction asks the wallet for the block of a wallet transaction; the
        // wallet needs the pool, so it starts later and is looked up at each call.
        uses: &[service::<dyn WalletService>()],
        methods: &[&crate::rpc::METHODS, &crate::rpc::RAW_METHODS, &crate::rpc::SAVEMEMPOOL],
        build,
    }
}

#[async_trait]
impl Module for MempoolModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let persist = self.config.persist;
        let max_bytes = self.config.max_bytes;
        let mempool = Mempool::new(chain, self.policy, self.config, ctx.events().clone());
        let file = ctx.datadir().join(persist::FILE);
        if persist {
            match persist::load(&mempool, &file, max_bytes) {
                Ok(loaded) if loaded.accepted + loaded.refused > 0 => tracing::info!(
                    accepted = loaded.accepted,
                    refused = loaded.refused,
                    "mempool loaded from {}",
                    file.display()
                ),
                Ok(_) => {}
                // A damaged file costs the saved entries, never the start.
                Err(e) => tracing::warn!("mempool file {} not loaded: {e}", file.display()),
            }
            let pool = mempool.clone();
            let file = file.clone();
            ctx.on_stop(move || {
                let saved = persist::save(&pool, &file)?;
                tracing::debug!(saved, "mempool saved");
                Ok(())
            });
        }

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
        crate::rpc::register_save(&ctx, &mempool, file)?;
        ctx.provide::<dyn MempoolService>(mempool)?;
        Ok(())
    }
}
