//! The `chain` module: opens the chain state (`node-chain-state`) in the data directory and
//! provides it as the `chain` service (a read-only [`node_api::ChainView`]) and the
//! `chain-writer` service ([`node_api::ChainWriter`], for sync, relay, the miner and
//! `submitblock`) and the `chain-stream` service ([`node_api::ChainStream`], see
//! [`LocalStream`]: the main chain's changes, ordered and lossless, from a ring of
//! recent steps and the store), publishes its events on the bus after its in-order listeners have
//! seen them, and registers the blockchain RPC methods.
//!
//! Profile table `[chain]` ([`ChainConfig`]): `address_index`, `tx_index` (Core's
//! `-txindex`: txid -> block, kept in each block's write, built in the background for
//! a chain already stored), `block_filter_index` (Core's `-blockfilterindex`: BIP158
//! basic filters and BIP157 headers, kept the same way; `getblockfilter`), `keep_blocks`,
//! `assume_valid`.
//!
//! Metrics: `node_chain_height`, `node_chain_tip_timestamp_seconds`, `node_chain_header_height`, `node_chain_work` (log2),
//! `node_blocks_connected_total`, `node_blocks_disconnected_total`, `node_reorgs_total`,
//! `node_reorg_depth_blocks` and `node_block_connect_seconds` (histograms).
//!
//! Costs: what `node-chain-state` costs; the RPC methods run on the blocking pool.

mod block_stats;
mod filter_index;
mod index_build;
mod maintenance;
mod metrics;
mod module;
mod rpc;
mod rpc_help;
mod rpc_params;
mod stream;
mod unclean;

pub use module::ChainConfig;
pub use stream::{LocalStream, CATCH_UP_CHUNK, RECENT_BLOCKS, RING_BLOCK_IDS};
