//! The `wallet` module: opens the key file, registers the wallet RPC methods, and
//! provides the wallet service (the miner asks it for a payout address).

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, MempoolService, Module,
    ModuleConfig, ModuleFactory, StartContext, WalletService,
};

use crate::config::WalletConfig;
use crate::wallet::Wallet;

struct WalletModule {
    config: WalletConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: WalletConfig = config.parse()?;
    if parsed.file.is_empty() || parsed.file.contains('/') {
        return Err(ConfigError::Invalid {
            key: "file".to_string(),
            reason: format!(
                "{:?} must be a plain file name inside the data directory",
                parsed.file
            ),
        });
    }
    Ok(Box::new(WalletModule { config: parsed }))
}

inventory::submit! {
    ModuleFactory {
        name: "wallet",
        description: "P2PKH keys, addresses, balances and payments (spends unconfirmed change)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn WalletService>()],
        needs: &[service::<dyn ChainView>(), service::<dyn MempoolService>()],
        uses: &[],
        methods: &[&crate::rpc::METHODS, &crate::rpc_history::METHODS, &crate::rpc_send::METHODS, &crate::rpc_keys::METHODS],
        build,
    }
}

#[async_trait]
impl Module for WalletModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        if !chain.has_address_index() {
            return Err(
                "the wallet needs the chain's address index: set [chain] address_index = true"
                    .into(),
            );
        }
        let mempool = ctx.require::<dyn MempoolService>()?;
        let path = ctx.datadir().join(&self.config.file);
        let wallet = Wallet::open(chain, mempool, path, self.config.fee_rate_per_kb)?;
        tracing::info!(addresses = wallet.addresses().len(), "wallet loaded");
        crate::rpc::register(&ctx, &wallet)?;
        crate::rpc_history::register(&ctx, &wallet)?;
        crate::rpc_send::register(&ctx, &wallet)?;
        crate::rpc_keys::register(&ctx, &wallet)?;
        // The history is written when it changes; this keeps the last block it followed.
        let saving = wallet.clone();
        ctx.on_stop(move || saving.history().write().map_err(Into::into));
        ctx.provide::<dyn WalletService>(wallet)?;
        Ok(())
    }
}
