//! Mempool RPC methods, with Bitcoin Core's names, parameters and result fields.

use std::sync::Arc;

use node_api::chain::{serialize, Hash256, Transaction};
use node_api::json::{decode_hex, tx_json};
use node_api::rpc::{amount, codes, Param, RpcError, RpcParams};
use node_api::{
    BoxError, EntryInfo, MempoolError, MempoolService, MethodEntry, RunOn, StartContext,
};
use serde_json::{json, Map, Value};

use crate::mempool::Mempool;

const NONE: &[Param] = &[];
const VERBOSE: &[Param] = &[Param::optional("verbose")];
const TXID: &[Param] = &[Param::required("txid")];
const SEND: &[Param] = &[Param::required("hexstring"), Param::optional("maxfeerate")];
const GETRAW: &[Param] = &[
    Param::required("txid"),
    Param::optional("verbose"),
    Param::optional("blockhash"),
];

pub(crate) fn register(ctx: &StartContext, mempool: &Arc<Mempool>) -> Result<(), BoxError> {
    let methods: &[MethodEntry<Mempool>] = &[
        (
            "getmempoolinfo",
            NONE,
            "State of the transaction memory pool.",
            getmempoolinfo,
        ),
        (
            "getrawmempool",
            VERBOSE,
            "Txids in the pool; with verbose, an object of entries.",
            getrawmempool,
        ),
        ("getmempoolentry", TXID, "One pool entry.", getmempoolentry),
        (
            "sendrawtransaction",
            SEND,
            "Submits a raw transaction (hex) to the pool and the network; returns its txid.",
            sendrawtransaction,
        ),
        (
            "getrawtransaction",
            GETRAW,
            "A transaction from the pool, or from a block given its hash.",
            getrawtransaction,
        ),
    ];
    ctx.register_methods(mempool, RunOn::Blocking, methods)
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
        "mempoolminfee": amount(info.min_relay_fee_per_kb),
        "minrelaytxfee": amount(info.min_relay_fee_per_kb),
    }))
}

fn entry_json(e: &EntryInfo) -> Value {
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
            "modified": amount(e.fee),
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
            map.insert(e.txid.to_string(), entry_json(&e));
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
        .map(|e| entry_json(&e))
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

fn getrawtransaction(m: &Mempool, p: RpcParams) -> Result<Value, RpcError> {
    let txid = parse_txid(&p, 0)?;
    let verbose = match p.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => p.required::<i64>(1)? != 0,
    };
    let (tx, block): (Transaction, Option<Hash256>) = match (m.get(&txid), p.get(2)) {
        (Some(tx), None) => ((*tx).clone(), None),
        (_, Some(_)) => {
            let hash: String = p.required(2)?;
            let hash: Hash256 = hash
                .parse()
                .map_err(|_| RpcError::invalid_parameter("blockhash must be a 64-character hex string"))?;
            let block = m
                .chain()
                .block(&hash)
                .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?
                .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block hash not found"))?;
            let tx = block
                .txs
                .into_iter()
                .find(|t| t.txid() == txid)
                .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block"))?;
            (tx, Some(hash))
        }
        (None, None) => {
            return Err(RpcError::new(
                codes::INVALID_ADDRESS_OR_KEY,
                "No such mempool transaction. Provide a block hash to enable blockchain transaction queries",
            ))
        }
    };
    let hex = hex::encode(serialize(&tx));
    if !verbose {
        return Ok(json!(hex));
    }
    let mut v = tx_json(&tx, m.chain().spec());
    v["hex"] = json!(hex);
    if let Some(hash) = block {
        let chain = m.chain();
        v["blockhash"] = json!(hash.to_string());
        if let Some(entry) = chain.entry(&hash) {
            let main = chain.is_main(&hash);
            v["in_active_chain"] = json!(main);
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
