//! The mempool: transactions waiting for a block.
//!
//! What it does: validates transactions against the chain's UTXO set plus the outputs of
//! unconfirmed parents (so a second spend from one address works before a block confirms
//! the first), applies a registered policy (`[mempool] policy`, `standard` by default;
//! a plugin adds one for [`node_api::POLICY`]), keeps first-seen on conflicts, holds
//! transactions with unknown parents in a bounded orphan pool until the parents arrive,
//! evicts the lowest fee rate when full (raising its rolling minimum fee to what it
//! evicted plus the incremental relay fee, decaying after blocks as Core's, see
//! `min_fee.rs`; cheaper transactions get "mempool min fee not met"), expires old entries, and selects the best
//! transactions for a block template (counting `prioritisetransaction` deltas). With
//! `[mempool] persist` (the default) the pool is saved to `mempool.dat` at shutdown and
//! admitted again at start (`persist.rs`).
//!
//! It follows the chain through a [`node_api::ChainListener`], called in order inside
//! the step that connects or disconnects a block, not through the event bus: when
//! `accept_block` returns, what the block confirmed or conflicted is gone from the pool
//! and what a reorganisation disconnected is back (re-checked with every other entry
//! against the new tip), so the next template, balance or listing agrees with one tip.
//!
//! Needs: `dyn ChainView` (the `chain` service). Uses: `dyn WalletService` (the `wallet`
//! service, looked up at each `getrawtransaction`: the block of a confirmed wallet
//! transaction; the wallet needs the pool, so it starts later). Provides: `dyn
//! MempoolService` (the `mempool` service, [`Mempool`]), its RPC methods, and
//! [`node_api::MempoolEvent`]s on the bus (what relay announces). Tasks: `expiry`, once
//! a minute.
//!
//! Invariants: every entry spends coins that exist in the chain at the pool's tip or in
//! an earlier entry, and that no other entry spends; an entry's in-pool ancestors number
//! at most the ancestor limit. An event that does not follow from the tip the pool last
//! saw makes it re-check every entry at the end of that step instead of drifting.
//!
//! Metrics: `node_mempool_transactions`, `node_mempool_bytes`,
//! `node_mempool_accepted_total`, `node_mempool_rejected_total{reason}` (a fixed set of
//! reasons), `node_mempool_evicted_total` (size limit and expiry).
//!
//! Fee estimation (`estimatesmartfee`, `fees.rs`): the pool records the fee rate of each
//! entry a block confirms and how many blocks it waited since admission; the estimate
//! for N blocks is the lowest rate at which 85% (95% conservative) of the recent
//! transactions paying at least that much confirmed within N blocks.
//!
//! Costs: one signature check per input on admission; block selection sorts the pool.
//! Following a block costs the chain's writer a pass over the block's transactions; a
//! reorganisation costs it a re-check of every entry's signatures.

mod config;
mod fees;
mod mempool;
mod metrics;
mod min_fee;
mod module;
mod orphans;
mod persist;
mod policy;
mod pool;
mod rpc;
mod rpc_help;

pub use config::MempoolConfig;
pub use mempool::Mempool;
