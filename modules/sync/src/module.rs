//! The `sync` module: the driver loop with the chosen strategy.

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ChainWriter, CompactBlocks, ConfigError,
    Module, ModuleConfig, ModuleFactory, PeerService, StartContext,
};

use crate::config::SyncConfig;
use crate::driver::{Driver, Inbox};
use node_api::{SyncStrategy, STRATEGY};

struct SyncModule {
    strategy: Box<dyn SyncStrategy>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: SyncConfig = config.parse()?;
    let strategy = config.strategy("strategy", &STRATEGY, &parsed.strategy)?;
    Ok(Box::new(SyncModule { strategy }))
}

inventory::submit! {
    ModuleFactory {
        name: "sync",
        description: "block download from peers with a chosen strategy (headers-first, poll)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainView>(), service::<dyn ChainWriter>(), service::<dyn PeerService>()],
        // A broadcast behaviour's choice of peers whose blocks are asked compact.
        uses: &[service::<dyn CompactBlocks>()],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for SyncModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let peers = ctx.require::<dyn PeerService>()?;
        let inbox = Inbox::subscribe(&*peers, ctx.events());
        let driver = Driver::new(
            ctx.require::<dyn ChainView>()?,
            ctx.require::<dyn ChainWriter>()?,
            peers,
            self.strategy,
            ctx.get::<dyn CompactBlocks>()?,
        );
        ctx.spawn("sync loop", driver.run(inbox, ctx.cancel_token()));
        Ok(())
    }
}
