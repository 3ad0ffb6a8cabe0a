//! Mempool RPC methods, with Bitcoin Core's names, parameters and result fields.

use std::sync::Arc;

use node_api::chain::{serialize, Hash256, OutPoint, Transaction};
use node_api::json::{decode_hex, script_pubkey_json, tx_json};
use node_api::rpc::{amount, codes, Method, Param, RpcError, RpcParams};
use node_api::{
    BoxError, EntryInfo, Later, MempoolError, MempoolService, MethodEntry, RunOn, StartContext,
    WalletService,
};
use serde_json::{json, Map, Value};

use crate::fees::{Mode, MAX_TARGET};
use crate::mempool::Mempool;
use crate::rpc_help;

const NONE: &[Param] = &[];
const VERBOSE: &[Param] = &[Param::optional("verbose")
    .boolean("True for a json object, false for array of transaction ids")
    .default("false")];
const TXID: &[Param] = &[Param::required("txid").hex("The transaction id (must be in mempool)")];
const RELATIVES: &[Param] = &[
    Param::required("txid").hex("The transaction id (must be in mempool)"),
    Param::optional("verbose")
        .boolean("True for a json object, false for array of transaction ids")
        .default("false"),
];
const GETTXOUT: &[Param] = &[
    Param::required("txid").hex("The transaction id"),
    Param::required("n").numeric("vout number"),
    Param::optional("include_mempool")
        .boolean("Whether to include the mempool. Note that an unspent output that is spent in the mempool won't appear.")
        .default("true"),
];
const PRIORITISE: &[Param] = &[
    Param::required("txid").hex("The transaction id"),
    Param::optional("dummy")
        .numeric("API-Compatibility for previous API. Must be zero or null.")
        .default("null"),
    Param::required("fee_delta")
        .numeric("The fee value (in satoshis) to add (or subtract, if negative) when block templates select transactions")
        .example("10000"),
];
const SEND: &[Param] = &[
    Param::required("hexstring").hex("The hex string of the raw transaction"),
    Param::optional("maxfeerate")
        .amount("Reject transactions whose fee rate is higher than the specified value, expressed in coins/kvB")
        .default("0.10"),
];
const GETRAW: &[Param] = &[
    Param::required("txid").hex("The transaction id"),
    Param::optional("verbose")
        .boolean(
            "If false, return a string, otherwise return a json object (1 and 0 also accepted)",
        )
        .default("false"),
    Param::optional("blockhash").hex("The block in which to look for the transaction"),
];
const ESTIMATE: &[Param] = &[
    Param::required("conf_target").numeric("Confirmation target in blocks (1 - 1008)"),
    Param::optional("estimate_mode").string(
        "The fee estimate mode: \"unset\", \"economical\" or \"conservative\" (default economical)",
    ),
];

/// What `getrawtransaction` reads: the pool, the chain through it, and the wallet when
/// one runs (it starts after the pool, because it needs it).
pub(crate) struct RawTransactions {
    mempool: Arc<Mempool>,
    wallet: Later<dyn WalletService>,
}

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Mempool>] = &[
    (
        "getmempoolinfo",
        NONE,
        rpc_help::GETMEMPOOLINFO,
        getmempoolinfo,
    ),
    (
        "getrawmempool",
        VERBOSE,
        rpc_help::GETRAWMEMPOOL,
        getrawmempool,
    ),
    (
        "getmempoolentry",
        TXID,
        rpc_help::GETMEMPOOLENTRY,
        getmempoolentry,
    ),
    (
        "sendrawtransaction",
        SEND,
        rpc_help::SENDRAWTRANSACTION,
        sendrawtransaction,
    ),
    (
        "getmempoolancestors",
        RELATIVES,
        rpc_help::GETMEMPOOLANCESTORS,
        getmempoolancestors,
    ),
    (
        "getmempooldescendants",
        RELATIVES,
        rpc_help::GETMEMPOOLDESCENDANTS,
        getmempooldescendants,
    ),
    ("gettxout", GETTXOUT, rpc_help::GETTXOUT, gettxout),
    (
        "prioritisetransaction",
        PRIORITISE,
        rpc_help::PRIORITISETRANSACTION,
        prioritisetransaction,
    ),
    (
        "estimatesmartfee",
        ESTIMATE,
        "Estimates the fee rate needed for a transaction to confirm within conf_target \
         blocks, from the fee rates and waits of the transactions recent blocks \
         confirmed from this pool: the lowest rate at which 85% (conservative: 95%) of \
         those paying at least as much confirmed in time.\n\nResult:\n{\n  \
         \"feerate\" : n,     (numeric, optional) estimate fee rate in BTC/kvB\n  \
         \"errors\" : [       (json array, optional) Errors encountered during processing\n    \
         \"str\",           (string)\n    ...\n  ],\n  \
         \"blocks\" : n       (numeric) block number where estimate was found\n}",
        estimatesmartfee,
    ),
];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const RAW_METHODS: &[MethodEntry<RawTransactions>] = &[(
    "getrawtransaction",
    GETRAW,
    rpc_help::GETRAWTRANSACTION,
    getrawtransaction,
)];

/// `savemempool`, registered at start and listed in the factory's `methods`.
pub(crate) const SAVEMEMPOOL: Method = Method {
    name: "savemempool",
    params: NONE,
    help: rpc_help::SAVEMEMPOOL,
};

pub(crate) fn register(ctx: &StartContext, mempool: &Arc<Mempool>) -> Result<(), BoxError> {
    ctx.register_methods(mempool, RunOn::Blocking, METHODS)?;
    let raw = Arc::new(RawTransactions {
        mempool: mempool.clone(),
        wallet: ctx.get_later::<dyn WalletService>()?,
    });
    ctx.register_methods(&raw, RunOn::Blocking, RAW_METHODS)
}

/// `savemempool`: writes the pool to `file` now.
pub(crate) fn register_save(
    ctx: &StartContext,
    mempool: &Arc<Mempool>,
    file: std::path::PathBuf,
) -> Result<(), BoxError> {
    let mempool = mempool.clone();
    let file = Arc::new(file);
    ctx.register_method(&SAVEMEMPOOL, move |_| {
        let (mempool, file) = (mempool.clone(), file.clone());
        async move {
            let path = file.clone();
            tokio::task::spawn_blocking(move || crate::persist::save(&mempool, &path))
                .await
                .map_err(|e| RpcError::misc(e.to_string()))?
                .map_err(|e| RpcError::misc(format!("Unable to dump mempool to disk: {e}")))?;
            Ok(json!({"filename": file.display().to_string()}))
        }
    })?;
    Ok(())
}

fn parse_txid(p: &RpcParams, index: usize) -> Result<Hash256, RpcError> {
    let text: String = p.required(index)?;
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "txid must be a 64-character hex string, not '{text}'"
        ))
    })
}

fn getmempoolinfo(m: &Mempool, _: RpcParams) -> Result<Value, RpcError> {
    let info = m.info();
    Ok(json!({
        "loaded": true,
        "size": info.size,
        "bytes": info.bytes,
        "usage": info.bytes,
        "maxmempool": info.max_bytes,
        "orphans": info.orphans,
        "total_fee": amount(m.total_fee()),
        "mempoolminfee": amount(info.min_fee_per_kb),
        "minrelaytxfee": amount(info.min_relay_fee_per_kb),
    }))
}

fn relatives(m: &Mempool, p: RpcParams, ancestors: bool) -> Result<Value, RpcError> {
    let txid = parse_txid(&p, 0)?;
    let verbose: bool = p.optional(1)?.unwrap_or(false);
    let found = m.relatives(&txid, ancestors).ok_or_else(|| {
        RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
    })?;
    if verbose {
        let mut map = Map::new();
        for e in &found {
            map.insert(e.txid.to_string(), entry_json(e, m.fee_delta(&e.txid)));
        }
        Ok(Value::Object(map))
    } else {
        Ok(json!(found
            .iter()
            .map(|e| e.txid.to_string())
            .collect::<Vec<_>>()))
    }
}

fn getmempoolancestors(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    relatives(m, p, true)
}

fn getmempooldescendants(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    relatives(m, p, false)
}

fn gettxout(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let txid = parse_txid(&p, 0)?;
    let vout: i64 = p.required(1)?;
    let vout =
        u32::try_from(vout).map_err(|_| RpcError::invalid_parameter("vout cannot be negative"))?;
    let include_mempool: bool = p.optional(2)?.unwrap_or(true);
    let outpoint = OutPoint { txid, vout };
    let chain = m.chain();
    let tip = chain.tip();
    let found = if include_mempool && m.is_spent(&outpoint) {
        None
    } else if let Some(coin) = chain
        .coin(&outpoint)
        .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?
    {
        Some((
            tip.height - coin.height + 1,
            coin.value,
            coin.script_pubkey,
            coin.coinbase,
        ))
    } else if include_mempool {
        m.get(&txid).and_then(|tx| {
            tx.outputs
                .get(vout as usize)
                .map(|o| (0, o.value, o.script_pubkey.clone(), false))
        })
    } else {
        None
    };
    Ok(match found {
        None => Value::Null,
        Some((confirmations, value, script, coinbase)) => json!({
            "bestblock": tip.hash.to_string(),
            "confirmations": confirmations,
            "value": amount(value),
            "scriptPubKey": script_pubkey_json(&script, &chain.spec()),
            "coinbase": coinbase,
        }),
    })
}

fn prioritisetransaction(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let txid = parse_txid(&p, 0)?;
    if p.optional::<f64>(1)?.is_some_and(|d| d != 0.0) {
        return Err(RpcError::invalid_parameter(
            "Priority is no longer supported, dummy argument to prioritisetransaction must be 0.",
        ));
    }
    let delta: i64 = p.required(2)?;
    m.prioritise(txid, delta);
    Ok(json!(true))
}

fn entry_json(e: &EntryInfo, delta: i64) -> Value {
    json!({
        // No witness data here, so the wtxid is the txid.
        "wtxid": e.txid.to_string(),
        "vsize": e.size,
        "weight": e.size * 4,
        "time": e.time,
        "height": e.height,
        "descendantcount": e.descendant_count,
        "descendantsize": e.descendant_size,
        "ancestorcount": e.ancestor_count,
        "ancestorsize": e.ancestor_size,
        "fees": {
            "base": amount(e.fee),
            "modified": amount(e.fee.saturating_add_signed(delta)),
            "ancestor": amount(e.ancestor_fees),
            "descendant": amount(e.descendant_fees),
        },
        "depends": e.depends.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "spentby": e.spent_by.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
    })
}

fn getrawmempool(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    if p.optional::<bool>(0)?.unwrap_or(false) {
        let mut map = Map::new();
        for e in m.entries() {
            map.insert(e.txid.to_string(), entry_json(&e, m.fee_delta(&e.txid)));
        }
        Ok(Value::Object(map))
    } else {
        Ok(json!(m
            .txids()
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()))
    }
}

fn getmempoolentry(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let txid = parse_txid(&p, 0)?;
    m.entry(&txid)
        .map(|e| entry_json(&e, m.fee_delta(&e.txid)))
        .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Transaction not in mempool"))
}

fn sendrawtransaction(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let tx: Transaction = decode_hex(&text, "TX")?;
    let txid = tx.txid();
    match m.accept(tx) {
        Ok(a) => Ok(json!(a.txid.to_string())),
        // Resubmitting a pooled transaction is not an error, as in Core.
        Err(MempoolError::AlreadyInMempool) => Ok(json!(txid.to_string())),
        Err(e) => Err(e.to_rpc()),
    }
}

/// The wallet's block for `txid`, if a wallet runs and the transaction is one of its
/// confirmed ones.
fn wallet_block(raw: &RawTransactions, txid: &Hash256) -> Option<Hash256> {
    raw.wallet.get()?.transaction_block(txid)
}

/// A confirmed transaction found through the chain's transaction index, with its block;
/// Core's -5 answers when the index is off or does not know it.
fn confirmed(m: &Mempool, txid: &Hash256) -> Result<(Transaction, Option<Hash256>), RpcError> {
    let chain = m.chain();
    let Some(index) = chain.tx_index_info() else {
        return Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "No such mempool transaction. Use -txindex ([chain] tx_index = true) or provide \
             a block hash to enable blockchain transaction queries",
        ));
    };
    let internal =
        |e: node_api::chain::ChainError| RpcError::new(codes::INTERNAL_ERROR, e.to_string());
    let not_found = || {
        RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            if index.synced {
                "No such mempool or blockchain transaction"
            } else {
                "No such mempool transaction. Blockchain transactions are still in the \
                 process of being indexed"
            },
        )
    };
    let location = chain
        .transaction_location(txid)
        .map_err(internal)?
        .ok_or_else(not_found)?;
    // The tip may have moved off the block since the index was read: then it is gone.
    let tx = chain
        .block(&location.block)
        .map_err(internal)?
        .and_then(|block| block.txs.into_iter().nth(location.position as usize))
        .filter(|tx| tx.txid() == *txid)
        .ok_or_else(not_found)?;
    Ok((tx, Some(location.block)))
}

/// Transaction `txid` out of block `hash`, with Core's -5 answers.
fn in_block(
    m: &Mempool,
    hash: Hash256,
    txid: &Hash256,
) -> Result<(Transaction, Option<Hash256>), RpcError> {
    let block = m
        .chain()
        .block(&hash)
        .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?
        .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
    let tx = block
        .txs
        .into_iter()
        .find(|t| t.txid() == *txid)
        .ok_or_else(|| {
            RpcError::new(
                codes::INVALID_ADDRESS_OR_KEY,
                "No such transaction found in the provided block",
            )
        })?;
    Ok((tx, Some(hash)))
}

fn getrawtransaction(raw: &RawTransactions, p: RpcParams) -> Result<Value, RpcError> {
    let m = &*raw.mempool;
    let txid = parse_txid(&p, 0)?;
    // The genesis block holds one transaction, so its merkle root is the coinbase's txid.
    let chain = m.chain();
    let genesis_root = chain
        .hash_at(0)
        .and_then(|h| chain.entry(&h))
        .map(|e| e.header.merkle_root);
    if genesis_root == Some(txid) {
        return Err(RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "The genesis block coinbase is not considered an ordinary transaction and cannot \
             be retrieved",
        ));
    }
    let verbose = match p.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => p.required::<i64>(1)? != 0,
    };
    let given_block = match p.get(2) {
        Some(_) => {
            let hash: String = p.required(2)?;
            Some(hash.parse::<Hash256>().map_err(|_| {
                RpcError::invalid_parameter("blockhash must be a 64-character hex string")
            })?)
        }
        None => None,
    };
    // Core's order: the given block, else the pool, else the wallet's own transactions
    // or (with -txindex) any confirmed one; both name the same block.
    let (tx, block): (Transaction, Option<Hash256>) = match (m.get(&txid), given_block) {
        (_, Some(hash)) => in_block(m, hash, &txid)?,
        (Some(tx), None) => ((*tx).clone(), None),
        (None, None) => match wallet_block(raw, &txid) {
            Some(hash) => in_block(m, hash, &txid)?,
            None => confirmed(m, &txid)?,
        },
    };
    let hex = hex::encode(serialize(&tx));
    if !verbose {
        return Ok(json!(hex));
    }
    let mut v = tx_json(&tx, &m.chain().spec());
    v["hex"] = json!(hex);
    if let Some(hash) = block {
        let chain = m.chain();
        v["blockhash"] = json!(hash.to_string());
        if let Some(entry) = chain.entry(&hash) {
            let main = chain.is_main(&hash);
            // As Core: only a caller that named the block is told whether it is main.
            if p.get(2).is_some() {
                v["in_active_chain"] = json!(main);
            }
            // Signed: the tip may have moved below the block since `is_main` looked.
            v["confirmations"] = json!(if main {
                (i64::from(chain.tip().height) - i64::from(entry.height) + 1).max(0)
            } else {
                0
            });
            v["time"] = json!(entry.header.time);
            v["blocktime"] = json!(entry.header.time);
        }
    }
    Ok(v)
}

fn estimatesmartfee(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let target: i64 = p.required(0)?;
    if !(1..=i64::from(MAX_TARGET)).contains(&target) {
        return Err(RpcError::invalid_parameter(format!(
            "Invalid conf_target, must be between 1 and {MAX_TARGET}"
        )));
    }
    let mode = match p.optional::<String>(1)?.as_deref().map(str::to_ascii_lowercase) {
        None => Mode::Economical,
        Some(m) if m == "unset" || m == "economical" => Mode::Economical,
        Some(m) if m == "conservative" => Mode::Conservative,
        Some(_) => return Err(RpcError::invalid_parameter("Invalid estimate_mode parameter, must be one of: \"unset\", \"economical\", \"conservative\"")),
    };
    // As Core: a one-block target is answered for two blocks, the soonest a transaction
    // sent now can be expected to wait for reliably.
    let blocks = target.max(2) as u32;
    Ok(match m.estimate_fee(blocks, mode) {
        Some(rate) => json!({"feerate": amount(rate), "blocks": blocks}),
        None => json!({
            "errors": ["Insufficient data or no feerate found"],
            "blocks": blocks,
        }),
    })
}
