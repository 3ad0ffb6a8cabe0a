//! The `[wallet]` table.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Wallet settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WalletConfig {
    /// Key file, relative to the data directory.
    pub file: String,
    /// Fee rate of payments, satoshis per 1000 bytes.
    pub fee_rate_per_kb: u64,
}

impl Default for WalletConfig {
    fn default() -> Self {
        WalletConfig {
            file: "wallet.json".to_string(),
            // Twice the default minimum relay fee, so payments relay with room to spare.
            fee_rate_per_kb: 2000,
        }
    }
}
