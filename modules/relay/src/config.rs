//! The `[relay]` table: what every broadcast behaviour shares. A behaviour's own
//! settings are in its sub-table (`[relay.batched]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Relay settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Registered broadcast behaviour (`announce`, `flood`, `batched`).
    pub broadcast: String,
    /// Seconds a requested transaction is not requested again from another announcer.
    pub request_timeout_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            broadcast: "announce".to_string(),
            // Bitcoin Core's GETDATA_TX_INTERVAL is a minute.
            request_timeout_secs: 60,
        }
    }
}
