//! The `peers` module.
