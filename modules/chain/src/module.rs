//! The `chain` module: opens the chain state in the data directory, provides it as the
//! `chain` service, publishes its events on the bus, and registers the blockchain RPC
//! methods.

use node_api::chain::{ChainSpec, Hash256, MIN_KEEP_BLOCKS};
use node_api::{
    async_trait, inventory, service, BoxError, ChainStream, ChainView, ChainWriter, ConfigError,
    Module, ModuleConfig, ModuleFactory, StartContext,
};
use node_chain_state::{ChainOptions, LocalChain};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::metrics::{ChainMetrics, MeteredWriter};
use crate::stream::{LocalStream, RING_BLOCK_IDS};

/// The `[chain]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Keep an index from address to unspent outputs, so `getbalance ADDRESS` and
    /// `listunspent` answer for any address (the tutorial's `balance ADDR`). Off by
    /// default: it costs a second entry per unspent output.
    pub address_index: bool,
    /// Keep an index from txid to the block holding it (Bitcoin Core's `-txindex`), so
    /// `getrawtransaction TXID` finds any confirmed transaction without its block hash.
    /// Off by default: about 70 bytes per confirmed transaction. Turned on for a chain
    /// already stored, it is built in the background while the node serves (a progress
    /// line every 10 s; `getindexinfo` says when it is synced); turned off, it is
    /// dropped. Needs every block: not with `keep_blocks`.
    pub tx_index: bool,
    /// Keep BIP158 basic block filters and BIP157 filter headers of main-chain blocks
    /// (Bitcoin Core's `-blockfilterindex=basic`), for `getblockfilter` and, unless
    /// `[peers] block_filters = false`, for light clients over P2P (BIP157, the
    /// NODE_COMPACT_FILTERS service). Off by default: about 64 bytes plus the filter
    /// (some 20 bits per distinct script) per block. Turned on for a chain already
    /// stored, it is built in the background (progress lines; `getindexinfo` says when it
    /// is synced); turned off, it is dropped. Building it over a stored chain needs every
    /// block's data (not with `keep_blocks`); on a new chain it works with pruning, which
    /// keeps only the headers of pruned blocks.
    pub block_filter_index: bool,
    /// Keep the bodies and undo data of only this many recent main-chain blocks (the UTXO
    /// set and every header stay). 0 keeps every block; otherwise at least 288, Bitcoin
    /// Core's minimum, so the node can still reorganise that deep and serve recent blocks.
    pub keep_blocks: u32,
    /// Block hash (as `getblockhash` prints it) whose ancestors' signatures are not
    /// checked while it is on the best header chain, as Bitcoin Core's `-assumevalid`;
    /// `"0"` checks every signature. Unset: the chain spec's default.
    pub assume_valid: Option<String>,
}

impl ChainConfig {
    /// Checks values serde cannot: `keep_blocks` is 0 or at least [`MIN_KEEP_BLOCKS`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.keep_blocks != 0 && self.keep_blocks < MIN_KEEP_BLOCKS {
            return Err(ConfigError::Invalid {
                key: "keep_blocks".to_string(),
                reason: format!(
                    "{} is below the minimum of {MIN_KEEP_BLOCKS} (0 keeps every block)",
                    self.keep_blocks
                ),
            });
        }
        if self.tx_index && self.keep_blocks != 0 {
            return Err(ConfigError::Invalid {
                key: "tx_index".to_string(),
                reason: "the tx index needs every block, so it cannot be combined with \
                         keep_blocks (Bitcoin Core refuses -txindex with -prune too)"
                    .to_string(),
            });
        }
        if let Some(text) = &self.assume_valid {
            parse_assume_valid(text)?;
        }
        Ok(())
    }

    /// The assumed-valid block for `spec`: the profile's choice, else the spec's default.
    pub fn assume_valid(&self, spec: &ChainSpec) -> Result<Option<Hash256>, ConfigError> {
        match &self.assume_valid {
            None => Ok(spec.assume_valid),
            Some(text) => parse_assume_valid(text),
        }
    }

    /// The chain state's options on `spec`.
    pub fn options(&self, spec: &ChainSpec) -> Result<ChainOptions, ConfigError> {
        Ok(ChainOptions {
            address_index: self.address_index,
            tx_index: self.tx_index,
            block_filter_index: self.block_filter_index,
            keep_blocks: self.keep_blocks,
            assume_valid: self.assume_valid(spec)?,
        })
    }
}

/// `"0"` (off) or a block hash.
fn parse_assume_valid(text: &str) -> Result<Option<Hash256>, ConfigError> {
    if text == "0" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| ConfigError::Invalid {
        key: "assume_valid".to_string(),
        reason: format!("{text:?} is neither a block hash nor \"0\": {e}"),
    })
}

struct ChainModule {
    spec: Arc<ChainSpec>,
    config: ChainConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: ChainConfig = config.parse()?;
    parsed.validate()?;
    // The one place the spec is resolved; every other module reads it from the chain
    // service (`ChainView::spec`).
    let node = config.node();
    let spec = node_api::chain::resolve(&node.chain, &node.chain_base).map_err(|e| {
        ConfigError::Invalid {
            key: "node.chain".to_string(),
            reason: e.to_string(),
        }
    })?;
    Ok(Box::new(ChainModule {
        spec,
        config: parsed,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "chain",
        description: "chain state on LMDB: blocks, index, UTXO set, fork choice by most work",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn ChainView>(), service::<dyn ChainWriter>(), service::<dyn ChainStream>()],
        needs: &[],
        uses: &[],
        methods: &[&crate::rpc::METHODS, &crate::maintenance::METHODS],
        build,
    }
}

#[async_trait]
impl Module for ChainModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let bus = ctx.events().clone();
        let options = self.config.options(&self.spec)?;
        let path = ctx.datadir().join("chain");
        crate::unclean::check_after_unclean_stop(&ctx, &path)?;
        let chain = LocalChain::open(&path, self.spec.clone(), options, move |event| {
            bus.publish(event)
        })?;
        let tip = chain.tip();
        tracing::info!(
            chain = self.spec.name,
            height = tip.height,
            tip = %tip.hash,
            keep_blocks = self.config.keep_blocks,
            prune_height = chain.prune_height(),
            tx_index = self.config.tx_index,
            block_filter_index = self.config.block_filter_index,
            "chain state loaded"
        );
        crate::rpc::register(&ctx, chain.state())?;
        crate::maintenance::register(&ctx, chain.state())?;
        crate::index_build::start_build(&ctx, chain.state(), &crate::index_build::TX_INDEX);
        crate::index_build::start_build(&ctx, chain.state(), &crate::index_build::FILTER_INDEX);
        let metrics = ChainMetrics::new(&chain);
        chain.listen(metrics.clone());
        // Listening before the writer is provided: no block connects before the stream
        // has its starting tip.
        let stream = LocalStream::new(chain.clone(), RING_BLOCK_IDS);
        chain.listen(stream.clone());
        ctx.provide::<dyn ChainStream>(stream)?;
        ctx.provide::<dyn ChainView>(chain.clone())?;
        ctx.provide::<dyn ChainWriter>(Arc::new(MeteredWriter { chain, metrics }))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_blocks_is_zero_or_at_least_the_minimum() {
        for ok in [0, MIN_KEEP_BLOCKS, 10_000] {
            let config = ChainConfig {
                keep_blocks: ok,
                ..ChainConfig::default()
            };
            assert!(config.validate().is_ok(), "{ok}");
        }
        let config = ChainConfig {
            keep_blocks: 100,
            ..ChainConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("keep_blocks") && message.contains("288"),
            "{message}"
        );
    }

    #[test]
    fn the_tx_index_needs_every_block() {
        let config = ChainConfig {
            tx_index: true,
            keep_blocks: MIN_KEEP_BLOCKS,
            ..ChainConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("tx_index"), "{message}");
        let config = ChainConfig {
            tx_index: true,
            ..ChainConfig::default()
        };
        assert!(config.validate().is_ok());
    }
}
