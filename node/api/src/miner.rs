//! The miner as other modules see it.

/// What the miner is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerStatus {
    /// Whether continuous mining is on.
    pub generating: bool,
    /// Search threads.
    pub threads: usize,
    /// The SHA-256 kernel in use (`sha-ni`, `avx2`, ...).
    pub kernel: &'static str,
    /// Hashes per second of the last search long enough to measure.
    pub hashes_per_second: f64,
    /// Hashes computed since start.
    pub hashes: u64,
    /// Blocks this node mined.
    pub blocks_found: u64,
}

/// The miner service.
pub trait MinerService: Send + Sync {
    /// What the miner is doing.
    fn status(&self) -> MinerStatus;
    /// Starts continuous mining (to `payout_script`, or the configured payout) or stops
    /// it.
    fn set_generate(&self, on: bool, payout_script: Option<Vec<u8>>);
}
