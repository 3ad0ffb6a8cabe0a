//! The `chain` module: opens the chain state (`node-chain`) in the data directory and
//! provides it as the `chain` service (a read-only [`node_api::ChainView`]) and the
//! `chain-writer` service ([`node_api::ChainWriter`], for sync, relay, the miner and
//! `submitblock`), publishes its events on the bus after its in-order listeners have
//! seen them, and registers the blockchain RPC methods.
//!
//! Profile table `[chain]` ([`ChainConfig`]): `address_index`, `keep_blocks`.
//!
//! Costs: what `node-chain`'s state costs; the RPC methods run on the blocking pool.

mod module;
mod rpc;

pub use module::ChainConfig;
