//! The `[miner]` table.

use serde::{Deserialize, Serialize};

/// Mining policy, as an operator tunes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinerConfig {
    /// Mine from start; false mines only on `generatetoaddress` or `setgenerate true`.
    pub autostart: bool,
    /// Search threads; 0 uses every core.
    pub threads: usize,
    /// Most bytes of a block, header and coinbase included; never above the chain's
    /// maximum.
    pub block_max_bytes: usize,
    /// Most transactions of a block besides the coinbase; 0 means no limit.
    pub block_max_txs: usize,
    /// Wait for this many pooled transactions before mining (0 mines empty blocks; the
    /// tutorial mined when its pool was full).
    pub min_txs: usize,
    /// Where the coinbase pays; empty asks the wallet for a new address.
    pub payout_address: String,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            autostart: true,
            threads: 0,
            // The chain specs' maximum block size.
            block_max_bytes: 1_000_000,
            block_max_txs: 0,
            min_txs: 0,
            payout_address: String::new(),
        }
    }
}
