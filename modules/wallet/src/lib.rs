//! The wallet: P2PKH keys in the data directory, addresses, balances, and payments with
//! change and a fee rate.
//!
//! Needs: `dyn ChainView` (the `chain` service) with `[chain] address_index = true` (the
//! wallet finds its confirmed coins through the index instead of rescanning blocks) and
//! `dyn MempoolService` (the `mempool` service: unconfirmed coins, and where payments
//! go). Provides: `dyn WalletService` (the `wallet` service, [`Wallet`]: new addresses,
//! the miner's payout) and the wallet RPC methods.
//!
//! The wallet's transactions (`history.rs`, kept in `<file>.txs.json`) follow the chain
//! through a chain listener, as the mempool does (`follow.rs`), and give Core's
//! `gettransaction`, `listtransactions` and `listsinceblock` (`ledger.rs`: amounts, fees,
//! categories). The key file may be encrypted (`crypto.rs`: Argon2id and
//! ChaCha20-Poly1305); a locked wallet knows its addresses, balances and history but
//! cannot sign.
//!
//! Invariants: the key file is created 0600 and replaced atomically; no private key or
//! passphrase is ever logged or put in an error; once encrypted, no private key is
//! written in the clear. A payment never selects a coin that a pooled
//! transaction already spends, and may select unconfirmed change, so two sends in a row
//! from one address both succeed (the tutorial's failing second send). No output is
//! counted twice: the mempool leaves a confirmed transaction inside the step that
//! connects its block, and the coin listing also lists each outpoint once and skips a
//! pooled transaction it sees confirmed, should a block connect between its reads.
//!
//! Costs: balance and coin selection read the address index once per wallet address, and
//! the UTXO set once per unconfirmed coin. Each block connected costs the chain's writer
//! a pass over the block's outputs and inputs against the wallet's addresses; the history
//! file is written every 144 blocks (what a block confirmed, a restart finds again by
//! rescanning from the last block written) and at once after what no rescan finds (a
//! payment the wallet makes or sees in the pool, an abandon, an imported key's past).
//! Listings read the pool once (payments from elsewhere waiting for a block) and compute
//! each transaction's figures from the history in memory. An unlock costs one Argon2id
//! run (64 MiB).

mod config;
mod crypto;
mod error;
mod follow;
mod history;
mod keystore;
mod ledger;
mod module;
mod rpc;
mod rpc_help;
mod rpc_history;
mod rpc_keys;
mod rpc_send;
mod wallet;

pub use config::WalletConfig;
pub use error::WalletError;
pub use wallet::{Balance, Recipient, Wallet, WalletCoin};
