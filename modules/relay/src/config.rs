//! The `[relay]` table.

use serde::{Deserialize, Serialize};

/// Relay settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Registered broadcast behaviour (`announce`, `flood`, `batched`).
    pub broadcast: String,
    /// `batched`: milliseconds between announcements.
    pub batch_interval_ms: u64,
    /// Seconds a requested transaction is not requested again from another announcer.
    pub request_timeout_secs: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            broadcast: "announce".to_string(),
            // The tutorial's heartbeat was ten seconds; batched keeps a shorter one for
            // comparison without stalling tests.
            batch_interval_ms: 2000,
            // Bitcoin Core's GETDATA_TX_INTERVAL is a minute.
            request_timeout_secs: 60,
        }
    }
}
