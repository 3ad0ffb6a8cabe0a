//! The `miner` module.
