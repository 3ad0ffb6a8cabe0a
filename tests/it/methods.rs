//! Every RPC method through `node rpc` against a real node on regtest: results with
//! Bitcoin Core's fields, errors with Bitcoin Core's codes. One node per test.

use std::time::{Duration, Instant};

use node_chain::{
    deserialize, serialize, sha256d, sign_p2pkh_input, Block, PrivateKey, Transaction,
};
use serde_json::Value;

use crate::common::{regtest, wait_for, TestNode};

const START: Duration = Duration::from_secs(30);

/// The standard node of these tests.
fn start() -> TestNode {
    TestNode::start_wallet(&[], "", &[])
}

/// The entry listaddresses gives for `address`.
fn listed(node: &TestNode, address: &str) -> Value {
    let list = node.rpc("listaddresses", &[]);
    list.as_array()
        .expect("array")
        .iter()
        .find(|a| a["address"] == address)
        .cloned()
        .unwrap_or_else(|| panic!("{address} is not a wallet address: {list}"))
}

/// An amount as the node prints it, `50.00000000`.
fn coins(value: &Value) -> String {
    assert!(value.is_number(), "not an amount: {value}");
    value.to_string()
}

/// Satoshis of an amount printed with 8 decimals.
fn sats(value: &Value) -> u64 {
    let text = coins(value);
    let (whole, frac) = text.split_once('.').expect("8 decimals");
    assert_eq!(frac.len(), 8, "{text}");
    whole.parse::<u64>().expect("whole") * 100_000_000 + frac.parse::<u64>().expect("frac")
}

fn is_hash(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

fn to_hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: impl AsRef<str>) -> Result<Vec<u8>, std::num::ParseIntError> {
    let text = text.as_ref();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
        .collect()
}

const UNKNOWN_HASH: &str = "00000000000000000000000000000000000000000000000000000000000000aa";

#[test]
fn chain_methods_answer_core_fields_and_codes() {
    let node = start();
    assert_eq!(node.height(), 0);
    let genesis = node.text("getblockhash", &["0"]);
    assert_eq!(node.text("getbestblockhash", &[]), genesis);

    let address = node.text("getnewaddress", &[]);
    let hashes = node.generate(3, &address);
    assert_eq!(node.height(), 3);
    assert_eq!(node.text("getbestblockhash", &[]), hashes[2]);
    assert_eq!(node.text("getblockhash", &["1"]), hashes[0]);
    node.fails_with("getblockhash", &["4"], -8, "Block height out of range");
    node.fails_with("getblockhash", &["-1"], -8, "Block height out of range");

    let info = node.rpc("getblockchaininfo", &[]);
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["blocks"], 3);
    assert_eq!(info["headers"], 3);
    assert_eq!(info["bestblockhash"], hashes[2].as_str());
    assert_eq!(info["initialblockdownload"], false);
    assert_eq!(info["pruned"], false);
    assert_eq!(info["verificationprogress"].as_f64(), Some(1.0));
    assert!(
        info["difficulty"].as_f64().is_some_and(|d| d > 0.0),
        "{info}"
    );
    assert!(
        info["time"].is_u64() && info["mediantime"].is_u64(),
        "{info}"
    );
    assert!(info["size_on_disk"].is_u64(), "{info}");
    assert_eq!(info["chainwork"].as_str().map(str::len), Some(64), "{info}");
    assert_eq!(info["warnings"], "");

    // A header in the middle: links both ways, three confirmations at height 3.
    let header = node.rpc("getblockheader", &[&hashes[1]]);
    assert_eq!(header["hash"], hashes[1].as_str());
    assert_eq!(header["height"], 2);
    assert_eq!(header["confirmations"], 2);
    assert_eq!(header["previousblockhash"], hashes[0].as_str());
    assert_eq!(header["nextblockhash"], hashes[2].as_str());
    assert_eq!(header["nTx"], 1);
    assert_eq!(header["bits"], "207fffff");
    for field in ["version", "time", "mediantime", "nonce"] {
        assert!(header[field].is_u64(), "{field} in {header}");
    }
    for field in ["versionHex", "merkleroot", "chainwork"] {
        assert!(header[field].is_string(), "{field} in {header}");
    }
    let genesis_header = node.rpc("getblockheader", &[&genesis, "true"]);
    assert!(genesis_header.get("previousblockhash").is_none());
    assert_eq!(genesis_header["confirmations"], 4);
    let tip_header = node.rpc("getblockheader", &[&hashes[2]]);
    assert!(tip_header.get("nextblockhash").is_none());

    // verbose=false: the 80 serialized bytes, which hash to the block hash.
    let raw = from_hex(node.text("getblockheader", &[&hashes[1], "false"])).expect("hex");
    assert_eq!(raw.len(), 80);
    assert_eq!(sha256d(&raw).to_string(), hashes[1]);
    node.fails_with("getblockheader", &[UNKNOWN_HASH], -5, "Block not found");
    node.fails_with(
        "getblockheader",
        &[UNKNOWN_HASH, "false"],
        -5,
        "Block not found",
    );
    node.fails_with("getblockheader", &["xyz"], -8, "blockhash");

    // Verbosity 1: the header's fields plus sizes and txids.
    let block = node.rpc("getblock", &[&hashes[1]]);
    assert_eq!(node.rpc("getblock", &[&hashes[1], "1"]), block);
    assert_eq!(block["height"], 2);
    assert_eq!(block["confirmations"], 2);
    assert_eq!(block["merkleroot"], header["merkleroot"]);
    let txids = block["tx"].as_array().expect("tx");
    assert_eq!(txids.len(), 1);
    assert!(is_hash(&txids[0]), "{block}");
    for field in ["size", "strippedsize", "weight"] {
        assert!(block[field].is_u64(), "{field} in {block}");
    }

    // Verbosity 0: the block itself; it decodes to the same hash and transactions, and
    // its coinbase decodes through decoderawtransaction to the listed txid.
    let raw = from_hex(node.text("getblock", &[&hashes[1], "0"])).expect("hex");
    assert_eq!(block["size"], raw.len());
    let decoded: Block = deserialize(&raw).expect("a block");
    assert_eq!(decoded.header.hash().to_string(), hashes[1]);
    assert_eq!(decoded.txs.len(), 1);
    assert_eq!(
        decoded.txs[0].txid().to_string(),
        txids[0].as_str().unwrap()
    );
    let coinbase_hex = to_hex(serialize(&decoded.txs[0]));
    let tx = node.rpc("decoderawtransaction", &[&coinbase_hex]);
    assert_eq!(tx["txid"], txids[0]);
    assert_eq!(tx["size"], coinbase_hex.len() / 2);
    assert!(tx["vin"][0]["coinbase"].is_string(), "{tx}");
    assert_eq!(coins(&tx["vout"][0]["value"]), "50.00000000");
    assert_eq!(tx["vout"][0]["scriptPubKey"]["type"], "pubkeyhash");
    assert_eq!(tx["vout"][0]["scriptPubKey"]["address"], address.as_str());

    // Verbosity 2: the transactions decoded in place, with their hex.
    let full = node.rpc("getblock", &[&hashes[1], "2"]);
    assert_eq!(full["hash"], hashes[1].as_str());
    assert_eq!(full["tx"][0]["txid"], txids[0]);
    assert_eq!(full["tx"][0]["vout"], tx["vout"]);
    assert_eq!(full["tx"][0]["hex"], coinbase_hex.as_str());
    node.fails_with("getblock", &[UNKNOWN_HASH], -5, "Block not found");
    node.fails_with("getblock", &["xyz"], -8, "blockhash");
    // A hash parameter is sent as a string whatever it looks like (as bitcoin-cli does).
    node.fails_with("getblock", &["12345"], -8, "blockhash");

    node.fails_with("decoderawtransaction", &["zz"], -22, "TX decode failed");
    node.fails_with("decoderawtransaction", &["0100"], -22, "TX decode failed");
    node.fails_with(
        "decoderawtransaction",
        &[&coinbase_hex[..coinbase_hex.len() - 2]],
        -22,
        "TX decode failed",
    );
    node.fails_with(
        "decoderawtransaction",
        &[&format!("{coinbase_hex}00")],
        -22,
        "TX decode failed",
    );
}

/// The WIF keys of the node's wallet file, to sign transactions the wallet would not.
fn wallet_key(node: &TestNode, address: &str) -> PrivateKey {
    let text = std::fs::read_to_string(node.datadir().join("wallet.json")).expect("wallet file");
    let file: Value = serde_json::from_str(&text).expect("wallet JSON");
    file["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| PrivateKey::from_wif(k["wif"].as_str()?, regtest().wif_version).ok())
        .find(|k| k.address(regtest().address_version).to_string() == address)
        .expect("the address's key")
}

#[test]
fn mempool_methods_admit_list_and_refuse() {
    let node = start();
    let funded = node.text("getnewaddress", &[]);
    node.generate(101, &funded);
    let payee = node.text("getnewaddress", &[]);

    assert_eq!(node.rpc("getrawmempool", &[]), serde_json::json!([]));
    let info = node.rpc("getmempoolinfo", &[]);
    assert_eq!(info["loaded"], true);
    assert_eq!(info["size"], 0);
    assert_eq!(info["bytes"], 0);

    let txid = node.text("sendtoaddress", &[&payee, "1.5"]);
    assert!(is_hash(&Value::String(txid.clone())), "{txid}");

    // The payment's hex, resubmitted, is accepted again under the same txid.
    let hex = node.text("getrawtransaction", &[&txid]);
    assert_eq!(node.text("sendrawtransaction", &[&hex]), txid);
    assert_eq!(node.rpc("getrawmempool", &[]), serde_json::json!([txid]));

    let verbose = node.rpc("getrawtransaction", &[&txid, "true"]);
    assert_eq!(verbose["txid"], txid.as_str());
    assert_eq!(verbose["hex"], hex.as_str());
    assert!(verbose.get("blockhash").is_none(), "{verbose}");
    let script_sig = verbose["vin"][0]["scriptSig"]["asm"].as_str().expect("asm");
    assert!(script_sig.contains("[ALL] "), "{script_sig}");
    let paid = verbose["vout"]
        .as_array()
        .expect("vout")
        .iter()
        .find(|o| o["scriptPubKey"]["address"] == payee.as_str())
        .expect("an output to the payee");
    assert_eq!(coins(&paid["value"]), "1.50000000");

    let entry = node.rpc("getmempoolentry", &[&txid]);
    let size = hex.len() / 2;
    assert_eq!(entry["vsize"], size);
    assert_eq!(entry["weight"], size * 4);
    assert_eq!(entry["height"], 101);
    assert_eq!(entry["ancestorcount"], 1);
    assert_eq!(entry["descendantcount"], 1);
    assert_eq!(entry["depends"], serde_json::json!([]));
    assert_eq!(entry["spentby"], serde_json::json!([]));
    let fee = sats(&entry["fees"]["base"]);
    assert!(fee > 0, "{entry}");
    assert_eq!(entry["fees"]["modified"], entry["fees"]["base"]);
    let pool = node.rpc("getrawmempool", &["true"]);
    assert_eq!(pool.as_object().map(|m| m.len()), Some(1), "{pool}");
    assert_eq!(pool[&txid], entry);
    node.fails_with("getmempoolentry", &[UNKNOWN_HASH], -5, "not in mempool");
    node.fails_with("getmempoolentry", &["nothex"], -8, "txid");

    let info = node.rpc("getmempoolinfo", &[]);
    assert_eq!(info["size"], 1);
    assert_eq!(info["bytes"], size);
    assert!(info["maxmempool"].as_u64().is_some_and(|m| m > 0), "{info}");
    assert!(sats(&info["minrelaytxfee"]) > 0, "{info}");
    assert!(info["mempoolminfee"].is_number(), "{info}");

    node.fails_with("sendrawtransaction", &["zz"], -22, "TX decode failed");
    node.fails_with("sendrawtransaction", &["0100"], -22, "TX decode failed");

    // A properly signed double spend of the payment's inputs: first seen wins.
    let mut conflict: Transaction = deserialize(&from_hex(&hex).expect("hex")).expect("tx");
    conflict.outputs[0].value -= 1_000;
    let key = wallet_key(&node, &funded);
    let script = regtest()
        .parse_address(&funded)
        .expect("address")
        .script_pubkey();
    for index in 0..conflict.inputs.len() {
        conflict.inputs[index].script_sig =
            sign_p2pkh_input(&conflict, index, &script, &key).expect("sign");
    }
    node.fails_with(
        "sendrawtransaction",
        &[&to_hex(serialize(&conflict))],
        -26,
        "txn-mempool-conflict",
    );

    // Mined: out of the pool, found in its block only.
    let block = node.generate(1, &funded).remove(0);
    assert_eq!(node.rpc("getrawmempool", &[]), serde_json::json!([]));
    assert!(node.rpc("getblock", &[&block]).to_string().contains(&txid));
    // A wallet transaction is found without its block, through the wallet (as Core
    // without -txindex; one the wallet does not know is not: wallet_methods.rs).
    let found = node.rpc("getrawtransaction", &[&txid, "true"]);
    assert_eq!(found["blockhash"], block.as_str(), "{found}");
    assert_eq!(
        node.text("getrawtransaction", &[&txid, "false", &block]),
        hex
    );
    let confirmed = node.rpc("getrawtransaction", &[&txid, "1", &block]);
    assert_eq!(confirmed["blockhash"], block.as_str());
    assert_eq!(confirmed["confirmations"], 1);
    assert_eq!(confirmed["in_active_chain"], true);
    assert!(confirmed["blocktime"].is_u64(), "{confirmed}");
    let genesis = node.text("getblockhash", &["0"]);
    node.fails_with(
        "getrawtransaction",
        &[&txid, "true", &genesis],
        -5,
        "No such transaction found in the provided block",
    );
    node.fails_with(
        "getrawtransaction",
        &[&txid, "true", UNKNOWN_HASH],
        -5,
        "Block hash not found",
    );
    // Its outputs are in the UTXO set now.
    node.fails_with("sendrawtransaction", &[&hex], -27, "");
}

#[test]
fn wallet_methods_addresses_balances_and_payments() {
    let node = start();
    let from = node.text("getnewaddress", &["savings"]);
    assert!(regtest().parse_address(&from).is_ok(), "{from}");
    let mine = listed(&node, &from);
    assert_eq!(mine["label"], "savings");
    assert_eq!(coins(&mine["confirmed"]), "0.00000000");
    assert_eq!(coins(&node.rpc("getbalance", &[])), "0.00000000");

    // 101 blocks: the first coinbase is mature, a hundred are not.
    node.generate(101, &from);
    assert_eq!(coins(&node.rpc("getbalance", &[])), "50.00000000");
    assert_eq!(coins(&node.rpc("getbalance", &["*"])), "50.00000000");
    assert_eq!(coins(&node.rpc("getbalance", &[&from])), "50.00000000");
    let mine = listed(&node, &from);
    assert_eq!(coins(&mine["confirmed"]), "50.00000000");
    assert_eq!(coins(&mine["immature"]), "5000.00000000");
    let to = node.text("getnewaddress", &[]);
    let other = node.text("getnewaddress", &[]);
    assert_eq!(coins(&node.rpc("getbalance", &[&to])), "0.00000000");
    node.fails_with("getbalance", &["notanaddress"], -5, "Invalid address");

    // Core's listunspent: spendable coins only, immature coinbases left out.
    let unspent = node.rpc("listunspent", &[]);
    let unspent = unspent.as_array().expect("array");
    assert_eq!(unspent.len(), 1, "{} coins listed", unspent.len());
    let coin = &unspent[0];
    assert_eq!(coin["address"], from.as_str());
    assert_eq!(coin["confirmations"], 101);
    assert_eq!(coins(&coin["amount"]), "50.00000000");
    assert_eq!(coin["spendable"], true);
    assert!(is_hash(&coin["txid"]) && coin["vout"] == 0, "{coin}");
    let script = regtest().parse_address(&from).unwrap().script_pubkey();
    assert_eq!(coin["scriptPubKey"], to_hex(script).as_str());
    assert_eq!(
        node.rpc("listunspent", &["1", "9999999", &format!("[\"{from}\"]")]),
        Value::Array(unspent.clone())
    );
    assert_eq!(
        node.rpc("listunspent", &["1", "9999999", &format!("[\"{to}\"]")]),
        serde_json::json!([])
    );
    assert_eq!(node.rpc("listunspent", &["102"]), serde_json::json!([]));
    node.fails_with(
        "listunspent",
        &["1", "9", "[\"bad\"]"],
        -5,
        "Invalid address",
    );

    node.fails_with("sendtoaddress", &[&to, "60"], -6, "Insufficient funds");
    node.fails_with("sendtoaddress", &[&to, "0"], -3, "amount");
    node.fails_with("sendtoaddress", &[&to, "-1"], -3, "mount");
    // `node rpc` parses an amount as JSON (bitcoin-cli would refuse a bare `lots`): a
    // JSON string reaches the node, which refuses it.
    node.fails_with("sendtoaddress", &[&to, "\"lots\""], -3, "mount");
    node.fails_with("sendtoaddress", &[&to, "0.000000001"], -3, "mount");
    node.fails_with("sendtoaddress", &["bad", "1"], -5, "Invalid address");
    node.fails_with("sendfrom", &[&to, &other, "1"], -6, "Insufficient funds");
    node.fails_with("sendfrom", &["bad", &other, "1"], -5, "Invalid address");

    // The tutorial: two sends in a row from one address; the second spends the first's
    // unconfirmed change. One block confirms both.
    let first = node.text("sendfrom", &[&from, &to, "10"]);
    let second = node.text("sendfrom", &[&from, &other, "5"]);
    let pool = node.rpc("getrawmempool", &["true"]);
    assert_eq!(pool[&second]["depends"], serde_json::json!([first]));
    let fees = sats(&pool[&first]["fees"]["base"]) + sats(&pool[&second]["fees"]["base"]);
    assert_eq!(coins(&node.rpc("getbalance", &[&to])), "10.00000000");
    assert_eq!(coins(&node.rpc("getbalance", &[&other])), "5.00000000");

    let miner = node.text("getnewaddress", &[]);
    let block = node.generate(1, &miner).remove(0);
    let txs = node.rpc("getblock", &[&block])["tx"].clone();
    assert_eq!(txs.as_array().map(Vec::len), Some(3), "{txs}");
    assert!(txs.to_string().contains(&first) && txs.to_string().contains(&second));
    assert_eq!(node.rpc("getrawmempool", &[]), serde_json::json!([]));
    assert_eq!(coins(&node.rpc("getbalance", &[&to, "1"])), "10.00000000");
    assert_eq!(coins(&node.rpc("getbalance", &[&other, "1"])), "5.00000000");
    // Block 2's coinbase matured with block 102.
    assert_eq!(
        sats(&node.rpc("getbalance", &[&from, "1"])),
        100 * 100_000_000 - 15 * 100_000_000 - fees
    );
    assert_eq!(sats(&node.rpc("getbalance", &[])), 100 * 100_000_000 - fees);
    let unspent = node.rpc("listunspent", &["1", "1"]);
    assert_eq!(unspent.as_array().map(Vec::len), Some(3), "{unspent}");
}

#[test]
fn miner_methods_generate_and_switch_mining() {
    let node = start();
    let info = node.rpc("getmininginfo", &[]);
    assert_eq!(info["blocks"], 0);
    assert_eq!(info["chain"], "regtest");
    assert_eq!(info["pooledtx"], 0);
    assert_eq!(info["generate"], false);
    assert_eq!(info["warnings"], "");
    assert!(
        info["difficulty"].as_f64().is_some_and(|d| d > 0.0),
        "{info}"
    );
    assert!(info["networkhashps"].is_number(), "{info}");

    let address = node.text("getnewaddress", &[]);
    let hashes = node.generate(5, &address);
    assert_eq!(node.height(), 5);
    assert_eq!(node.text("getbestblockhash", &[]), hashes[4]);
    let info = node.rpc("getmininginfo", &[]);
    assert_eq!(info["blocks"], 5);
    assert_eq!(info["blocksfound"], 5);
    node.fails_with(
        "generatetoaddress",
        &["1", "notanaddress"],
        -5,
        "Invalid address",
    );
    node.fails_with("generatetoaddress", &["-1", &address], -3, "nblocks");
    assert_eq!(node.height(), 5);

    // With no [miner] payout_address, the wallet's "mining" address is paid.
    assert_eq!(
        node.text("setgenerate", &["true"]),
        "",
        "a null result prints nothing"
    );
    assert_eq!(node.rpc("getmininginfo", &[])["generate"], true);
    wait_for("blocks mined by setgenerate", START, || {
        (node.height() >= 8).then_some(())
    });
    assert_eq!(node.text("setgenerate", &["false"]), "");
    assert_eq!(node.rpc("getmininginfo", &[])["generate"], false);
    let tip = node.text("getbestblockhash", &[]);
    let block = node.rpc("getblock", &[&tip, "2"]);
    let payee = &block["tx"][0]["vout"][0]["scriptPubKey"]["address"];
    let mining = listed(&node, payee.as_str().expect("the payee's address"));
    assert_eq!(mining["label"], "mining");

    // A search under way when mining is switched off ends with at most one more block;
    // then the height holds for as long as we watch.
    let stopped = node.height();
    let watch = Instant::now() + Duration::from_secs(1);
    let mut last = stopped;
    while Instant::now() < watch {
        last = node.height();
        assert!(last <= stopped + 1, "mining went on: {stopped} -> {last}");
    }
    assert_eq!(node.height(), last);
}

#[test]
fn kernel_methods_help_uptime_modules_profile_and_stop() {
    let mut node = TestNode::start_wallet(&[], "", &["mempool.max_orphans=7".to_string()]);
    let help = node.text("help", &[]);
    for line in [
        "== Chain ==",
        "getblock \"blockhash\" ( verbosity )",
        "sendrawtransaction \"hexstring\" ( maxfeerate )",
        "sendtoaddress \"address\" amount",
        "generatetoaddress nblocks \"address\" ( maxtries )",
        "help ( \"command\" )",
        "stop",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
    let getblock = node.text("help", &["getblock"]);
    assert!(
        getblock.starts_with("getblock \"blockhash\" ( verbosity )")
            && getblock.contains("0 for hex-encoded data"),
        "{getblock}"
    );
    node.fails_with(
        "help",
        &["nosuchmethod"],
        -1,
        "unknown command: nosuchmethod",
    );
    node.fails_with("nosuchmethod", &[], -32601, "nosuchmethod");
    // A wrong number of arguments: Core's -1 with the method's usage, which clients
    // match on.
    node.fails_with("getblockhash", &[], -1, "getblockhash height\n");
    node.fails_with("getblockcount", &["1"], -1, "getblockcount\n");
    let genesis = node.text("getblockhash", &["0"]);
    node.fails_with(
        "getblock",
        &[&genesis, "1", "2"],
        -1,
        "Arguments:\n1. blockhash",
    );

    assert!(node.rpc("uptime", &[]).is_u64());

    let modules = node.rpc("listmodules", &[]);
    let names: Vec<&str> = modules
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["chain", "mempool", "wallet", "miner", "rpc"]);
    let chain = &modules[0];
    assert_eq!(chain["config"]["address_index"], true, "{chain}");
    assert!(chain["description"].is_string(), "{chain}");
    let mempool = &modules[1];
    assert_eq!(mempool["config"]["max_orphans"], 7, "{mempool}");
    assert!(mempool["strategies"].is_object() || mempool["strategies"].is_array());
    assert_eq!(modules[3]["config"]["autostart"], false);

    let profile = node.rpc("getprofile", &[]);
    assert_eq!(profile["chain"], "regtest");
    assert_eq!(profile["datadir"], node.datadir().to_str().expect("utf-8"));
    assert_eq!(profile["profile"]["mempool"]["max_orphans"], 7);
    assert_eq!(profile["profile"]["chain"]["address_index"], true);
    assert_eq!(profile["profile"]["miner"]["autostart"], false);

    node.text("stop", &[]);
    let status = node.process.wait_exit(START);
    assert!(
        status.success(),
        "exit {status}; log:\n{}",
        node.process.log()
    );
}
