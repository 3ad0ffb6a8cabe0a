//! The wallet: P2PKH keys in the data directory, addresses, balances, and payments with
//! change and a fee rate.
//!
//! Needs: `dyn ChainView` (the `chain` service) with `[chain] address_index = true` (the
//! wallet finds its confirmed coins through the index instead of rescanning blocks) and
//! `dyn MempoolService` (the `mempool` service: unconfirmed coins, and where payments
//! go). Provides: `dyn WalletService` (the `wallet` service, [`Wallet`]: new addresses,
//! the miner's payout) and the wallet RPC methods.
//!
//! Invariants: the key file is created 0600 and replaced atomically; no private key is
//! ever logged or put in an error. A payment never selects a coin that a pooled
//! transaction already spends, and may select unconfirmed change, so two sends in a row
//! from one address both succeed (the tutorial's failing second send). No output is
//! counted twice: the mempool leaves a confirmed transaction inside the step that
//! connects its block, and the coin listing also lists each outpoint once and skips a
//! pooled transaction it sees confirmed, should a block connect between its reads.
//!
//! Costs: balance and coin selection read the address index once per wallet address, and
//! the UTXO set once per unconfirmed coin.

mod config;
mod error;
mod keystore;
mod module;
mod rpc;
mod wallet;

pub use config::WalletConfig;
pub use error::WalletError;
pub use wallet::{Balance, Wallet, WalletCoin};
