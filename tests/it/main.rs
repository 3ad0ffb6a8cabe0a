//! Multi-process tests: real `node` binaries on 127.0.0.1, real LMDB files in temporary
//! directories. One test binary, a module per area.

mod chain_methods;
mod chainspec;
mod common;
mod compact;
mod custom_node;
mod datadir_faults;
mod disk_full;
mod docs;
mod events;
mod explorer;
mod fat_blocks;
mod follow_chain;
mod gbt;
mod import;
mod kernel;
mod lab;
mod layering;
mod limits;
mod mempool_min_fee;
mod methods;
mod network;
mod observability;
mod overrides;
mod peers;
mod plugin;
mod readme;
mod reference;
mod rpc;
mod rpc_access;
mod rpc_limits;
mod rpc_requests;
mod surface;
mod tx_requests;
mod wallet_methods;
mod zmq;
