//! Blockchain RPC methods, with Bitcoin Core's names, parameters and result fields.

use std::sync::Arc;

use node_api::chain::encode::serialize;
use node_api::chain::pow::difficulty;
use node_api::chain::{ChainError, ChainState, Hash256, Transaction};
use node_api::json::{block_json, decode_hex, header_json, tx_json};
use node_api::rpc::{codes, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use serde_json::{json, Value};

const NONE: &[Param] = &[];
const HEIGHT: &[Param] = &[Param::required("height")];
const HEADER: &[Param] = &[Param::required("blockhash"), Param::optional("verbose")];
const BLOCK: &[Param] = &[Param::required("blockhash"), Param::optional("verbosity")];
const HEXSTRING: &[Param] = &[Param::required("hexstring")];

fn storage(e: ChainError) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, e.to_string())
}

fn parse_hash(params: &RpcParams, index: usize, name: &str) -> Result<Hash256, RpcError> {
    let text: String = params.required(index)?;
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "{name} must be a 64-character hex string, not '{text}'"
        ))
    })
}

/// Registers the methods; each runs against the shared chain state.
pub(crate) fn register(ctx: &StartContext, state: &Arc<ChainState>) -> Result<(), BoxError> {
    let methods: &[MethodEntry<ChainState>] = &[
        (
            "getblockcount",
            NONE,
            "The height of the most-work fully-validated chain.",
            |s, _| Ok(json!(s.tip().height)),
        ),
        (
            "getbestblockhash",
            NONE,
            "The hash of the tip of the most-work fully-validated chain.",
            |s, _| Ok(json!(s.tip().hash.to_string())),
        ),
        (
            "getblockhash",
            HEIGHT,
            "The hash of the main-chain block at a height.",
            getblockhash,
        ),
        (
            "getblockchaininfo",
            NONE,
            "State of the block chain.",
            getblockchaininfo,
        ),
        (
            "getblockheader",
            HEADER,
            "A header: hex when verbose is false, fields when true (default).",
            getblockheader,
        ),
        (
            "getblock",
            BLOCK,
            "A block: verbosity 0 raw hex, 1 fields with txids (default), 2 decoded transactions.",
            getblock,
        ),
        (
            "getdifficulty",
            NONE,
            "The proof-of-work difficulty of the tip, as a multiple of the minimum.",
            |s, _| Ok(json!(difficulty(s.tip().header.bits))),
        ),
        (
            "decoderawtransaction",
            HEXSTRING,
            "The fields of a serialized transaction.",
            decoderawtransaction,
        ),
    ];
    ctx.register_methods(state, RunOn::Inline, methods)
}

fn getblockhash(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let height: i64 = p.required(0)?;
    u32::try_from(height)
        .ok()
        .and_then(|h| s.hash_at(h))
        .map(|h| json!(h.to_string()))
        .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))
}

fn getblockchaininfo(s: &ChainState, _: RpcParams) -> Result<Value, RpcError> {
    let tip = s.tip();
    let (_, headers) = s.best_header();
    let mut info = json!({
        "chain": s.spec().name,
        "blocks": tip.height,
        "headers": headers,
        "bestblockhash": tip.hash.to_string(),
        "difficulty": difficulty(tip.header.bits),
        "time": tip.header.time,
        "mediantime": tip.median_time_past,
        "verificationprogress": if headers == 0 { 1.0 } else { f64::from(tip.height) / f64::from(headers) },
        "initialblockdownload": headers > tip.height,
        "chainwork": format!("{:064x}", tip.chain_work),
        "size_on_disk": s.disk_size(),
        "pruned": s.is_pruned(),
        "addressindex": s.has_address_index(),
        "warnings": "",
    });
    if s.is_pruned() {
        // Core's meaning: the lowest height whose block is stored (genesis aside here).
        let prune_height = s.prune_height();
        info["pruneheight"] = json!(if prune_height == 0 {
            0
        } else {
            prune_height + 1
        });
        info["automatic_pruning"] = json!(s.keep_blocks() > 0);
        info["keep_blocks"] = json!(s.keep_blocks());
    }
    Ok(info)
}

fn header_value(s: &ChainState, hash: &Hash256) -> Result<Value, RpcError> {
    let entry = s
        .entry(hash)
        .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found"))?;
    let confirmations = if s.is_main(hash) {
        i64::from(s.tip().height) - i64::from(entry.height) + 1
    } else {
        -1
    };
    Ok(header_json(
        hash,
        &entry,
        confirmations,
        s.median_time_past(hash),
        s.next_hash(hash),
    ))
}

fn getblockheader(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = parse_hash(&p, 0, "blockhash")?;
    let verbose: bool = p.optional(1)?.unwrap_or(true);
    if !verbose {
        let entry = s
            .entry(&hash)
            .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found"))?;
        return Ok(json!(hex::encode(serialize(&entry.header))));
    }
    header_value(s, &hash)
}

fn getblock(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = parse_hash(&p, 0, "blockhash")?;
    // Core accepts a boolean here too (true = 1, false = 0).
    let verbosity = match p.get(1) {
        None => 1,
        Some(Value::Bool(b)) => u8::from(*b),
        Some(_) => p.required::<u8>(1)?,
    };
    if s.entry(&hash).is_none() {
        return Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Block not found",
        ));
    }
    let block = s
        .block(&hash)
        .map_err(storage)?
        .ok_or_else(|| RpcError::misc("Block not available (pruned data)"))?;
    if verbosity == 0 {
        return Ok(json!(hex::encode(serialize(&block))));
    }
    Ok(block_json(
        &block,
        header_value(s, &hash)?,
        verbosity,
        s.spec(),
    ))
}

fn decoderawtransaction(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let tx: Transaction = decode_hex(&text, "TX")?;
    Ok(tx_json(&tx, s.spec()))
}
