//! The `[mempool]` table.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Mempool policy knobs, as an operator tunes them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Registered mempool policy (`node modules` lists them).
    pub policy: String,
    /// Serialized bytes of all entries; beyond it the lowest fee rates are evicted.
    pub max_bytes: usize,
    /// Minimum fee rate to enter and be relayed, satoshis per 1000 bytes.
    pub min_relay_fee_per_kb: u64,
    /// What a replacement of evicted fees must add, satoshis per 1000 bytes: after the
    /// pool trims, its minimum fee is the evicted fee rate plus this (Core's
    /// -incrementalrelayfee).
    pub incremental_relay_fee_per_kb: u64,
    /// Most in-pool ancestors (plus the transaction itself) a transaction may have.
    pub ancestor_limit: usize,
    /// Transactions with unknown parents kept at once.
    pub max_orphans: usize,
    /// Seconds an orphan waits for its parents.
    pub orphan_expiry_secs: u64,
    /// Hours an entry may wait for a block before it is dropped.
    pub expiry_hours: u64,
    /// Save the pool to `mempool.dat` in the data directory at shutdown and load it at
    /// start (Core's -persistmempool).
    pub persist: bool,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            policy: "standard".to_string(),
            // Bitcoin Core keeps 300 MB; our blocks are 1 MB, so 64 MiB is 64 blocks of
            // backlog, plenty for a small chain and modest on a small machine.
            max_bytes: 64 << 20,
            // Bitcoin Core's default minrelaytxfee: 1 sat/byte.
            min_relay_fee_per_kb: 1000,
            // Bitcoin Core's DEFAULT_INCREMENTAL_RELAY_FEE, equal to the relay minimum.
            incremental_relay_fee_per_kb: 1000,
            // Bitcoin Core's default ancestor limit.
            ancestor_limit: 25,
            // Bitcoin Core's default maxorphantx.
            max_orphans: 100,
            // Bitcoin Core's ORPHAN_TX_EXPIRE_TIME: 20 minutes.
            orphan_expiry_secs: 20 * 60,
            // Bitcoin Core's default mempoolexpiry: two weeks.
            // Core's default: a restart keeps the pool.
            persist: true,
            expiry_hours: 14 * 24,
        }
    }
}
