//! The block filter index (`[chain] block_filter_index`, Bitcoin Core's
//! `-blockfilterindex`): `getblockfilter` and its `getindexinfo` entry. Its build over a
//! chain stored before it was turned on is `index_build.rs`'s; once synced, every block's
//! filter is written in the write that connects it (see `filter_index.rs` in
//! `node-chain-state`).

use node_api::chain::ChainError;
use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_chain_state::ChainState;
use serde_json::{json, Value};

use crate::rpc_params::parse_hash;

/// The one filter type there is, as Core names it.
const BASIC: &str = "basic";

/// `getindexinfo`'s name for this index, as Core's.
pub(crate) const INDEX_NAME: &str = "basic block filter index";

pub(crate) const GETBLOCKFILTER_PARAMS: &[Param] = &[
    Param::required("blockhash").hex("The hash of the block"),
    Param::optional("filtertype")
        .string("The type name of the filter")
        .default("basic"),
];

/// `getindexinfo`'s entry for this index, when it is on.
pub(crate) fn index_info(s: &ChainState) -> Option<Value> {
    let info = s.filter_index_info()?;
    Some(json!({"synced": info.synced, "best_block_height": info.best_block_height}))
}

/// Bitcoin Core's `getblockfilter`: the block's BIP158 filter and BIP157 header, with
/// Core's codes and messages for an unknown filter type (-5), an index that is off (-1),
/// an unknown block (-5), a block off the main chain (-5) and a build not there yet (-1).
pub(crate) fn getblockfilter(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = parse_hash(&p, 0, "blockhash")?;
    let filter_type: String = p.optional(1)?.unwrap_or_else(|| BASIC.to_string());
    if filter_type != BASIC {
        return Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Unknown filtertype",
        ));
    }
    let Some(info) = s.filter_index_info() else {
        return Err(RpcError::misc(format!(
            "Index is not enabled for filtertype {filter_type}"
        )));
    };
    if s.entry(&hash).is_none() {
        return Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Block not found",
        ));
    }
    let stored = s.block_filter(&hash).map_err(internal)?;
    match stored {
        Some(stored) => match stored.filter {
            Some(filter) => Ok(json!({
                "filter": hex::encode(&filter.bytes),
                "header": stored.header.to_string(),
            })),
            None => Err(RpcError::misc(
                "Filter not found. The block's data was pruned; its filter header is kept.",
            )),
        },
        None if !s.is_main(&hash) => Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Filter not found. Block was not connected to active chain.",
        )),
        None if !info.synced => Err(RpcError::misc(
            "Filter not found. Block filters are still in the process of being indexed.",
        )),
        None => Err(RpcError::new(
            codes::INTERNAL_ERROR,
            "Filter not found. This error is unexpected and indicates index corruption.",
        )),
    }
}

fn internal(e: ChainError) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, e.to_string())
}
