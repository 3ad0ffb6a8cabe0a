//! Wallet RPC methods over the wallet's transactions, with Bitcoin Core's fields:
//! `gettransaction`, `listtransactions`, `listsinceblock`, `getreceivedbyaddress`.

use std::sync::Arc;

use node_api::chain::{serialize, Hash256};
use node_api::rpc::{amount, codes, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use serde_json::{json, Map, Value};

use crate::follow::sync_pool;
use crate::history::{History, WalletTx};
use crate::ledger::{summarize, Category, Detail, Owner, Summary};
use crate::wallet::Wallet;

const GETTRANSACTION: &[Param] = &[
    Param::required("txid").hex("The transaction id"),
    Param::optional("include_watchonly")
        .boolean("Whether to include watch-only addresses in balance calculation and details[] (no watch-only addresses here)"),
    Param::optional("verbose")
        .boolean("Whether to include a `decoded` field containing the decoded transaction (equivalent to RPC decoderawtransaction)"),
];
const LISTTRANSACTIONS: &[Param] = &[
    Param::optional("label")
        .string("If set, should be a valid label name to return only incoming transactions with the specified label, or \"*\" to disable filtering and return all transactions"),
    Param::optional("count").numeric("The number of transactions to return, default 10"),
    Param::optional("skip").numeric("The number of transactions to skip, default 0"),
    Param::optional("include_watchonly")
        .boolean("Include transactions to watch-only addresses (no watch-only addresses here)"),
];
const LISTSINCEBLOCK: &[Param] = &[
    Param::optional("blockhash")
        .hex("If set, the block hash to list transactions since, otherwise list all transactions"),
    Param::optional("target_confirmations")
        .numeric("Return the nth block hash from the main chain, default 1 (the tip); lastblock is the block to give the next call"),
    Param::optional("include_watchonly")
        .boolean("Include transactions to watch-only addresses (no watch-only addresses here)"),
    Param::optional("include_removed")
        .boolean("Show transactions that were removed due to a reorg in the \"removed\" array, default true"),
];
const GETRECEIVED: &[Param] = &[
    Param::required("address").string("The bitcoin address for transactions"),
    Param::optional("minconf")
        .numeric("Only include transactions confirmed at least this many times, default 1"),
];

/// The fields of one listtransactions entry, for help texts.
macro_rules! entry_result {
    () => {
        "    \"address\" : \"str\",   (string, optional) The bitcoin address of the transaction\n    \"category\" : \"str\",  (string) The transaction category: \"send\", \"receive\", \"generate\", \"immature\" or \"orphan\"\n    \"amount\" : n,         (numeric) The amount in BTC, negative for the send category\n    \"label\" : \"str\",     (string, optional) The label of the address, when it is the wallet's\n    \"vout\" : n,           (numeric) the vout value\n    \"fee\" : n,            (numeric, optional) The amount of the fee in BTC, negative; send category only\n    \"confirmations\" : n,  (numeric) The number of confirmations; 0 unconfirmed\n    \"generated\" : true|false, (boolean, optional) Only present if the transaction's only input is a coinbase one\n    \"trusted\" : true|false, (boolean, optional) Whether we consider the transaction to be trusted and safe to spend from; only present when unconfirmed\n    \"blockhash\" : \"hex\",  (string, optional) The block hash containing the transaction\n    \"blockheight\" : n,    (numeric, optional) The block height containing the transaction\n    \"blockindex\" : n,     (numeric, optional) The index of the transaction in the block that includes it\n    \"blocktime\" : xxx,    (numeric, optional) The block time expressed in UNIX epoch time\n    \"txid\" : \"hex\",       (string) The transaction id\n    \"wtxid\" : \"hex\",      (string) The hash of serialized transaction, including witness data\n    \"walletconflicts\" : [ (json array) Conflicting transaction ids (none are tracked)\n    ],\n    \"time\" : xxx,         (numeric) The transaction time expressed in UNIX epoch time\n    \"timereceived\" : xxx, (numeric) The time received expressed in UNIX epoch time\n    \"bip125-replaceable\" : \"str\", (string) \"no\": replacement is not supported\n    \"abandoned\" : true|false (boolean, optional) 'true' if the transaction has been abandoned; send category only"
    };
}

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Wallet>] = &[
    (
        "gettransaction",
        GETTRANSACTION,
        "Get detailed information about in-wallet transaction <txid>\n\nResult:\n{\n  \"amount\" : n,          (numeric) The amount in BTC: received, or sent (negative) not counting the fee\n  \"fee\" : n,             (numeric, optional) The amount of the fee in BTC, negative; only for transactions from the wallet\n  \"confirmations\" : n,   (numeric) The number of confirmations; 0 unconfirmed\n  \"generated\" : true|false, (boolean, optional) Only present if the transaction's only input is a coinbase one\n  \"trusted\" : true|false, (boolean, optional) Only present when unconfirmed\n  \"blockhash\" : \"hex\",   (string, optional) The block hash containing the transaction\n  \"blockheight\" : n,     (numeric, optional) The block height containing the transaction\n  \"blockindex\" : n,      (numeric, optional) The index of the transaction in the block that includes it\n  \"blocktime\" : xxx,     (numeric, optional) The block time expressed in UNIX epoch time\n  \"txid\" : \"hex\",        (string) The transaction id\n  \"wtxid\" : \"hex\",       (string) The hash of serialized transaction, including witness data\n  \"walletconflicts\" : [  (json array) Conflicting transaction ids\n  ],\n  \"time\" : xxx,          (numeric) The transaction time expressed in UNIX epoch time\n  \"timereceived\" : xxx,  (numeric) The time received expressed in UNIX epoch time\n  \"bip125-replaceable\" : \"str\", (string) \"no\"\n  \"details\" : [          (json array)\n    {\n      \"address\" : \"str\",   (string, optional) The bitcoin address involved in the transaction\n      \"category\" : \"str\",  (string) \"send\", \"receive\", \"generate\", \"immature\" or \"orphan\"\n      \"amount\" : n,         (numeric) The amount in BTC\n      \"label\" : \"str\",     (string, optional) A comment for the address/transaction, if any\n      \"vout\" : n,           (numeric) the vout value\n      \"fee\" : n,            (numeric, optional) The amount of the fee in BTC, negative; send category only\n      \"abandoned\" : true|false (boolean, optional) 'true' if the transaction has been abandoned; send category only\n    },\n    ...\n  ],\n  \"hex\" : \"str\",         (string) Raw data for transaction\n  \"decoded\" : {...}       (json object, optional) The decoded transaction (only with verbose)\n}",
        gettransaction,
    ),
    (
        "listtransactions",
        LISTTRANSACTIONS,
        concat!(
            "Returns up to 'count' most recent transactions skipping the first 'skip' transactions, oldest first; one entry per address and category.\n\nResult:\n[                     (json array)\n  {\n",
            entry_result!(),
            "\n  },\n  ...\n]"
        ),
        listtransactions,
    ),
    (
        "listsinceblock",
        LISTSINCEBLOCK,
        "Get all transactions in blocks since block [blockhash], or all transactions if omitted; those of blocks that left the main chain since are in \"removed\".\n\nResult:\n{\n  \"transactions\" : [   (json array) entries as listtransactions gives them\n    ...\n  ],\n  \"removed\" : [        (json array, optional) entries of transactions in blocks that left the main chain since blockhash\n    ...\n  ],\n  \"lastblock\" : \"hex\"  (string) The hash of the block (target_confirmations-1) from the best block on the main chain, to pass to the next call\n}",
        listsinceblock,
    ),
    (
        "getreceivedbyaddress",
        GETRECEIVED,
        "Returns the total amount received by the given address in transactions with at least minconf confirmations (immature coinbase outputs left out).\n\nResult:\nn    (numeric) The total amount in BTC received at this address.",
        getreceivedbyaddress,
    ),
];

pub(crate) fn register(ctx: &StartContext, wallet: &Arc<Wallet>) -> Result<(), BoxError> {
    ctx.register_methods(wallet, RunOn::Blocking, METHODS)
}

/// A signed amount of satoshis with 8 decimals, as Core prints amounts.
fn signed_amount(sats: i64) -> Value {
    let magnitude = amount(sats.unsigned_abs());
    if sats >= 0 {
        return magnitude;
    }
    let text = format!("-{magnitude}");
    Value::Number(text.parse().expect("a negative decimal is a JSON number"))
}

fn parse_txid(p: &RpcParams) -> Result<Hash256, RpcError> {
    let text: String = p.required(0)?;
    text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "txid must be of length 64 (not {}, for '{text}')",
            text.len()
        ))
    })
}

/// What the history and the figures need, read once per call.
struct View {
    owner: Owner,
    tip_height: u32,
    maturity: u32,
}

impl View {
    fn new(w: &Wallet) -> View {
        View {
            owner: w.owner(),
            tip_height: w.chain.tip().height,
            maturity: w.chain.spec().coinbase_maturity,
        }
    }

    fn summary(&self, wtx: &WalletTx, history: &History) -> Summary {
        summarize(wtx, history, &self.owner, self.tip_height, self.maturity)
    }
}

/// The fields every listing of a transaction carries (Core's WalletTxToJSON).
fn tx_fields(wtx: &WalletTx, summary: &Summary, out: &mut Map<String, Value>) {
    out.insert("confirmations".into(), json!(summary.confirmations));
    if wtx.tx.is_coinbase() {
        out.insert("generated".into(), json!(true));
    }
    if summary.confirmations == 0 {
        // Core trusts an unconfirmed transaction of its own that is not abandoned.
        let trusted = !wtx.abandoned && summary.fee.is_some();
        out.insert("trusted".into(), json!(trusted));
    }
    if let Some(b) = wtx.block {
        out.insert("blockhash".into(), json!(b.hash.to_string()));
        out.insert("blockheight".into(), json!(b.height));
        out.insert("blockindex".into(), json!(b.index));
        out.insert("blocktime".into(), json!(b.time));
    }
    let txid = wtx.tx.txid().to_string();
    out.insert("txid".into(), json!(txid));
    // No witness data here: the wtxid is the txid.
    out.insert("wtxid".into(), json!(txid));
    out.insert("walletconflicts".into(), json!([]));
    // Core's smart time: when the wallet saw it, or its block's time if earlier (a
    // transaction found by a rescan).
    let time = match wtx.block {
        Some(b) => wtx.received.min(u64::from(b.time)),
        None => wtx.received,
    };
    out.insert("time".into(), json!(time));
    out.insert("timereceived".into(), json!(wtx.received));
    out.insert("bip125-replaceable".into(), json!("no"));
}

fn detail_fields(d: &Detail, abandoned: bool, out: &mut Map<String, Value>) {
    if let Some(address) = d.address {
        out.insert("address".into(), json!(address.to_string()));
    }
    out.insert("category".into(), json!(d.category.name()));
    out.insert("amount".into(), signed_amount(d.amount));
    if let Some(label) = &d.label {
        out.insert("label".into(), json!(label));
    }
    out.insert("vout".into(), json!(d.vout));
    if let Some(fee) = d.fee {
        out.insert("fee".into(), signed_amount(fee));
    }
    if d.category == Category::Send {
        out.insert("abandoned".into(), json!(abandoned));
    }
}

/// The listtransactions entries of `wtx`, one per detail, in the details' order.
fn entries(wtx: &WalletTx, summary: &Summary) -> Vec<Value> {
    summary
        .details
        .iter()
        .map(|d| {
            let mut entry = Map::new();
            detail_fields(d, wtx.abandoned, &mut entry);
            tx_fields(wtx, summary, &mut entry);
            Value::Object(entry)
        })
        .collect()
}

fn gettransaction(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let txid = parse_txid(&p)?;
    let verbose: bool = p.optional(2)?.unwrap_or(false);
    sync_pool(w).map_err(|e| e.to_rpc())?;
    let view = View::new(w);
    let history = w.history();
    let wtx = history.txs.get(&txid).ok_or_else(|| {
        RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            "Invalid or non-wallet transaction id",
        )
    })?;
    let summary = view.summary(wtx, &history);
    let mut out = Map::new();
    out.insert("amount".into(), signed_amount(summary.amount));
    if let Some(fee) = summary.fee {
        out.insert("fee".into(), signed_amount(fee));
    }
    tx_fields(wtx, &summary, &mut out);
    let details: Vec<Value> = summary
        .details
        .iter()
        .map(|d| {
            let mut entry = Map::new();
            detail_fields(d, wtx.abandoned, &mut entry);
            Value::Object(entry)
        })
        .collect();
    out.insert("details".into(), json!(details));
    out.insert("hex".into(), json!(hex::encode(serialize(&*wtx.tx))));
    if verbose {
        out.insert(
            "decoded".into(),
            node_api::json::tx_json(&wtx.tx, &w.chain.spec()),
        );
    }
    Ok(Value::Object(out))
}

fn listtransactions(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let label: String = p.optional(0)?.unwrap_or_else(|| "*".to_string());
    let count: i64 = p.optional(1)?.unwrap_or(10);
    let skip: i64 = p.optional(2)?.unwrap_or(0);
    if count < 0 {
        return Err(RpcError::invalid_parameter("Negative count"));
    }
    if skip < 0 {
        return Err(RpcError::invalid_parameter("Negative from"));
    }
    sync_pool(w).map_err(|e| e.to_rpc())?;
    let view = View::new(w);
    let history = w.history();
    let mut all: Vec<Value> = Vec::new();
    for wtx in history.in_order() {
        let summary = view.summary(wtx, &history);
        for (detail, entry) in summary.details.iter().zip(entries(wtx, &summary)) {
            // As Core: a label selects what was received with it; sends only unfiltered.
            let selected = label == "*"
                || (detail.category != Category::Send
                    && detail.label.as_deref() == Some(label.as_str()));
            if selected {
                all.push(entry);
            }
        }
    }
    // The newest `skip` left out, then the `count` before them, oldest first (Core).
    let end = all.len().saturating_sub(skip as usize);
    let begin = end.saturating_sub(count as usize);
    Ok(Value::Array(all[begin..end].to_vec()))
}

fn listsinceblock(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let chain = &w.chain;
    let since: Option<Hash256> = match p.optional::<String>(0)? {
        None => None,
        Some(text) if text.is_empty() => None,
        Some(text) => Some(text.parse().map_err(|_| {
            RpcError::invalid_parameter(format!(
                "blockhash must be of length 64 (not {})",
                text.len()
            ))
        })?),
    };
    let target: i64 = p.optional(1)?.unwrap_or(1);
    if target < 1 {
        return Err(RpcError::invalid_parameter("Invalid parameter"));
    }
    let include_removed: bool = p.optional(3)?.unwrap_or(true);
    // The main-chain height the listing starts after, and the blocks that left the
    // main chain between the given block and it.
    let mut fork_height: Option<u32> = None;
    let mut left_main: Vec<Hash256> = Vec::new();
    if let Some(hash) = since {
        let mut cursor = hash;
        loop {
            let entry = chain
                .entry(&cursor)
                .ok_or_else(|| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Block not found"))?;
            if chain.is_main(&cursor) {
                fork_height = Some(entry.height);
                break;
            }
            left_main.push(cursor);
            cursor = entry.header.prev_block;
        }
    }
    sync_pool(w).map_err(|e| e.to_rpc())?;
    let view = View::new(w);
    let history = w.history();
    let mut transactions = Vec::new();
    for wtx in history.in_order() {
        let after = match (wtx.block, fork_height) {
            (Some(b), Some(fork)) => b.height > fork,
            _ => true,
        };
        if after {
            let summary = view.summary(wtx, &history);
            transactions.extend(entries(wtx, &summary));
        }
    }
    let mut removed = Vec::new();
    if include_removed {
        for hash in &left_main {
            let block = chain
                .block(hash)
                .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, e.to_string()))?;
            let Some(block) = block else { continue };
            for tx in &block.txs {
                if let Some(wtx) = history.txs.get(&tx.txid()) {
                    // Still unconfirmed (or confirmed elsewhere): listed as it is now.
                    let summary = view.summary(wtx, &history);
                    removed.extend(entries(wtx, &summary));
                }
            }
        }
    }
    let tip = chain.tip();
    let last_height = (i64::from(tip.height) + 1 - target).max(0) as u32;
    let lastblock = chain.hash_at(last_height).unwrap_or(tip.hash);
    let mut out = json!({
        "transactions": transactions,
        "lastblock": lastblock.to_string(),
    });
    if include_removed {
        out["removed"] = json!(removed);
    }
    Ok(out)
}

fn getreceivedbyaddress(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let address = w
        .chain_spec_address(&text)
        .map_err(|_| RpcError::new(codes::INVALID_ADDRESS_OR_KEY, "Invalid Bitcoin address"))?;
    let minconf: u32 = p.optional(1)?.unwrap_or(1);
    if !w.is_mine(&address) {
        return Err(RpcError::new(
            codes::WALLET_ERROR,
            "Address not found in wallet",
        ));
    }
    sync_pool(w).map_err(|e| e.to_rpc())?;
    let view = View::new(w);
    let history = w.history();
    let script = address.script_pubkey();
    let mut total = 0u64;
    for wtx in history.txs.values() {
        let summary = view.summary(wtx, &history);
        // Immature coinbase outputs are not received yet (Core's default).
        let immature = wtx.tx.is_coinbase() && summary.confirmations <= view.maturity;
        if immature || summary.confirmations < minconf {
            continue;
        }
        total += wtx
            .tx
            .outputs
            .iter()
            .filter(|o| o.script_pubkey == script)
            .map(|o| o.value)
            .sum::<u64>();
    }
    Ok(amount(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_amounts_print_with_eight_decimals() {
        assert_eq!(signed_amount(-1_000_000).to_string(), "-0.01000000");
        assert_eq!(signed_amount(250).to_string(), "0.00000250");
        assert_eq!(signed_amount(0).to_string(), "0.00000000");
    }
}
