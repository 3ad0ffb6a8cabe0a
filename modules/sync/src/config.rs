//! The `[sync] ` table.

use serde::{Deserialize, Serialize};

/// Block download settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Registered sync strategy (`headers-first`, `poll`).
    pub strategy: String,
    /// `poll`: seconds between asking every peer for its tip (the tutorial's heartbeat).
    pub poll_interval_secs: u64,
    /// `poll`: most blocks requested from the chosen peer at once.
    pub poll_batch: usize,
    /// `headers-first`: the moving window of missing blocks being fetched.
    pub window: usize,
    /// `headers-first`: most blocks in flight from one peer.
    pub max_in_flight_per_peer: usize,
    /// `headers-first`: seconds a requested block may take before another peer is asked.
    pub stall_timeout_secs: u64,
    /// Seconds between progress lines while far behind.
    pub progress_interval_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            strategy: "headers-first".to_string(),
            // The tutorial's heartbeat was ten seconds; five keeps the spirit and halves
            // the wait.
            poll_interval_secs: 5,
            poll_batch: 500,
            // Bitcoin Core's BLOCK_DOWNLOAD_WINDOW.
            window: 1024,
            // Bitcoin Core's MAX_BLOCKS_IN_TRANSIT_PER_PEER.
            max_in_flight_per_peer: 16,
            // Core waits seconds to minutes depending on load; our blocks are small and
            // peers near, so a few seconds is a stall.
            stall_timeout_secs: 5,
            progress_interval_secs: 5,
        }
    }
}
