//! Blocks, headers and transactions as Bitcoin Core's RPCs show them, and reading them
//! back from hex.

use serde_json::{json, Value};

use node_chain::encode::{deserialize, serialize, Decode};
use node_chain::pow::difficulty;
use node_chain::script::{is_op_return, parse_p2pkh};
use node_chain::{Address, Block, BlockHeader, BlockIndexEntry, ChainSpec, Hash256, Transaction};
use node_kernel::rpc::{amount, codes, RpcError};

/// Decodes hex of a consensus-encoded value, with Core's -22 on failure.
pub fn decode_hex<T: Decode>(text: &str, what: &str) -> Result<T, RpcError> {
    let bytes = hex::decode(text).map_err(|_| {
        RpcError::new(
            codes::DESERIALIZATION_ERROR,
            format!("{what} decode failed: not hex"),
        )
    })?;
    deserialize(&bytes).map_err(|e| {
        RpcError::new(
            codes::DESERIALIZATION_ERROR,
            format!("{what} decode failed: {e}"),
        )
    })
}

/// An output script as Core shows it: `asm`, `hex`, `type` (`pubkeyhash`, `nulldata`,
/// `nonstandard`) and the `address` of a P2PKH script.
pub fn script_pubkey_json(script_pubkey: &[u8], spec: &ChainSpec) -> Value {
    let mut script = json!({
        "asm": script_asm(script_pubkey),
        "hex": hex::encode(script_pubkey),
        "type": "nonstandard",
    });
    if is_op_return(script_pubkey) {
        script["type"] = json!("nulldata");
    }
    if let Some(hash) = parse_p2pkh(script_pubkey) {
        let address = Address {
            version: spec.address_version,
            hash,
        };
        script["type"] = json!("pubkeyhash");
        script["address"] = json!(address.to_string());
    }
    script
}

/// A script's pushes and opcodes as Core's `asm` (`ScriptToAsmStr`): pushes of up to 4
/// bytes as decimal numbers, longer ones as hex, opcodes by name, `[error]` at a push
/// that runs past the end.
pub fn script_asm(script: &[u8]) -> String {
    asm(script, false)
}

/// An input script's `asm`, as Core shows scriptSigs: a strict-DER signature's hash type
/// byte is written as `[ALL]` and the like after the signature's hex.
pub fn script_sig_asm(script: &[u8]) -> String {
    asm(script, true)
}

fn asm(script: &[u8], decode_sighash: bool) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < script.len() {
        let op = script[i];
        i += 1;
        let len = match op {
            0x00..=0x4b => usize::from(op),
            0x4c..=0x4e => {
                let width = 1 << (op - 0x4c);
                let Some(b) = script.get(i..i + width) else {
                    parts.push("[error]".to_string());
                    break;
                };
                i += width;
                b.iter()
                    .rev()
                    .fold(0usize, |n, &byte| (n << 8) | usize::from(byte))
            }
            _ => {
                parts.push(opcode_name(op).to_string());
                continue;
            }
        };
        let Some(data) = script.get(i..).and_then(|rest| rest.get(..len)) else {
            parts.push("[error]".to_string());
            break;
        };
        i += len;
        parts.push(push_asm(data, decode_sighash));
    }
    parts.join(" ")
}

fn push_asm(data: &[u8], decode_sighash: bool) -> String {
    if data.len() <= 4 {
        return script_num(data).to_string();
    }
    if decode_sighash && node_chain::is_strict_der(data) {
        if let Some((&hash_type, sig)) = data.split_last() {
            let name = match hash_type {
                0x01 => Some("ALL"),
                0x02 => Some("NONE"),
                0x03 => Some("SINGLE"),
                0x81 => Some("ALL|ANYONECANPAY"),
                0x82 => Some("NONE|ANYONECANPAY"),
                0x83 => Some("SINGLE|ANYONECANPAY"),
                _ => None,
            };
            if let Some(name) = name {
                return format!("{}[{name}]", hex::encode(sig));
            }
        }
    }
    hex::encode(data)
}

/// A push of up to 4 bytes read as a script number: little-endian, sign in the top bit.
fn script_num(data: &[u8]) -> i64 {
    let Some((&last, _)) = data.split_last() else {
        return 0;
    };
    let magnitude = data
        .iter()
        .rev()
        .fold(0i64, |n, &byte| (n << 8) | i64::from(byte))
        & !(0x80i64 << (8 * (data.len() - 1)));
    if last & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Core's `GetOpName`.
fn opcode_name(op: u8) -> &'static str {
    const SMALL: [&str; 16] = [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    // Rows of names read better than rustfmt's one per line.
    #[rustfmt::skip]
    const NAMES: [&str; 0xbb - 0x61] = [
        "OP_NOP", "OP_VER", "OP_IF", "OP_NOTIF", "OP_VERIF", "OP_VERNOTIF", "OP_ELSE",
        "OP_ENDIF", "OP_VERIFY", "OP_RETURN", "OP_TOALTSTACK", "OP_FROMALTSTACK", "OP_2DROP",
        "OP_2DUP", "OP_3DUP", "OP_2OVER", "OP_2ROT", "OP_2SWAP", "OP_IFDUP", "OP_DEPTH",
        "OP_DROP", "OP_DUP", "OP_NIP", "OP_OVER", "OP_PICK", "OP_ROLL", "OP_ROT", "OP_SWAP",
        "OP_TUCK", "OP_CAT", "OP_SUBSTR", "OP_LEFT", "OP_RIGHT", "OP_SIZE", "OP_INVERT",
        "OP_AND", "OP_OR", "OP_XOR", "OP_EQUAL", "OP_EQUALVERIFY", "OP_RESERVED1",
        "OP_RESERVED2", "OP_1ADD", "OP_1SUB", "OP_2MUL", "OP_2DIV", "OP_NEGATE", "OP_ABS",
        "OP_NOT", "OP_0NOTEQUAL", "OP_ADD", "OP_SUB", "OP_MUL", "OP_DIV", "OP_MOD",
        "OP_LSHIFT", "OP_RSHIFT", "OP_BOOLAND", "OP_BOOLOR", "OP_NUMEQUAL",
        "OP_NUMEQUALVERIFY", "OP_NUMNOTEQUAL", "OP_LESSTHAN", "OP_GREATERTHAN",
        "OP_LESSTHANOREQUAL", "OP_GREATERTHANOREQUAL", "OP_MIN", "OP_MAX", "OP_WITHIN",
        "OP_RIPEMD160", "OP_SHA1", "OP_SHA256", "OP_HASH160", "OP_HASH256",
        "OP_CODESEPARATOR", "OP_CHECKSIG", "OP_CHECKSIGVERIFY", "OP_CHECKMULTISIG",
        "OP_CHECKMULTISIGVERIFY", "OP_NOP1", "OP_CHECKLOCKTIMEVERIFY",
        "OP_CHECKSEQUENCEVERIFY", "OP_NOP4", "OP_NOP5", "OP_NOP6", "OP_NOP7", "OP_NOP8",
        "OP_NOP9", "OP_NOP10", "OP_CHECKSIGADD",
    ];
    match op {
        0x4f => "-1",
        0x50 => "OP_RESERVED",
        0x51..=0x60 => SMALL[usize::from(op - 0x51)],
        0x61..=0xba => NAMES[usize::from(op - 0x61)],
        _ => "OP_UNKNOWN",
    }
}

/// The fields [`tx_json`] gives, as lines of a `Result:` help text (two spaces deep, no
/// braces), for `concat!` in the help of `decoderawtransaction` and `getrawtransaction`.
#[macro_export]
macro_rules! tx_result_fields {
    () => {
        r#"  "txid" : "hex",           (string) The transaction id
  "hash" : "hex",           (string) The transaction hash (the txid: no witness data here)
  "size" : n,               (numeric) The serialized transaction size
  "vsize" : n,              (numeric) The virtual transaction size (the size: no witness data here)
  "weight" : n,             (numeric) The transaction's weight (size * 4)
  "version" : n,            (numeric) The version
  "locktime" : xxx,         (numeric) The lock time
  "vin" : [                 (json array)
    {                       (json object)
      "coinbase" : "hex",   (string, optional) The coinbase value (only if coinbase transaction)
      "txid" : "hex",       (string, optional) The transaction id (if not coinbase transaction)
      "vout" : n,           (numeric, optional) The output number (if not coinbase transaction)
      "scriptSig" : {       (json object, optional) The script (if not coinbase transaction)
        "asm" : "str",      (string) Disassembly of the signature script
        "hex" : "hex"       (string) The raw signature script bytes, hex-encoded
      },
      "sequence" : n        (numeric) The script sequence number
    },
    ...
  ],
  "vout" : [                (json array)
    {                       (json object)
      "value" : n,          (numeric) The value in BTC
      "n" : n,              (numeric) index
      "scriptPubKey" : {    (json object)
        "asm" : "str",      (string) Disassembly of the public key script
        "hex" : "hex",      (string) The raw public key script bytes, hex-encoded
        "type" : "str",     (string) The type: 'pubkeyhash', 'nulldata' or 'nonstandard'
        "address" : "str"   (string, optional) The address (only for a pubkeyhash script)
      }
    },
    ...
  ]"#
    };
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
                        "asm": script_sig_asm(&input.script_sig),
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
            let script = script_pubkey_json(&output.script_pubkey, spec);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asm_reads_like_cores() {
        let hash = [0x11u8; 20];
        let mut p2pkh = vec![0x76, 0xa9, 20];
        p2pkh.extend_from_slice(&hash);
        p2pkh.extend_from_slice(&[0x88, 0xac]);
        assert_eq!(
            script_asm(&p2pkh),
            format!(
                "OP_DUP OP_HASH160 {} OP_EQUALVERIFY OP_CHECKSIG",
                hex::encode(hash)
            )
        );
        // Small pushes are numbers; OP_0, OP_1NEGATE and OP_1..OP_16 too.
        assert_eq!(
            script_asm(&[0x00, 0x4f, 0x51, 0x60, 0x01, 0x81, 0x02, 0xe8, 0x03, 0x6a]),
            "0 -1 1 16 -1 1000 OP_RETURN"
        );
        assert_eq!(script_asm(&[0x4c, 0x02, 0xff, 0x7f]), "32767");
        assert_eq!(script_asm(&[0xbb, 0xff]), "OP_UNKNOWN OP_UNKNOWN");
        assert_eq!(script_asm(&[0x05, 0x01]), "[error]");
        assert_eq!(script_asm(&[0x4d, 0x01]), "[error]");
        let long = [0xabu8; 5];
        assert_eq!(
            script_asm(&[&[0x4e, 5, 0, 0, 0][..], &long].concat()),
            "ababababab"
        );
    }

    #[test]
    fn script_sig_asm_names_the_hash_type_of_a_der_signature() {
        let mut sig = vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
        sig.push(0x01);
        let key = [0x02u8; 33];
        let script = [&[sig.len() as u8][..], &sig, &[33], &key].concat();
        let expected = format!("{}[ALL] {}", hex::encode(&sig[..8]), hex::encode(key));
        assert_eq!(script_sig_asm(&script), expected);
        // Output scripts never decode hash types.
        assert!(script_asm(&script).starts_with(&hex::encode(&sig)));
        // An undefined hash type stays in the hex.
        *sig.last_mut().unwrap() = 0x05;
        let script = [&[sig.len() as u8][..], &sig].concat();
        assert_eq!(script_sig_asm(&script), hex::encode(&sig));
    }
}
