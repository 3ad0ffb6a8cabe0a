//! What the chain's RPC methods share: a chain error as an RPC error, and a block hash
//! parameter. Apart from the method tables (`rpc.rs`, `block_stats.rs`,
//! `maintenance.rs`), so that they depend on it and not on each other.

use node_api::chain::{ChainError, Hash256};
use node_api::rpc::{codes, RpcError, RpcParams};

/// A chain error as the internal RPC error Core answers with.
pub(crate) fn storage(e: ChainError) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, e.to_string())
}

/// Parameter `index`, a block hash in hex; `name` is for the message.
pub(crate) fn parse_hash(
    params: &RpcParams,
    index: usize,
    name: &str,
) -> Result<Hash256, RpcError> {
    let text: String = params.required(index)?;
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "{name} must be a 64-character hex string, not '{text}'"
        ))
    })
}
