//! The `wallet` module.
