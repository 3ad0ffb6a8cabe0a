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
    /// Seconds a transaction stays wanted after its first announcement: its announcers
    /// are asked one after the other until it arrives, then it is forgotten until
    /// announced again.
    pub request_timeout_secs: u64,
    /// Milliseconds an announcer asked for a transaction has to deliver it before the
    /// next announcer is asked (at once on `notfound`).
    pub answer_timeout_ms: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            broadcast: "announce".to_string(),
            // Bitcoin Core's GETDATA_TX_INTERVAL is a minute.
            request_timeout_secs: 60,
            // Bitcoin Core waits a minute for the peer asked. An honest peer answers
            // from its mempool at once; 2 s leaves room for a loaded machine and slow
            // links, and a peer that never answers costs a transaction 2 s, not a minute.
            answer_timeout_ms: 2_000,
        }
    }
}
