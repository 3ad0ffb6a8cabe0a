//! Blockchain RPC methods, with Bitcoin Core's names, parameters and result fields.

use std::sync::Arc;

use node_api::chain::encode::serialize;
use node_api::chain::pow::difficulty;
use node_api::chain::{Hash256, Transaction};
use node_api::json::{block_json, decode_hex, header_json, tx_json};
use node_api::rpc::{amount, codes, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use node_chain_state::ChainState;
use serde_json::{json, Value};

use crate::rpc_params::{parse_hash, storage};
use crate::{block_stats, rpc_help};

const NONE: &[Param] = &[];
const HEIGHT: &[Param] = &[Param::required("height")
    .numeric("The height index")
    .example("1000")];
const HEADER: &[Param] = &[
    Param::required("blockhash").hex("The block hash"),
    Param::optional("verbose")
        .boolean("true for a json object, false for the hex-encoded data")
        .default("true"),
];
const BLOCK: &[Param] = &[
    Param::required("blockhash").hex("The block hash"),
    Param::optional("verbosity")
        .numeric("0 for hex-encoded data, 1 for a json object, 2 for a json object with transaction data")
        .default("1"),
];
const HEXSTRING: &[Param] = &[Param::required("hexstring").hex("The transaction hex string")];
const CHAINTXSTATS: &[Param] = &[
    Param::optional("nblocks")
        .numeric("Size of the window in number of blocks")
        .default("one month"),
    Param::optional("blockhash")
        .hex("The hash of the block that ends the window")
        .default("chain tip"),
];
const DEPLOYMENT: &[Param] = &[Param::optional("blockhash")
    .hex("The block hash at which to query deployment state")
    .default("hash of current chain tip")];
const INDEX: &[Param] =
    &[Param::optional("index_name").string("Filter results for an index with a specific name")];
const PRUNE: &[Param] = &[Param::required("height")
    .numeric("The block height to prune up to (pruning is automatic here)")];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<ChainState>] = &[
    ("getblockcount", NONE, rpc_help::GETBLOCKCOUNT, |s, _| {
        Ok(json!(s.tip().height))
    }),
    (
        "getbestblockhash",
        NONE,
        rpc_help::GETBESTBLOCKHASH,
        |s, _| Ok(json!(s.tip().hash.to_string())),
    ),
    (
        "getblockhash",
        HEIGHT,
        "Returns hash of block in best-block-chain at height provided.\n\n\
         Result:\n\
         \"hex\"    (string) The block hash",
        getblockhash,
    ),
    (
        "getblockchaininfo",
        NONE,
        rpc_help::GETBLOCKCHAININFO,
        getblockchaininfo,
    ),
    ("getchaininfo", NONE, rpc_help::GETCHAININFO, getchaininfo),
    (
        "getblockheader",
        HEADER,
        rpc_help::GETBLOCKHEADER,
        getblockheader,
    ),
    ("getblock", BLOCK, rpc_help::GETBLOCK, getblock),
    ("getdifficulty", NONE, rpc_help::GETDIFFICULTY, |s, _| {
        Ok(json!(difficulty(s.tip().header.bits)))
    }),
    ("getchaintips", NONE, rpc_help::GETCHAINTIPS, getchaintips),
    (
        "gettxoutsetinfo",
        NONE,
        rpc_help::GETTXOUTSETINFO,
        gettxoutsetinfo,
    ),
    (
        "getchaintxstats",
        CHAINTXSTATS,
        rpc_help::GETCHAINTXSTATS,
        getchaintxstats,
    ),
    (
        "getblockstats",
        block_stats::PARAMS,
        rpc_help::GETBLOCKSTATS,
        block_stats::getblockstats,
    ),
    (
        "getdeploymentinfo",
        DEPLOYMENT,
        rpc_help::GETDEPLOYMENTINFO,
        getdeploymentinfo,
    ),
    ("getindexinfo", INDEX, rpc_help::GETINDEXINFO, getindexinfo),
    (
        "getblockfilter",
        crate::filter_index::GETBLOCKFILTER_PARAMS,
        rpc_help::GETBLOCKFILTER,
        crate::filter_index::getblockfilter,
    ),
    (
        "pruneblockchain",
        PRUNE,
        rpc_help::PRUNEBLOCKCHAIN,
        pruneblockchain,
    ),
    (
        "decoderawtransaction",
        HEXSTRING,
        rpc_help::DECODERAWTRANSACTION,
        decoderawtransaction,
    ),
];

/// Registers the methods; each runs against the shared chain state.
pub(crate) fn register(ctx: &StartContext, state: &Arc<ChainState>) -> Result<(), BoxError> {
    ctx.register_methods(state, RunOn::Inline, METHODS)
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

fn getchaininfo(s: &ChainState, _: RpcParams) -> Result<Value, RpcError> {
    let spec = s.spec();
    let tip = s.tip();
    Ok(json!({
        "chain": spec.name,
        "description": spec.description,
        "genesis": spec.genesis_hash().to_string(),
        "magic": hex::encode(spec.magic),
        "p2p_port": spec.p2p_port,
        "rpc_port": spec.rpc_port,
        "address_version": spec.address_version,
        "wif_version": spec.wif_version,
        "initial_subsidy": amount(spec.initial_subsidy),
        "subsidy": amount(spec.subsidy(tip.height + 1)),
        "halving_interval": spec.halving_interval,
        "coinbase_maturity": spec.coinbase_maturity,
        "target_spacing": spec.target_spacing,
        "retarget_window": spec.retarget_window.unwrap_or(0),
        "pow_limit_bits": format!("{:08x}", spec.pow_limit_bits),
        "max_block_size": spec.max_block_size,
        "default_assume_valid": spec.assume_valid.map_or_else(|| "0".to_string(), |h| h.to_string()),
    }))
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

fn getchaintips(s: &ChainState, _: RpcParams) -> Result<Value, RpcError> {
    Ok(json!(s
        .chain_tips()
        .iter()
        .map(|t| json!({
            "height": t.height,
            "hash": t.hash.to_string(),
            "branchlen": t.branch_len,
            "status": t.status,
        }))
        .collect::<Vec<_>>()))
}

fn gettxoutsetinfo(s: &ChainState, _: RpcParams) -> Result<Value, RpcError> {
    let stats = s.utxo_stats().map_err(storage)?;
    let height = s.entry(&stats.tip).map(|e| e.height).unwrap_or(0);
    Ok(json!({
        "height": height,
        "bestblock": stats.tip.to_string(),
        "txouts": stats.txouts,
        "bogosize": stats.bogosize,
        "hash_serialized": stats.hash.to_string(),
        "total_amount": amount(stats.total_amount),
        "transactions": stats.transactions,
        "disk_size": s.disk_size(),
    }))
}

fn getchaintxstats(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let end = match p.get(1) {
        Some(_) => {
            let hash = parse_hash(&p, 1, "blockhash")?;
            if s.entry(&hash).is_none() {
                return Err(RpcError::new(
                    codes::INVALID_ADDRESS_OR_KEY,
                    "Block not found",
                ));
            }
            if !s.is_main(&hash) {
                return Err(RpcError::invalid_parameter("Block is not in main chain"));
            }
            hash
        }
        None => s.tip().hash,
    };
    let end_entry = s.entry(&end).expect("checked above");
    let height = end_entry.height;
    // Core's default window: one month of blocks at the target spacing.
    let month = 30 * 24 * 60 * 60 / s.spec().target_spacing.max(1);
    let nblocks: i64 = p
        .optional(0)?
        .unwrap_or(i64::from(month.min(height.saturating_sub(1))));
    if nblocks < 0 || (nblocks > 0 && nblocks >= i64::from(height)) {
        return Err(RpcError::invalid_parameter(
            "Invalid block count: should be between 0 and the block's height - 1",
        ));
    }
    let nblocks = nblocks as u32;
    // Transactions up to each height: the stored counts, summed along the main chain.
    let count_through = |h: u32| -> u64 {
        (0..=h)
            .filter_map(|i| s.hash_at(i).and_then(|hash| s.entry(&hash)))
            .map(|e| u64::from(e.tx_count))
            .sum()
    };
    let txcount = count_through(height);
    let mut stats = json!({
        "time": end_entry.header.time,
        "txcount": txcount,
        "window_final_block_hash": end.to_string(),
        "window_final_block_height": height,
        "window_block_count": nblocks,
    });
    if nblocks > 0 {
        let start_height = height - nblocks;
        let start = s
            .hash_at(start_height)
            .and_then(|h| s.entry(&h))
            .expect("a main-chain ancestor");
        let window_txs = txcount - count_through(start_height);
        let interval = i64::from(end_entry.header.time) - i64::from(start.header.time);
        stats["window_tx_count"] = json!(window_txs);
        stats["window_interval"] = json!(interval);
        if interval > 0 {
            stats["txrate"] = json!(window_txs as f64 / interval as f64);
        }
    }
    Ok(stats)
}

fn getdeploymentinfo(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let hash = match p.get(0) {
        Some(_) => parse_hash(&p, 0, "blockhash")?,
        None => s.tip().hash,
    };
    let entry = s
        .entry(&hash)
        .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found"))?;
    Ok(json!({
        "hash": hash.to_string(),
        "height": entry.height,
        "deployments": {},
    }))
}

fn getindexinfo(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let only: Option<String> = p.optional(0)?;
    let mut indexes = serde_json::Map::new();
    if s.has_address_index() {
        // Kept inside each block's write: always synced with the tip.
        indexes.insert(
            "addressindex".to_string(),
            json!({"synced": true, "best_block_height": s.tip().height}),
        );
    }
    if let Some(info) = s.tx_index_info() {
        indexes.insert(
            "txindex".to_string(),
            json!({"synced": info.synced, "best_block_height": info.best_block_height}),
        );
    }
    if let Some(info) = crate::filter_index::index_info(s) {
        indexes.insert(crate::filter_index::INDEX_NAME.to_string(), info);
    }
    if let Some(name) = only {
        indexes.retain(|k, _| *k == name);
    }
    Ok(Value::Object(indexes))
}

fn pruneblockchain(s: &ChainState, p: RpcParams) -> Result<Value, RpcError> {
    let _height: i64 = p.required(0)?;
    if !s.is_pruned() {
        return Err(RpcError::misc(
            "Cannot prune blocks because node is not in prune mode.",
        ));
    }
    Ok(json!(s.prune_height()))
}
