//! Multi-process tests: real `node` binaries on 127.0.0.1, real LMDB files in temporary
//! directories. One test binary, a module per area.

mod common;
mod custom_node;
mod gbt;
mod import;
mod kernel;
mod layering;
mod methods;
mod network;
mod peers;
mod plugin;
mod readme;
mod rpc;
mod surface;
