//! Blocks, headers and transactions as Bitcoin Core's RPCs show them.

use serde_json::{json, Value};

use crate::address::Address;
use crate::block::{Block, BlockHeader};
use crate::encode::serialize;
use crate::hash::Hash256;
use crate::pow::difficulty;
use crate::script::parse_p2pkh;
use crate::spec::ChainSpec;
use crate::state::BlockIndexEntry;
use crate::transaction::Transaction;
use node_kernel::rpc::amount;

/// A script's pushes and opcodes, as Core's `asm` (enough for P2PKH and coinbase text).
pub fn script_asm(script: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < script.len() {
        let op = script[i];
        i += 1;
        let len = match op {
            0x01..=0x4b => op as usize,
            0x4c => {
                let Some(&n) = script.get(i) else { break };
                i += 1;
                n as usize
            }
            0x4d => {
                let Some(b) = script.get(i..i + 2) else { break };
                i += 2;
                u16::from_le_bytes([b[0], b[1]]) as usize
            }
            _ => {
                parts.push(opcode_name(op));
                continue;
            }
        };
        match script.get(i..i + len) {
            Some(data) => parts.push(hex::encode(data)),
            None => {
                parts.push("[error]".to_string());
                break;
            }
        }
        i += len;
    }
    parts.join(" ")
}

fn opcode_name(op: u8) -> String {
    match op {
        0x00 => "0".to_string(),
        0x4f => "-1".to_string(),
        0x51..=0x60 => (op - 0x50).to_string(),
        0x76 => "OP_DUP".to_string(),
        0x88 => "OP_EQUALVERIFY".to_string(),
        0xa9 => "OP_HASH160".to_string(),
        0xac => "OP_CHECKSIG".to_string(),
        other => format!("OP_UNKNOWN({other:#04x})"),
    }
}

/// A transaction as `decoderawtransaction` shows it.
pub fn tx_json(tx: &Transaction, spec: &ChainSpec) -> Value {
    let size = tx.size();
    let vin: Vec<Value> = tx
        .inputs
        .iter()
        .map(|input| {
            if tx.is_coinbase() {
                json!({
                    "coinbase": hex::encode(&input.script_sig),
                    "sequence": input.sequence,
                })
            } else {
                json!({
                    "txid": input.prevout.txid.to_string(),
                    "vout": input.prevout.vout,
                    "scriptSig": {
                        "asm": script_asm(&input.script_sig),
                        "hex": hex::encode(&input.script_sig),
                    },
                    "sequence": input.sequence,
                })
            }
        })
        .collect();
    let vout: Vec<Value> = tx
        .outputs
        .iter()
        .enumerate()
        .map(|(n, output)| {
            let mut script = json!({
                "asm": script_asm(&output.script_pubkey),
                "hex": hex::encode(&output.script_pubkey),
                "type": "nonstandard",
            });
            if let Some(hash) = parse_p2pkh(&output.script_pubkey) {
                let address = Address {
                    version: spec.address_version,
                    hash,
                };
                script["type"] = json!("pubkeyhash");
                script["address"] = json!(address.to_string());
            }
            json!({
                "value": amount(output.value),
                "n": n,
                "scriptPubKey": script,
            })
        })
        .collect();
    let txid = tx.txid().to_string();
    json!({
        "txid": txid,
        "hash": txid,
        "version": tx.version,
        "size": size,
        "vsize": size,
        "weight": size * 4,
        "locktime": tx.lock_time,
        "vin": vin,
        "vout": vout,
    })
}

/// A header as `getblockheader` shows it.
pub fn header_json(
    hash: &Hash256,
    entry: &BlockIndexEntry,
    confirmations: i64,
    median_time: u32,
    next: Option<Hash256>,
) -> Value {
    let h: &BlockHeader = &entry.header;
    let mut v = json!({
        "hash": hash.to_string(),
        "confirmations": confirmations,
        "height": entry.height,
        "version": h.version,
        "versionHex": format!("{:08x}", h.version),
        "merkleroot": h.merkle_root.to_string(),
        "time": h.time,
        "mediantime": median_time,
        "nonce": h.nonce,
        "bits": format!("{:08x}", h.bits),
        "difficulty": difficulty(h.bits),
        "chainwork": format!("{:064x}", entry.chain_work),
        "nTx": entry.tx_count,
    });
    if !h.prev_block.is_zero() {
        v["previousblockhash"] = json!(h.prev_block.to_string());
    }
    if let Some(next) = next {
        v["nextblockhash"] = json!(next.to_string());
    }
    v
}

/// A block as `getblock` shows it at verbosity 1 (txids) or 2 (decoded transactions).
pub fn block_json(block: &Block, header: Value, verbosity: u8, spec: &ChainSpec) -> Value {
    let mut v = header;
    let size = serialize(block).len();
    v["size"] = json!(size);
    v["strippedsize"] = json!(size);
    v["weight"] = json!(size * 4);
    v["tx"] = if verbosity >= 2 {
        // As Core at verbosity 2: each transaction decoded, with its hex.
        Value::Array(
            block
                .txs
                .iter()
                .map(|tx| {
                    let mut t = tx_json(tx, spec);
                    t["hex"] = json!(hex::encode(serialize(tx)));
                    t
                })
                .collect(),
        )
    } else {
        Value::Array(
            block
                .txs
                .iter()
                .map(|tx| json!(tx.txid().to_string()))
                .collect(),
        )
    };
    v
}
