//! The `mempool` module.
