//! The chain and mempool RPC surface block explorers and indexers call: chain tips, the
//! UTXO set's statistics, transaction counts, deployments, indexes, unspent outputs and
//! in-pool relatives, with Bitcoin Core's fields and codes.

use std::time::Duration;

use serde_json::Value;

use crate::common::{wait_for, TestNode};

const WAIT: Duration = Duration::from_secs(60);
const UNKNOWN_HASH: &str = "00000000000000000000000000000000000000000000000000000000000000aa";

fn is_hex(value: &Value, len: usize) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn chain_tips_utxo_set_and_chain_statistics() {
    let a = TestNode::start(&[]);
    let address = a.text("getnewaddress", &[]);
    let hashes = a.generate(3, &address);

    let tips = a.rpc("getchaintips", &[]);
    assert_eq!(
        tips,
        serde_json::json!([{"height": 3, "hash": hashes[2], "branchlen": 0, "status": "active"}])
    );
    // A block of another node's chain: a side branch of one block.
    let other = TestNode::start_wallet(&[], "", &[]);
    let side = other
        .generate(1, &other.text("getnewaddress", &[]))
        .remove(0);
    let raw = other.text("getblock", &[&side, "0"]);
    assert_eq!(a.text("submitblock", &[&raw]), "inconclusive");
    let tips = a.rpc("getchaintips", &[]);
    assert_eq!(tips.as_array().map(Vec::len), Some(2), "{tips}");
    assert_eq!(tips[0]["status"], "active");
    assert_eq!(
        tips[1],
        serde_json::json!({"height": 1, "hash": side, "branchlen": 1, "status": "valid-fork"})
    );

    let info = a.rpc("gettxoutsetinfo", &[]);
    assert_eq!(info["height"], 3);
    assert_eq!(info["bestblock"], hashes[2].as_str());
    assert!(info["txouts"].as_u64() >= Some(3), "{info}");
    assert!(info["transactions"].as_u64() >= Some(3), "{info}");
    assert!(info["bogosize"].as_u64() > Some(0), "{info}");
    assert!(info["total_amount"].as_f64() >= Some(150.0), "{info}");
    assert!(is_hex(&info["hash_serialized"], 64), "{info}");
    // A node that synced the same chain has the same set, hence the same hash.
    let b = TestNode::start(&[format!("peers.connect=[\"{}\"]", a.p2p_addr())]);
    wait_for("the second node to sync", WAIT, || {
        (b.tip() == hashes[2]).then_some(())
    });
    let b_info = b.rpc("gettxoutsetinfo", &[]);
    assert_eq!(b_info["hash_serialized"], info["hash_serialized"]);
    assert_eq!(b_info["txouts"], info["txouts"]);
    // Traffic totals count ended connections too.
    let totals = a.rpc("getnettotals", &[]);
    let (sent, received) = (
        totals["totalbytessent"].as_u64().unwrap(),
        totals["totalbytesrecv"].as_u64().unwrap(),
    );
    assert!(sent > 0 && received > 0, "{totals}");
    assert!(totals["timemillis"].as_u64() > Some(0));
    drop(b);
    wait_for("the connection to end", WAIT, || {
        (a.rpc("getconnectioncount", &[]).as_u64() == Some(0)).then_some(())
    });
    let after = a.rpc("getnettotals", &[]);
    assert!(after["totalbytessent"].as_u64() >= Some(sent), "{after}");
    assert!(
        after["totalbytesrecv"].as_u64() >= Some(received),
        "{after}"
    );
    // One more block changes it.
    a.generate(1, &address);
    assert_ne!(
        a.rpc("gettxoutsetinfo", &[])["hash_serialized"],
        info["hash_serialized"]
    );

    let stats = a.rpc("getchaintxstats", &["2"]);
    assert_eq!(stats["window_block_count"], 2);
    assert_eq!(stats["window_tx_count"], 2);
    assert_eq!(stats["window_final_block_height"], 4);
    assert!(stats["txcount"].as_u64() >= Some(4), "{stats}");
    assert!(stats["window_interval"].is_i64(), "{stats}");
    let at = a.rpc("getchaintxstats", &["1", &hashes[1]]);
    assert_eq!(at["window_final_block_hash"], hashes[1].as_str());
    assert!(a.rpc("getchaintxstats", &[])["txcount"].is_u64());
    a.fails_with("getchaintxstats", &["4"], -8, "Invalid block count");
    a.fails_with(
        "getchaintxstats",
        &["1", UNKNOWN_HASH],
        -5,
        "Block not found",
    );
    a.fails_with("getchaintxstats", &["1", &side], -8, "not in main chain");

    let deployments = a.rpc("getdeploymentinfo", &[]);
    assert_eq!(deployments["height"], 4);
    assert_eq!(deployments["deployments"], serde_json::json!({}));
    assert_eq!(a.rpc("getdeploymentinfo", &[&hashes[0]])["height"], 1);
    a.fails_with("getdeploymentinfo", &[UNKNOWN_HASH], -5, "Block not found");

    assert_eq!(
        a.rpc("getindexinfo", &[]),
        serde_json::json!({"addressindex": {"synced": true, "best_block_height": 4}})
    );
    assert_eq!(a.rpc("getindexinfo", &["txindex"]), serde_json::json!({}));

    a.fails_with("pruneblockchain", &["2"], -1, "not in prune mode");
}

#[test]
fn unspent_outputs_and_in_pool_relatives() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let address = node.text("getnewaddress", &[]);
    let blocks = node.generate(101, &address);
    // The first spends every mature coin, so the second must spend its outputs.
    let balance = node.rpc("getbalance", &[]).as_f64().expect("balance");
    let first = node.text(
        "sendtoaddress",
        &[&address, &format!("{:.8}", balance - 1.0)],
    );
    let second = node.text("sendtoaddress", &[&address, "0.5"]);

    assert_eq!(
        node.rpc("getmempoolancestors", &[&second]),
        serde_json::json!([first])
    );
    assert_eq!(
        node.rpc("getmempooldescendants", &[&first]),
        serde_json::json!([second])
    );
    assert_eq!(
        node.rpc("getmempoolancestors", &[&first]),
        serde_json::json!([])
    );
    let verbose = node.rpc("getmempoolancestors", &[&second, "true"]);
    assert_eq!(verbose[&first], node.rpc("getmempoolentry", &[&first]));
    node.fails_with(
        "getmempooldescendants",
        &[UNKNOWN_HASH],
        -5,
        "Transaction not in mempool",
    );
    let entry = node.rpc("getmempoolentry", &[&second]);
    assert_eq!(entry["ancestorcount"], 2);
    assert_eq!(entry["depends"], serde_json::json!([first]));

    let fee = |txid: &str| {
        let e = node.rpc("getmempoolentry", &[txid]);
        (e["fees"]["base"].as_f64().unwrap() * 1e8).round() as u64
    };
    let info = node.rpc("getmempoolinfo", &[]);
    let total = (info["total_fee"].as_f64().unwrap() * 1e8).round() as u64;
    assert_eq!(total, fee(&first) + fee(&second));

    // A pool output: zero confirmations.
    let out = node.rpc("gettxout", &[&second, "0"]);
    assert_eq!(out["confirmations"], 0, "{out}");
    assert_eq!(out["coinbase"], false);
    assert_eq!(out["scriptPubKey"]["type"], "pubkeyhash");
    assert!(out["value"].is_number());
    assert_eq!(node.text("gettxout", &[&second, "0", "false"]), "");
    // The first coinbase: spent in the pool, unspent in the chain.
    let coinbase = node.rpc("getblock", &[&blocks[0]])["tx"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(node.text("gettxout", &[&coinbase, "0"]), "");
    let confirmed = node.rpc("gettxout", &[&coinbase, "0", "false"]);
    assert_eq!(confirmed["confirmations"], 101, "{confirmed}");
    assert_eq!(confirmed["coinbase"], true);
    assert_eq!(confirmed["bestblock"], blocks[100].as_str());
    assert_eq!(confirmed["scriptPubKey"]["address"], address.as_str());
    assert_eq!(node.text("gettxout", &[&coinbase, "7"]), "");
    node.fails_with("gettxout", &["xyz", "0"], -8, "txid");
    node.fails_with(
        "gettxout",
        &[&coinbase, "-1"],
        -8,
        "vout cannot be negative",
    );
}

#[test]
fn the_mempool_survives_a_restart() {
    let mut node = TestNode::start(&[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(101, &address);
    let first = node.text("sendtoaddress", &[&address, "1"]);
    let second = node.text("sendtoaddress", &[&address, "2"]);
    node.rpc("prioritisetransaction", &[&second, "0", "5000"]);
    let saved = node.rpc("savemempool", &[]);
    let file = saved["filename"].as_str().expect("a file name").to_string();
    assert!(file.ends_with("mempool.dat"), "{saved}");
    assert!(std::path::Path::new(&file).exists());
    let entry = node.rpc("getmempoolentry", &[&second]);

    // Saved again at shutdown, loaded at start: same entries, same deltas.
    node.text("stop", &[]);
    assert!(node.process.wait_exit(WAIT).success());
    let datadir = node.datadir().to_path_buf();
    let restarted = TestNode::start_in(&datadir, &[]);
    let pooled = restarted.rpc("getrawmempool", &[]);
    assert_eq!(pooled, serde_json::json!([first, second]));
    assert_eq!(
        restarted.rpc("getmempoolentry", &[&second])["fees"],
        entry["fees"]
    );
    drop(restarted);

    // persist = false: nothing loaded.
    let fresh = TestNode::start_in(&datadir, &["mempool.persist=false".to_string()]);
    assert_eq!(fresh.rpc("getrawmempool", &[]), serde_json::json!([]));
}

#[test]
fn wallet_addresses_and_info() {
    let node = TestNode::start_wallet(&[], "", &[]);
    assert_eq!(node.rpc("listwallets", &[]), serde_json::json!([""]));
    let address = node.text("getnewaddress", &["savings"]);
    let change = node.text("getrawchangeaddress", &[]);
    assert_ne!(address, change);

    let valid = node.rpc("validateaddress", &[&address]);
    assert_eq!(valid["isvalid"], true);
    assert_eq!(valid["address"], address.as_str());
    assert!(is_hex(&valid["scriptPubKey"], 50), "{valid}");
    let invalid = node.rpc("validateaddress", &["1notanaddress"]);
    assert_eq!(invalid["isvalid"], false);
    assert!(invalid["error"].is_string(), "{invalid}");

    let info = node.rpc("getaddressinfo", &[&address]);
    assert_eq!(info["ismine"], true);
    assert_eq!(info["labels"], serde_json::json!(["savings"]));
    assert_eq!(info["ischange"], false);
    assert_eq!(node.rpc("getaddressinfo", &[&change])["ischange"], true);
    let other = TestNode::start_wallet(&[], "", &[]);
    let foreign = other.text("getnewaddress", &[]);
    let info = node.rpc("getaddressinfo", &[&foreign]);
    assert_eq!(info["ismine"], false);
    assert_eq!(info["labels"], serde_json::json!([]));
    node.fails_with("getaddressinfo", &["xyz"], -5, "Invalid address");

    node.generate(101, &address);
    let wallet = node.rpc("getwalletinfo", &[]);
    assert_eq!(wallet["walletname"], "");
    assert_eq!(wallet["balance"], node.rpc("getbalance", &[]));
    assert!(wallet["immature_balance"].as_f64() > Some(0.0), "{wallet}");
    assert!(wallet["keypoolsize"].as_u64() >= Some(2), "{wallet}");
}
