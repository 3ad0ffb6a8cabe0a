//! RPC methods that act on the chain state rather than read it, as Bitcoin Core names
//! them: marking a block invalid by hand and taking the mark back, and re-checking the
//! last blocks against what is stored.

use std::sync::Arc;

use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use node_chain_state::{ChainState, Marked};
use serde_json::{json, Value};

use crate::rpc_params::{parse_hash, storage};

const INVALIDATE: &[Param] =
    &[Param::required("blockhash").hex("the hash of the block to mark as invalid")];
const RECONSIDER: &[Param] =
    &[Param::required("blockhash").hex("the hash of the block to reconsider")];
const VERIFY: &[Param] = &[
    Param::optional("checklevel").numeric(
        "default=3, range=0-4: how thorough the block verification is (level 0 reads the \
         blocks, 1 checks their rules, 2 their undo data, 3 disconnects them from the tip, 4 \
         connects them again; each level includes the ones below)",
    ),
    Param::optional("nblocks").numeric("default=6, 0=all: the number of blocks to check"),
];

/// Core's defaults (`DEFAULT_CHECKLEVEL`, `DEFAULT_CHECKBLOCKS`).
const DEFAULT_CHECK_LEVEL: i64 = 3;
const DEFAULT_CHECK_BLOCKS: i64 = 6;

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<ChainState>] = &[
    (
        "invalidateblock",
        INVALIDATE,
        "Permanently marks a block as invalid, as if it violated a consensus rule. Its \
         descendants are marked too; when it is on the main chain, the tip moves back \
         to the most-work valid chain (disconnected transactions return to the \
         mempool). The mark is kept across restarts until reconsiderblock.\n\
         \n\
         Result:\n\
         null    (json null)",
        invalidateblock,
    ),
    (
        "reconsiderblock",
        RECONSIDER,
        "Removes invalidity status of a block, its ancestors and its descendants, \
         reconsider them for activation.\n\
         This can be used to undo the effects of invalidateblock.\n\
         \n\
         Result:\n\
         null    (json null)",
        reconsiderblock,
    ),
    (
        "verifychain",
        VERIFY,
        "Verifies blockchain database.\n\
         \n\
         Result:\n\
         true|false    (boolean) Verification finished successfully. If false, check \
         the log for the reason.",
        verifychain,
    ),
];

/// Registers the methods. They take the chain's writer lock and write (or replay in an
/// aborted write), so they run on the blocking pool.
pub(crate) fn register(ctx: &StartContext, state: &Arc<ChainState>) -> Result<(), BoxError> {
    ctx.register_methods(state, RunOn::Blocking, METHODS)
}

fn marked(outcome: Marked) -> Result<Value, RpcError> {
    match outcome {
        Marked::Done => Ok(Value::Null),
        Marked::UnknownBlock => Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Block not found",
        )),
        Marked::Genesis => Err(RpcError::misc("The genesis block cannot be invalidated")),
    }
}

fn invalidateblock(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = parse_hash(&p, 0, "blockhash")?;
    marked(s.invalidate_block(&hash).map_err(storage)?)
}

fn reconsiderblock(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = parse_hash(&p, 0, "blockhash")?;
    marked(s.reconsider_block(&hash).map_err(storage)?)
}

fn verifychain(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    // Core clamps the level to 0-4 and reads a depth of 0 or less as the whole chain.
    let level = p
        .optional::<i64>(0)?
        .unwrap_or(DEFAULT_CHECK_LEVEL)
        .clamp(0, 4) as u32;
    let nblocks = p.optional::<i64>(1)?.unwrap_or(DEFAULT_CHECK_BLOCKS);
    let nblocks = u32::try_from(nblocks.max(0)).unwrap_or(u32::MAX);
    Ok(json!(s.verify_chain(level, nblocks).map_err(storage)?))
}
