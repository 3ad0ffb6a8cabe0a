//! The wallet: P2PKH keys in the data directory, addresses, balances, and payments with
//! change and a fee rate.
//!
//! Needs: the `chain` service with `[chain] address_index = true` (the wallet finds its
//! confirmed coins through the index instead of rescanning blocks) and the `mempool`
//! service (unconfirmed coins, and where payments go). Provides: the `wallet` service
//! ([`Wallet`]) and its RPC methods.
//!
//! Invariants: the key file is created 0600 and replaced atomically; no private key is
//! ever logged or put in an error. A payment never selects a coin that a pooled
//! transaction already spends, and may select unconfirmed change, so two sends in a row
//! from one address both succeed (the tutorial's failing second send).
//!
//! Costs: balance and coin selection read the address index once per wallet address.

mod config;
mod error;
mod keystore;
mod module;
mod rpc;
mod wallet;

pub use config::WalletConfig;
pub use error::WalletError;
pub use wallet::{Balance, Wallet, WalletCoin};
