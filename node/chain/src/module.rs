//! The `chain` module: opens the chain state in the data directory, provides it as the
//! `chain` service, publishes its events on the bus, and registers the blockchain RPC
//! methods.

use std::sync::Arc;

use node_kernel::{
    inventory, BoxError, ConfigError, EventBus, Module, ModuleConfig, ModuleFactory, StartContext,
};
use serde::{Deserialize, Serialize};

use crate::spec::ChainSpec;
use crate::state::{ChainOptions, ChainState};

/// The `[chain]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Keep an index from address to unspent outputs, so `getbalance ADDRESS` and
    /// `listunspent` answer for any address (the tutorial's `balance ADDR`). Off by
    /// default: it costs a second entry per unspent output.
    pub address_index: bool,
}

struct ChainModule {
    spec: &'static ChainSpec,
    config: ChainConfig,
    state: Option<Arc<ChainState>>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: ChainConfig = config.parse()?;
    let chain = &config.node().chain;
    let spec = ChainSpec::by_name(chain).map_err(|_| ConfigError::InvalidValue {
        key: "node.chain".to_string(),
        value: chain.clone(),
        choices: ChainSpec::names().iter().map(|s| s.to_string()).collect(),
    })?;
    Ok(Box::new(ChainModule {
        spec,
        config: parsed,
        state: None,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "chain",
        description: "chain state on LMDB: blocks, index, UTXO set, fork choice by most work",
        provides: &["chain"],
        needs: &[],
        uses: &[],
        build,
    }
}

impl Module for ChainModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let bus: EventBus = ctx.events.clone();
        let options = ChainOptions {
            address_index: self.config.address_index,
        };
        let path = ctx.datadir.path().join("chain");
        let state = ChainState::open(&path, self.spec, options, move |event| bus.publish(event))?;
        let tip = state.tip();
        tracing::info!(
            chain = self.spec.name,
            height = tip.height,
            tip = %tip.hash,
            "chain state loaded"
        );
        crate::rpc::register(ctx, &state)?;
        ctx.services.provide("chain", state.clone());
        self.state = Some(state);
        Ok(())
    }
}
