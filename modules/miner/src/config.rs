//! The `[miner]` table.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Mining policy, as an operator tunes it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MinerConfig {
    /// Mine from start; false mines only on `generatetoaddress` or `setgenerate true`.
    pub autostart: bool,
    /// Search threads; 0 uses every core.
    pub threads: usize,
    /// Most bytes of a block, header and coinbase included; never above the chain's
    /// maximum. 0 (the default) is the chain's `max_block_size`, as Bitcoin Core's
    /// default follows the consensus maximum.
    pub block_max_bytes: usize,
    /// Most transactions of a block besides the coinbase; 0 means no limit.
    pub block_max_txs: usize,
    /// Wait for this many pooled transactions before mining (0 mines empty blocks; the
    /// tutorial mined when its pool was full).
    pub min_txs: usize,
    /// Where the coinbase pays; empty asks the wallet for a new address.
    pub payout_address: String,
    /// A `getblocktemplate` long poll answers after this many seconds at the latest,
    /// with a fresh template, when neither the tip nor the mempool changed.
    pub longpoll_timeout_secs: u64,
    /// Mempool changes end a long poll only once it has waited this many seconds (a new
    /// tip ends it at once), so a busy pool does not turn long polling into polling.
    pub longpoll_mempool_secs: u64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            autostart: true,
            threads: 0,
            // The chain's own maximum, whatever its spec says (a chain spec file may set
            // a smaller one than the built-in chains' 1,000,000).
            block_max_bytes: 0,
            block_max_txs: 0,
            min_txs: 0,
            payout_address: String::new(),
            // Below the 90-120 s HTTP timeouts of common mining software, so a waiting
            // miner never sees its request time out.
            longpoll_timeout_secs: 60,
            // Core looks at the mempool once a minute during a long poll; fees arriving
            // in between are worth less than the round trip. Shorter here, since this
            // chain's blocks may come faster.
            longpoll_mempool_secs: 10,
        }
    }
}
