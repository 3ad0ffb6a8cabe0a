//! The `sync` module.
