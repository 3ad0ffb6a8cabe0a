//! The `relay` module.
