//! The `[sync]` table: what every strategy shares. A strategy's own settings are in its
//! sub-table (`[sync.poll]`, `[sync.headers-first]`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Block download settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Registered sync strategy (`headers-first`, `poll`).
    pub strategy: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            strategy: "headers-first".to_string(),
        }
    }
}
