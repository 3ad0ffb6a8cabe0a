//! Wallet RPC methods, with Bitcoin Core's names where the meaning is the same.

use std::collections::HashMap;
use std::sync::Arc;

use node_api::chain::Address;
use node_api::rpc::{amount, codes, parse_amount, Param, RpcError, RpcParams};
use node_api::{BoxError, MethodEntry, RunOn, StartContext};
use serde_json::{json, Value};

use crate::rpc_help;
use crate::wallet::{Wallet, WalletCoin};

const LABEL: &[Param] = &[Param::optional("label")
    .string("The label name for the address to be linked to; it can also be set to the empty string \"\" to represent the default label")
    .default("\"\"")];
const NONE: &[Param] = &[];
const BALANCE: &[Param] = &[
    Param::optional("address")
        .string("An address whose balance to return instead of the wallet's (any address, with the address index)"),
    Param::optional("minconf")
        .numeric("Only include transactions confirmed at least this many times")
        .default("0"),
];
const UNSPENT: &[Param] = &[
    Param::optional("minconf")
        .numeric("The minimum confirmations to filter")
        .default("1"),
    Param::optional("maxconf")
        .numeric("The maximum confirmations to filter")
        .default("9999999"),
    Param::optional("addresses")
        .array("The addresses to filter (json array of strings)")
        .default("[]"),
];
const ADDRESS: &[Param] = &[Param::required("address").string("The address")];
const SEND: &[Param] = &[
    Param::required("address").string("The address to send to"),
    Param::required("amount")
        .amount("The amount in coins to send, e.g. 0.1")
        .example("0.1"),
];
const SENDFROM: &[Param] = &[
    Param::required("fromaddress").string("The wallet address to pay from; change goes back to it"),
    Param::required("toaddress").string("The address to send to"),
    Param::required("amount")
        .amount("The amount in coins to send, e.g. 0.1")
        .example("0.1"),
];

/// Registered at start, and listed as they are in the factory's `methods`.
pub(crate) const METHODS: &[MethodEntry<Wallet>] = &[
    (
        "getnewaddress",
        LABEL,
        rpc_help::GETNEWADDRESS,
        getnewaddress,
    ),
    (
        "listaddresses",
        NONE,
        rpc_help::LISTADDRESSES,
        listaddresses,
    ),
    ("getbalance", BALANCE, rpc_help::GETBALANCE, getbalance),
    ("listunspent", UNSPENT, rpc_help::LISTUNSPENT, listunspent),
    (
        "sendtoaddress",
        SEND,
        rpc_help::SENDTOADDRESS,
        sendtoaddress,
    ),
    (
        "getrawchangeaddress",
        NONE,
        rpc_help::GETRAWCHANGEADDRESS,
        getrawchangeaddress,
    ),
    (
        "validateaddress",
        ADDRESS,
        rpc_help::VALIDATEADDRESS,
        validateaddress,
    ),
    (
        "getaddressinfo",
        ADDRESS,
        rpc_help::GETADDRESSINFO,
        getaddressinfo,
    ),
    ("listwallets", NONE, rpc_help::LISTWALLETS, |_, _| {
        Ok(json!([""]))
    }),
    (
        "getwalletinfo",
        NONE,
        rpc_help::GETWALLETINFO,
        getwalletinfo,
    ),
    ("sendfrom", SENDFROM, rpc_help::SENDFROM, sendfrom),
];

pub(crate) fn register(ctx: &StartContext, wallet: &Arc<Wallet>) -> Result<(), BoxError> {
    ctx.register_methods(wallet, RunOn::Blocking, METHODS)
}

fn parse_address(w: &Wallet, p: &RpcParams, index: usize) -> Result<Address, RpcError> {
    let text: String = p.required(index)?;
    w.chain_spec_address(&text).map_err(|e| {
        RpcError::new(
            codes::INVALID_ADDRESS_OR_KEY,
            format!("Invalid address {text}: {e}"),
        )
    })
}

/// A coin as Core's `listunspent` shows it; `label` is `None` for an address that is not
/// the wallet's, whose coins cannot be spent here (Core's `spendable`: we hold the key).
fn coin_json(c: &WalletCoin, label: Option<&str>) -> Value {
    let mut v = json!({
        "txid": c.outpoint.txid.to_string(),
        "vout": c.outpoint.vout,
        "address": c.address.to_string(),
        "scriptPubKey": hex::encode(c.address.script_pubkey()),
        "amount": amount(c.value),
        "confirmations": c.confirmations,
        "spendable": label.is_some(),
        "solvable": label.is_some(),
        "safe": true,
    });
    if let Some(label) = label {
        v["label"] = json!(label);
    }
    v
}

fn getnewaddress(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let label: String = p.optional(0)?.unwrap_or_default();
    let address = w.new_address(&label).map_err(|e| e.to_rpc())?;
    Ok(json!(address.to_string()))
}

fn getrawchangeaddress(w: &Wallet, _: RpcParams) -> Result<Value, RpcError> {
    let address = w.new_address("change").map_err(|e| e.to_rpc())?;
    Ok(json!(address.to_string()))
}

fn validateaddress(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let text: String = p.required(0)?;
    Ok(match w.chain_spec_address(&text) {
        Ok(address) => json!({
            "isvalid": true,
            "address": address.to_string(),
            "scriptPubKey": hex::encode(address.script_pubkey()),
            "isscript": false,
            "iswitness": false,
        }),
        Err(e) => json!({"isvalid": false, "error": e.to_string()}),
    })
}

fn getaddressinfo(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let address = parse_address(w, &p, 0)?;
    let label = w
        .addresses()
        .into_iter()
        .find(|(a, _)| *a == address)
        .map(|(_, label)| label);
    let mine = label.is_some();
    Ok(json!({
        "address": address.to_string(),
        "scriptPubKey": hex::encode(address.script_pubkey()),
        "ismine": mine,
        "solvable": mine,
        "iswatchonly": false,
        "isscript": false,
        "iswitness": false,
        "ischange": label.as_deref() == Some("change"),
        "labels": label.map(|l| vec![l]).unwrap_or_default(),
    }))
}

fn getwalletinfo(w: &Wallet, _: RpcParams) -> Result<Value, RpcError> {
    let balance = Wallet::balance_of(&w.coins().map_err(|e| e.to_rpc())?);
    // Read alone: the history's lock is never taken while the keys' is held.
    let txcount = w.history().txs.len();
    let mut info = json!({
        "walletname": "",
        "walletversion": 1,
        "format": "node",
        "balance": amount(balance.confirmed),
        "unconfirmed_balance": amount(balance.unconfirmed),
        "immature_balance": amount(balance.immature),
        "keypoolsize": w.addresses().len(),
        "private_keys_enabled": true,
        "avoid_reuse": false,
        "scanning": false,
        "descriptors": false,
        "paytxfee": amount(w.fee_rate_per_kb()),
        "txcount": txcount,
    });
    // Core shows it only for an encrypted wallet: 0 while locked.
    if let Some(until) = w.lock_state() {
        info["unlocked_until"] = json!(until);
    }
    Ok(info)
}

fn listaddresses(w: &Wallet, _: RpcParams) -> Result<Value, RpcError> {
    let mut out = Vec::new();
    for (address, label) in w.addresses() {
        let coins = w.coins_of(&[address]).map_err(|e| e.to_rpc())?;
        let balance = Wallet::balance_of(&coins);
        out.push(json!({
            "address": address.to_string(),
            "label": label,
            "confirmed": amount(balance.confirmed),
            "unconfirmed": amount(balance.unconfirmed),
            "immature": amount(balance.immature),
        }));
    }
    Ok(Value::Array(out))
}

fn getbalance(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let minconf: u32 = p.optional(1)?.unwrap_or(0);
    let coins = match p.get(0) {
        // Core's first parameter is a dummy "*"; an address selects that address.
        Some(Value::String(s)) if s != "*" => {
            let address = parse_address(w, &p, 0)?;
            w.coins_of(&[address]).map_err(|e| e.to_rpc())?
        }
        _ => w.coins().map_err(|e| e.to_rpc())?,
    };
    let total: u64 = coins
        .iter()
        .filter(|c| c.spendable && c.confirmations >= minconf)
        .map(|c| c.value)
        .sum();
    Ok(amount(total))
}

fn listunspent(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let minconf: u32 = p.optional(0)?.unwrap_or(1);
    let maxconf: u32 = p.optional(1)?.unwrap_or(9_999_999);
    let coins = match p.optional::<Vec<String>>(2)? {
        Some(list) if !list.is_empty() => {
            let mut addresses = Vec::new();
            for text in list {
                addresses.push(w.chain_spec_address(&text).map_err(|e| {
                    RpcError::new(
                        codes::INVALID_ADDRESS_OR_KEY,
                        format!("Invalid address {text}: {e}"),
                    )
                })?);
            }
            w.coins_of(&addresses).map_err(|e| e.to_rpc())?
        }
        _ => w.coins().map_err(|e| e.to_rpc())?,
    };
    let labels: HashMap<Address, String> = w.addresses().into_iter().collect();
    Ok(Value::Array(
        coins
            .iter()
            // As Core: immature coinbase outputs are not listed at all.
            .filter(|c| c.spendable && c.confirmations >= minconf && c.confirmations <= maxconf)
            .map(|c| coin_json(c, labels.get(&c.address).map(String::as_str)))
            .collect(),
    ))
}

fn sendtoaddress(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let to = parse_address(w, &p, 0)?;
    let sats = parse_amount(p.get(1).unwrap_or(&Value::Null))?;
    let (txid, _) = w.send(&to, sats, None).map_err(|e| e.to_rpc())?;
    Ok(json!(txid.to_string()))
}

fn sendfrom(w: &Wallet, p: RpcParams) -> Result<Value, RpcError> {
    let from = parse_address(w, &p, 0)?;
    let to = parse_address(w, &p, 1)?;
    let sats = parse_amount(p.get(2).unwrap_or(&Value::Null))?;
    let (txid, _) = w.send(&to, sats, Some(&from)).map_err(|e| e.to_rpc())?;
    Ok(json!(txid.to_string()))
}
