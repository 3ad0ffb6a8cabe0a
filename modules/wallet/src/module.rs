//! The `wallet` module: opens the key file and registers the wallet RPC methods.

use std::sync::Arc;

use node_chain::ChainState;
use node_kernel::{
    inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, StartContext,
};
use node_mempool::Mempool;

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
        provides: &["wallet"],
        needs: &["chain", "mempool"],
        uses: &[],
        build,
    }
}

impl Module for WalletModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let chain: Arc<ChainState> = ctx.services.require("chain")?;
        if !chain.has_address_index() {
            return Err(
                "the wallet needs the chain's address index: set [chain] address_index = true"
                    .into(),
            );
        }
        let mempool: Arc<Mempool> = ctx.services.require("mempool")?;
        let path = ctx.datadir.path().join(&self.config.file);
        let wallet = Wallet::open(chain, mempool, path, self.config.fee_rate_per_kb)?;
        tracing::info!(addresses = wallet.addresses().len(), "wallet loaded");
        crate::rpc::register(ctx, &wallet)?;
        ctx.services.provide("wallet", wallet);
        Ok(())
    }
}
