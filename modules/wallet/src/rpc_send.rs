//! Wallet RPC methods that pay or change how payments are made, with Bitcoin Core's
//! names and codes: `sendmany`, `settxfee`, `abandontransaction`.

use std::sync::Arc;

use node_api::chain::Hash256;
use node_api::rpc::{codes, parse_amount, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use serde_json::{json, Map, Value};

use crate::wallet::{Recipient, Wallet};

const SENDMANY: &[Param] = &[
    Param::required("dummy").string("Must be set to \"\" for backwards compatibility."),
    Param::required("amounts")
        .object("The addresses and amounts: {\"address\": amount, ...}, the amount in BTC"),
    Param::optional("minconf").numeric(
        "Only spend coins confirmed at least this many times (default 0: unconfirmed change too)",
    ),
    Param::optional("comment").string("A comment (not kept)"),
    Param::optional("subtractfeefrom")
        .array("The addresses the fee is equally deducted from; none: the sender pays the fee"),
];
const SETTXFEE: &[Param] = &[Param::required("amount")
    .amount("The transaction fee rate in BTC/kvB; 0 restores the configured rate")];
const ABANDON: &[Param] = &[Param::required("txid").hex("The transaction id")];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Wallet>] = &[
    ("sendmany", SENDMANY, "Send to multiple addresses in one transaction, at the wallet's fee rate (settxfee).\n\nResult:\n\"hex\"    (string) The transaction id for the send. Only 1 transaction is created regardless of the number of addresses.", sendmany),
    ("settxfee", SETTXFEE, "Set the transaction fee rate in BTC/kvB for this wallet's payments (until restart). Overrides the [wallet] fee_rate_per_kb setting; 0 restores it.\n\nResult:\ntrue|false    (boolean) Returns true if successful", settxfee),
    ("abandontransaction", ABANDON, "Mark in-wallet transaction <txid> as abandoned: its inputs may be spent again. Only for a transaction that is neither confirmed nor in the mempool; its in-wallet descendants are abandoned too.\n\nResult:\nnull    (json null)", abandontransaction),
];

pub(crate) fn register(ctx: &StartContext, wallet: &Arc<Wallet>) -> Result<(), BoxError> {
    ctx.register_methods(wallet, RunOn::Blocking, METHODS)
}

fn sendmany(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    if let Some(dummy) = p.get(0) {
        if dummy.as_str() != Some("") {
            return Err(RpcError::invalid_parameter(
                "Dummy value must be set to \"\"",
            ));
        }
    }
    let amounts: Map<String, Value> = p.required(1)?;
    let minconf: u32 = p.optional(2)?.unwrap_or(0);
    let subtract: Vec<String> = p.optional(4)?.unwrap_or_default();
    if amounts.is_empty() {
        return Err(RpcError::invalid_parameter(
            "Transaction must have at least one recipient",
        ));
    }
    // Core also refuses an address given twice (-8); a JSON object reaches us with
    // each key once (the request parser keeps the last), and an address has one text,
    // so a recipient cannot repeat here.
    let mut recipients = Vec::with_capacity(amounts.len());
    for (text, value) in &amounts {
        let address = w.chain_spec_address(text).map_err(|_| {
            RpcError::new(
                codes::INVALID_ADDRESS_OR_KEY,
                format!("Invalid Bitcoin address: {text}"),
            )
        })?;
        let sats = parse_amount(value)?;
        if sats == 0 {
            return Err(RpcError::new(codes::TYPE_ERROR, "Invalid amount for send"));
        }
        recipients.push(Recipient {
            address,
            amount: sats,
            subtract_fee: subtract.contains(text),
        });
    }
    for text in &subtract {
        if !amounts.contains_key(text) {
            return Err(RpcError::invalid_parameter(format!(
                "Invalid parameter, subtractfeefrom address not among the recipients: {text}"
            )));
        }
    }
    let (txid, _) = w.pay(&recipients, None, minconf).map_err(|e| e.to_rpc())?;
    Ok(json!(txid.to_string()))
}

fn settxfee(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let per_kb = parse_amount(p.get(0).unwrap_or(&Value::Null))?;
    w.set_fee_rate(per_kb).map_err(|e| e.to_rpc())?;
    Ok(json!(true))
}

fn abandontransaction(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    let txid: Hash256 = text.parse().map_err(|_| {
        RpcError::invalid_parameter(format!(
            "txid must be of length 64 (not {}, for '{text}')",
            text.len()
        ))
    })?;
    w.abandon(&txid).map_err(|e| e.to_rpc())?;
    Ok(Value::Null)
}
