//! Block download: brings the chain to the most-work chain the peers know.
//!
//! What it does: accepts every `headers` and `block` message a peer sends (announced,
//! pushed or requested) into the chain state, asks for headers when a peer announces a
//! block we cannot place, punishes peers that send invalid data, and leaves the choice of
//! what to request from whom to a registered strategy (`[sync] strategy`):
//! `headers-first` (validate the header chain, then fetch bodies in parallel from several
//! peers in a moving window, re-assigning blocks a peer stalls on, with progress logs) or
//! `poll` (the tutorial's heartbeat made correct: at an interval, ask every peer for
//! headers after our locator and fetch what is missing from one peer).
//!
//! Needs: the `chain` and `peers` services. Provides: nothing; its strategies are
//! registered under the behaviour [`STRATEGY_BEHAVIOUR`].
//!
//! Invariants: blocks are handed to the chain one at a time, in arrival order; the chain
//! stores blocks that arrive before their parents and connects them once the gap fills.
//! A pruned peer (NODE_NETWORK_LIMITED without NODE_NETWORK) is only asked for bodies
//! among its last 288 blocks, as Bitcoin Core does: older ones it would answer `notfound`.
//!
//! Costs: one chain write per block; headers are validated in batches of up to 2,000.

mod config;
mod driver;
mod headers_first;
mod module;
mod poll;
mod strategy;

pub use config::SyncConfig;
pub use strategy::{SyncContext, SyncStrategy, STRATEGY_BEHAVIOUR};
