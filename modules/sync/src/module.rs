//! The `sync` module: the driver loop with the chosen strategy.

use node_chain::ChainState;
use node_kernel::{
    inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, StartContext,
};
use node_peers::Peers;
use std::collections::{HashMap, HashSet};

use crate::config::SyncConfig;
use crate::driver::Driver;
use crate::strategy::{SyncStrategy, STRATEGY_BEHAVIOUR};

struct SyncModule {
    config: SyncConfig,
    strategy: Option<Box<dyn SyncStrategy>>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: SyncConfig = config.parse()?;
    let strategy = config
        .choose_strategy("strategy", STRATEGY_BEHAVIOUR, &parsed.strategy)?
        .build_as::<Box<dyn SyncStrategy>>()
        .ok_or_else(|| ConfigError::Invalid {
            key: "strategy".to_string(),
            reason: format!(
                "{:?} is not registered as a sync strategy type",
                parsed.strategy
            ),
        })?;
    Ok(Box::new(SyncModule {
        config: parsed,
        strategy: Some(strategy),
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "sync",
        description: "block download from peers with a chosen strategy (headers-first, poll)",
        provides: &[],
        needs: &["chain", "peers"],
        uses: &[],
        build,
    }
}

impl Module for SyncModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let driver = Driver {
            chain: ctx.services.require::<ChainState>("chain")?,
            peers: ctx.services.require::<Peers>("peers")?,
            config: self.config.clone(),
            strategy: self.strategy.take().ok_or("sync module started twice")?,
            heights: HashMap::new(),
            limited: HashSet::new(),
        };
        let events = ctx.events.clone();
        let cancel = ctx.cancel.clone();
        ctx.spawn(driver.run(events, cancel));
        Ok(())
    }
}
