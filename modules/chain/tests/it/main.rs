//! The chain module's integration tests, over a real chain state in a temporary
//! directory.

mod stream;
