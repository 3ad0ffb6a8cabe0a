//! The mempool: transactions waiting for a block.
//!
//! What it does: validates transactions against the chain's UTXO set plus the outputs of
//! unconfirmed parents (so a second spend from one address works before a block confirms
//! the first), applies a registered policy (`[mempool] policy`, `standard` by default),
//! keeps first-seen on conflicts, holds transactions with unknown parents in a bounded
//! orphan pool until the parents arrive, evicts the lowest fee rate when full, expires old
//! entries, removes what blocks confirm and re-admits what a reorganisation disconnects.
//! The miner asks it for the best set of transactions for a block.
//!
//! Needs: the `chain` service and its events. Provides: the `mempool` service
//! ([`Mempool`]) and [`MempoolEvent`]s on the bus (what relay announces).
//!
//! Invariants: every entry spends coins that exist in the chain or in an earlier entry and
//! that no other entry spends; an entry's in-pool ancestors number at most the ancestor
//! limit.
//!
//! Costs: one signature check per input on admission; block selection sorts the pool.

mod config;
mod error;
mod mempool;
mod module;
mod orphans;
mod policy;
mod pool;
mod rpc;

pub use config::MempoolConfig;
pub use error::MempoolError;
pub use mempool::{Accepted, Mempool, MempoolEvent, MempoolInfo, SelectedTx};
pub use policy::{MempoolPolicy, POLICY_BEHAVIOUR};
pub use pool::EntryInfo;
