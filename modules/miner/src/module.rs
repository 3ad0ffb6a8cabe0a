//! The `miner` module: the mining thread, the chain listener and event watcher that stop
//! its search on a new tip or fresher transactions, the hash-rate log, and the mining
//! RPC methods.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::chain::ChainSpec;
use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ChainWriter, ConfigError, MempoolEvent,
    MempoolService, MinerService, Module, ModuleConfig, ModuleFactory, PeerService, StartContext,
    WalletService,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::config::MinerConfig;
use crate::gbt::{mempool_changed, Gbt, TipChanges};
use crate::search::NonceSearcher;
use crate::template::COINBASE_RESERVE;
use crate::worker::{Control, TipWatch, Worker};

/// The hash rate is logged this often while mining.
const RATE_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// New transactions refresh the template at most this often: a rebuild costs a pool
/// selection and a merkle root, and a second's delay costs a block nothing.
const TEMPLATE_REFRESH: Duration = Duration::from_secs(1);

struct MinerModule {
    config: MinerConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: MinerConfig = config.parse()?;
    if parsed.block_max_bytes != 0 && parsed.block_max_bytes <= COINBASE_RESERVE {
        return Err(ConfigError::Invalid {
            key: "block_max_bytes".to_string(),
            reason: format!(
                "{} leaves no room beyond the {COINBASE_RESERVE} bytes kept for the coinbase",
                parsed.block_max_bytes
            ),
        });
    }
    Ok(Box::new(MinerModule { config: parsed }))
}

/// The most bytes of a block: the setting, or the chain's maximum when it is 0.
fn block_max_bytes(config: &MinerConfig, spec: &ChainSpec) -> usize {
    match config.block_max_bytes {
        0 => spec.max_block_size,
        set => set,
    }
}

/// Checks what depends on the chain, with the spec the chain service runs on.
fn check_against(config: &MinerConfig, spec: &ChainSpec) -> Result<(), ConfigError> {
    if config.block_max_bytes > spec.max_block_size {
        return Err(ConfigError::Invalid {
            key: "block_max_bytes".to_string(),
            reason: format!(
                "{} is above chain {}'s maximum block size, {}",
                config.block_max_bytes, spec.name, spec.max_block_size
            ),
        });
    }
    if !config.payout_address.is_empty() {
        spec.parse_address(&config.payout_address)
            .map_err(|e| ConfigError::Invalid {
                key: "payout_address".to_string(),
                reason: format!(
                    "{:?} is not an address of chain {}: {e}",
                    config.payout_address, spec.name
                ),
            })?;
    }
    Ok(())
}

inventory::submit! {
    ModuleFactory {
        name: "miner",
        description: "block templates from the mempool and a multi-core SHA-256 nonce search",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn MinerService>()],
        needs: &[service::<dyn ChainView>(), service::<dyn ChainWriter>(), service::<dyn MempoolService>()],
        uses: &[service::<dyn WalletService>(), service::<dyn PeerService>()],
        methods: &[&crate::rpc::GETMININGINFO, &crate::rpc::GETNETWORKHASHPS, &crate::rpc::GENERATETOADDRESS, &crate::rpc::SETGENERATE, &crate::gbt::GETBLOCKTEMPLATE, &crate::gbt::SUBMITBLOCK],
        build,
    }
}

#[async_trait]
impl Module for MinerModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let writer = ctx.require::<dyn ChainWriter>()?;
        let mempool = ctx.require::<dyn MempoolService>()?;
        let spec = chain.spec();
        check_against(&self.config, &spec).map_err(|e| format!("[miner] {e}"))?;
        let payout = if !self.config.payout_address.is_empty() {
            Some(spec.parse_address(&self.config.payout_address)?)
        } else if let Some(wallet) = ctx.get::<dyn WalletService>()? {
            // A locked encrypted wallet cannot make a key: the node still starts, and
            // mines only to addresses it is given.
            match wallet.new_address("mining") {
                Ok(address) => Some(address),
                Err(e) => {
                    tracing::warn!("no payout address from the wallet: {e}");
                    None
                }
            }
        } else {
            None
        };
        if self.config.autostart && payout.is_none() {
            return Err(
                "autostart needs [miner] payout_address or the wallet module (unlocked)".into(),
            );
        }
        let searcher = NonceSearcher::new(self.config.threads)?;
        tracing::info!(
            kernel = searcher.kernel().name(),
            threads = searcher.threads(),
            payout = payout.map(|a| a.to_string()).unwrap_or_default(),
            autostart = self.config.autostart,
            "miner ready"
        );
        let control = Arc::new(Control::new(
            searcher.kernel().name(),
            searcher.threads(),
            chain.tip().hash,
        ));
        // The mempool started first, so its listener runs before this one: when the
        // miner hears a tip, the pool is done with it.
        chain.listen(Arc::new(TipWatch(Arc::downgrade(&control))));
        // Long polls hear the tip after the mempool, too.
        let changes = Arc::new(watch::Sender::new((chain.tip().hash, 0)));
        chain.listen(Arc::new(TipChanges(changes.clone())));
        changes.send_modify(|state| state.0 = chain.tip().hash);
        // A tip that settled since `Control::new` read it reached no listener of ours.
        control.settle(chain.tip().hash);
        let worker = Worker {
            control: control.clone(),
            chain: chain.clone(),
            writer: writer.clone(),
            mempool: mempool.clone(),
            searcher,
            payout: payout.map(|a| a.script_pubkey()).unwrap_or_default(),
            block_max_bytes: block_max_bytes(&self.config, &spec),
            block_max_txs: self.config.block_max_txs,
            min_txs: self.config.min_txs,
        };
        ctx.spawn_blocking("search", move || worker.run());
        control.set_generate(self.config.autostart, None);

        let gbt = Arc::new(Gbt {
            chain: chain.clone(),
            writer,
            mempool: mempool.clone(),
            peers: ctx.get::<dyn PeerService>()?,
            spec: spec.clone(),
            changes: changes.clone(),
            block_max_bytes: block_max_bytes(&self.config, &spec),
            block_max_txs: self.config.block_max_txs,
            longpoll_timeout: Duration::from_secs(self.config.longpoll_timeout_secs),
            longpoll_mempool: Duration::from_secs(self.config.longpoll_mempool_secs),
        });
        crate::gbt::register(&ctx, gbt)?;

        let watched = control.clone();
        let summary_chain = chain.clone();
        let cancel = ctx.cancel_token();
        let mut pool_events = ctx.events().subscribe::<MempoolEvent>();
        ctx.spawn("watch", async move {
            let control = watched;
            let mut last_refresh = Instant::now();
            let mut rate_log = tokio::time::interval(RATE_LOG_INTERVAL);
            rate_log.tick().await;
            let mut hashes_at_log = 0;
            let mut blocks_at_log = 0;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    event = pool_events.recv() => match event {
                        Ok(MempoolEvent::Accepted { .. }) | Err(RecvError::Lagged(_))
                            if last_refresh.elapsed() >= TEMPLATE_REFRESH =>
                        {
                            mempool_changed(&changes);
                            last_refresh = Instant::now();
                            control.refresh();
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => mempool_changed(&changes),
                        // The bus outlives every module; only a node without one ends here.
                        Err(RecvError::Closed) => {
                            cancel.cancelled().await;
                            break;
                        }
                    },
                    _ = rate_log.tick() => {
                        let total = control.hashes.load(Ordering::Relaxed);
                        let blocks = control.blocks_found.load(Ordering::Relaxed);
                        let found = blocks - blocks_at_log;
                        if control.is_generating() || found > 0 {
                            let rate = (total - hashes_at_log) as f64 / RATE_LOG_INTERVAL.as_secs_f64();
                            tracing::info!(
                                hashes_per_s = rate as u64,
                                found,
                                blocks_found = blocks,
                                height = summary_chain.tip().height,
                                "mined {found} blocks in the last {} s; tip height {}",
                                RATE_LOG_INTERVAL.as_secs(),
                                summary_chain.tip().height
                            );
                        }
                        hashes_at_log = total;
                        blocks_at_log = blocks;
                    }
                }
            }
            // The search thread watches no token: this ends it.
            control.shutdown();
        });
        crate::rpc::register(&ctx, control.clone(), chain, mempool, spec)?;
        ctx.provide::<dyn MinerService>(control)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_block_size_follows_the_chains_maximum() {
        let mut spec = ChainSpec::clone(&ChainSpec::by_name("regtest").unwrap());
        spec.max_block_size = 500_000;
        let config = MinerConfig::default();
        // A chain with smaller blocks than the built-in ones: the default fits it.
        assert!(check_against(&config, &spec).is_ok());
        assert_eq!(block_max_bytes(&config, &spec), 500_000);
        // A setting is kept as set, and refused above the chain's maximum.
        let set = MinerConfig {
            block_max_bytes: 400_000,
            ..MinerConfig::default()
        };
        assert_eq!(block_max_bytes(&set, &spec), 400_000);
        let over = MinerConfig {
            block_max_bytes: 500_001,
            ..MinerConfig::default()
        };
        let err = check_against(&over, &spec).unwrap_err().to_string();
        assert!(err.contains("500001") && err.contains("500000"), "{err}");
    }
}
