//! The `rpc` module.
