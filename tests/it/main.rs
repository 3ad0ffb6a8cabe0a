//! Multi-process tests: real `node` binaries on 127.0.0.1, real LMDB files in temporary
//! directories. One test binary, a module per area.

mod block_filters;
mod chain_methods;
mod chainspec;
mod common;
mod compact;
mod core_client;
mod custom_node;
mod datadir_faults;
mod docs;
mod events;
mod explorer;
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
mod wallet_methods;
mod zmq;
