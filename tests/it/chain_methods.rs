//! Bitcoin Core's chain and node methods against real nodes on regtest: the tx index
//! (`[chain] tx_index`, getrawtransaction without a block hash, getindexinfo),
//! invalidateblock and reconsiderblock across a restart, verifychain, logging and
//! getmemoryinfo; success and error paths, with Bitcoin Core's codes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{regtest, TestNode};

const WAIT: Duration = Duration::from_secs(30);

const UNKNOWN_HASH: &str = "00000000000000000000000000000000000000000000000000000000000000aa";

/// Stops `node` with the `stop` method and starts a node on its data directory with
/// `sets` (the first node keeps the temporary directory alive).
fn restart(node: &mut TestNode, sets: &[&str]) -> TestNode {
    node.text("stop", &[]);
    assert!(
        node.process.wait_exit(WAIT).success(),
        "{}",
        node.process.log()
    );
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    TestNode::start_in(node.datadir(), &sets)
}

/// A chain of 103 blocks whose last block confirms a payment: (address, block hashes,
/// payment txid). The first block pays an address outside the wallet, so its coinbase
/// is found only through the index (the wallet's own transactions are found without it).
fn chain_with_a_payment(node: &TestNode) -> (String, Vec<String>, String) {
    let outsider = node_chain::PrivateKey::from_bytes(&[7; 32], true)
        .expect("a valid key")
        .address(regtest().address_version)
        .to_string();
    let mut hashes = node.generate(1, &outsider);
    let address = node.text("getnewaddress", &[]);
    hashes.extend(node.generate(101, &address));
    let payment = node.text("sendtoaddress", &[&address, "1.5"]);
    hashes.extend(node.generate(1, &address));
    (address, hashes, payment)
}

fn coinbase_of(node: &TestNode, block: &str) -> String {
    node.rpc("getblock", &[block])["tx"][0]
        .as_str()
        .expect("a txid")
        .to_string()
}

#[test]
fn the_tx_index_is_built_over_an_existing_chain_and_finds_confirmed_transactions() {
    let mut node = TestNode::start(&[]);
    let (address, hashes, payment) = chain_with_a_payment(&node);
    let old_coinbase = coinbase_of(&node, &hashes[0]);

    // Without the index, a confirmed transaction needs its block hash.
    node.fails_with(
        "getrawtransaction",
        &[&old_coinbase],
        -5,
        "No such mempool transaction. Use -txindex",
    );
    assert!(node.rpc("getindexinfo", &[]).get("txindex").is_none());
    let raw = node.text("getrawtransaction", &[&old_coinbase, "false", &hashes[0]]);

    // Turned on: built in the background, with a line when done.
    let mut restarted = restart(&mut node, &["chain.tx_index=true"]);
    restarted
        .process
        .wait_log("building the tx index in the background", WAIT);
    restarted.process.wait_log("tx index built", WAIT);
    assert_eq!(restarted.height(), 103);

    assert_eq!(restarted.text("getrawtransaction", &[&old_coinbase]), raw);
    let verbose = restarted.rpc("getrawtransaction", &[&old_coinbase, "true"]);
    assert_eq!(verbose["txid"], old_coinbase.as_str());
    assert_eq!(verbose["hex"], raw.as_str());
    assert_eq!(verbose["blockhash"], hashes[0].as_str());
    assert_eq!(verbose["confirmations"], 103);
    assert!(verbose["time"].is_u64() && verbose["time"] == verbose["blocktime"]);
    // As Core: in_active_chain only when the caller named the block.
    assert!(verbose.get("in_active_chain").is_none(), "{verbose}");

    let paid = restarted.rpc("getrawtransaction", &[&payment, "1"]);
    assert_eq!(paid["blockhash"], hashes[102].as_str());
    assert_eq!(paid["confirmations"], 1);

    let indexes = restarted.rpc("getindexinfo", &[]);
    assert_eq!(
        indexes["txindex"],
        json!({"synced": true, "best_block_height": 103})
    );
    assert_eq!(
        restarted.rpc("getindexinfo", &["txindex"]),
        json!({"txindex": {"synced": true, "best_block_height": 103}})
    );

    // Kept up to date by each new block.
    let new_block = restarted.generate(1, &address).remove(0);
    let new_coinbase = coinbase_of(&restarted, &new_block);
    let found = restarted.rpc("getrawtransaction", &[&new_coinbase, "true"]);
    assert_eq!(found["blockhash"], new_block.as_str());

    let genesis = restarted.text("getblockhash", &["0"]);
    let genesis_coinbase = coinbase_of(&restarted, &genesis);
    restarted.fails_with(
        "getrawtransaction",
        &[&genesis_coinbase],
        -5,
        "The genesis block coinbase is not considered an ordinary transaction",
    );
    restarted.fails_with(
        "getrawtransaction",
        &[UNKNOWN_HASH],
        -5,
        "No such mempool or blockchain transaction",
    );
}

#[test]
fn invalidateblock_reorgs_back_for_good_and_reconsiderblock_restores_the_chain() {
    let mut node = TestNode::start(&["chain.tx_index=true".to_string()]);
    let (_, hashes, payment) = chain_with_a_payment(&node);
    let tip = hashes[102].clone();

    assert_eq!(node.rpc("invalidateblock", &[&tip]), Value::Null);
    assert_eq!(node.height(), 102);
    assert_eq!(node.tip(), hashes[101]);
    // The payment is back in the pool (and so no longer found in a block).
    assert_eq!(node.rpc("getrawmempool", &[]), json!([payment]));
    let pooled = node.rpc("getrawtransaction", &[&payment, "true"]);
    assert!(pooled.get("blockhash").is_none(), "{pooled}");
    let tips = node.rpc("getchaintips", &[]);
    let invalid = tips
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["hash"] == tip.as_str())
        .unwrap_or_else(|| panic!("no tip {tip} in {tips}"));
    assert_eq!(invalid["status"], "invalid");

    node.fails_with("invalidateblock", &[UNKNOWN_HASH], -5, "Block not found");
    node.fails_with("reconsiderblock", &[UNKNOWN_HASH], -5, "Block not found");
    node.fails_with("invalidateblock", &["xyz"], -8, "blockhash");
    let genesis = node.text("getblockhash", &["0"]);
    node.fails_with("invalidateblock", &[&genesis], -1, "genesis");
    let help = node.text("help", &["invalidateblock"]);
    assert!(help.contains("Result:"), "{help}");

    // The mark is kept across a restart.
    let restarted = restart(&mut node, &["chain.tx_index=true"]);
    assert_eq!(restarted.height(), 102);
    let tips = restarted.rpc("getchaintips", &[]);
    assert!(
        tips.as_array()
            .unwrap()
            .iter()
            .any(|t| t["hash"] == tip.as_str() && t["status"] == "invalid"),
        "{tips}"
    );

    assert_eq!(restarted.rpc("reconsiderblock", &[&tip]), Value::Null);
    assert_eq!(restarted.height(), 103);
    assert_eq!(restarted.tip(), tip);
    assert_eq!(restarted.rpc("getrawmempool", &[]), json!([]));
    let confirmed = restarted.rpc("getrawtransaction", &[&payment, "true"]);
    assert_eq!(confirmed["blockhash"], tip.as_str());
}

#[test]
fn verifychain_rechecks_the_last_blocks_at_every_level() {
    let node = TestNode::start(&[]);
    chain_with_a_payment(&node);
    assert_eq!(node.rpc("verifychain", &[]), json!(true));
    for level in ["0", "1", "2", "3", "4"] {
        assert_eq!(
            node.rpc("verifychain", &[level, "10"]),
            json!(true),
            "{level}"
        );
    }
    // Every block, at the highest level; a level above 4 is read as 4, as Core does.
    assert_eq!(node.rpc("verifychain", &["4", "0"]), json!(true));
    assert_eq!(node.rpc("verifychain", &["9", "3"]), json!(true));
    assert_eq!(node.height(), 103, "verification changes nothing");
    assert!(node
        .process
        .log()
        .contains("verification: no inconsistencies found"));
    node.fails_with("verifychain", &["\"three\""], -3, "checklevel");
}

/// Whether the node logged the mempool's debug line for `txid` (the wallet's own line at
/// info names the txid too).
fn accepted_line(node: &TestNode, txid: &str) -> bool {
    node.process
        .log()
        .lines()
        .any(|l| l.contains("accepted to mempool") && l.contains(txid))
}

#[test]
fn logging_turns_debug_lines_of_a_category_on_and_off() {
    let node = TestNode::start(&[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(101, &address);
    let state = node.rpc("logging", &[]);
    for category in [
        "node_kernel",
        "node_chain",
        "node_chain_module",
        "node_mempool",
    ] {
        assert_eq!(state[category], false, "{category} in {state}");
    }
    let quiet = node.text("sendtoaddress", &[&address, "1"]);
    assert!(!accepted_line(&node, &quiet));

    let state = node.rpc("logging", &["[\"node_mempool\"]"]);
    assert_eq!(state["node_mempool"], true);
    assert_eq!(state["node_chain"], false);
    let heard = node.text("sendtoaddress", &[&address, "1"]);
    assert!(accepted_line(&node, &heard), "{}", node.process.log());

    let state = node.rpc("logging", &["[]", "[\"node_mempool\"]"]);
    assert_eq!(state["node_mempool"], false);
    let quiet_again = node.text("sendtoaddress", &[&address, "1"]);
    assert!(!accepted_line(&node, &quiet_again));

    let state = node.rpc("logging", &["[\"all\"]"]);
    assert!(
        state.as_object().unwrap().values().all(|on| on == true),
        "{state}"
    );
    node.fails_with(
        "logging",
        &["[\"net\"]"],
        -8,
        "unknown logging category net",
    );
}

#[test]
fn getmemoryinfo_answers_cores_fields_from_the_process() {
    let node = TestNode::start(&[]);
    let info = node.rpc("getmemoryinfo", &[]);
    for field in [
        "used",
        "free",
        "total",
        "locked",
        "chunks_used",
        "chunks_free",
    ] {
        assert!(info["locked"][field].is_u64(), "{field} in {info}");
    }
    assert_eq!(info["locked"]["total"], 0, "no locked pool: {info}");
    let rss = info["process"]["rss"].as_u64().unwrap_or(0);
    assert!(rss > 1 << 20, "{info}");
    assert!(
        info["process"]["peak_rss"].as_u64().unwrap_or(0) >= rss,
        "{info}"
    );
    assert!(node.rpc("getmemoryinfo", &["stats"])["locked"].is_object());
    node.fails_with(
        "getmemoryinfo",
        &["mallocinfo"],
        -8,
        "mallocinfo mode not available",
    );
    node.fails_with("getmemoryinfo", &["other"], -8, "unknown mode other");
}

/// Satoshis of a BTC amount as the node prints it.
fn sats(value: &Value) -> i64 {
    (value.as_f64().expect("an amount") * 1e8).round() as i64
}

#[test]
fn getblockstats_matches_a_recount_from_the_block_and_what_it_spent() {
    let node = TestNode::start(&[]);
    let (_, hashes, payment) = chain_with_a_payment(&node);
    let last = hashes.last().expect("blocks");
    let stats = node.rpc("getblockstats", &["103"]);
    assert_eq!(
        node.rpc("getblockstats", &[last]),
        stats,
        "by height = by hash"
    );

    // The recount: the payment's inputs priced from the transactions they spend.
    let block = node.rpc("getblock", &[last, "2"]);
    let txs = block["tx"].as_array().expect("transactions");
    assert_eq!(txs.len(), 2);
    let tx = &txs[1];
    assert_eq!(tx["txid"], json!(payment));
    let spent: i64 = tx["vin"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|input| {
            let prev = node.rpc(
                "getrawtransaction",
                &[input["txid"].as_str().unwrap(), "true"],
            );
            sats(&prev["vout"][input["vout"].as_u64().unwrap() as usize]["value"])
        })
        .sum();
    let out: i64 = tx["vout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| sats(&o["value"]))
        .sum();
    let fee = spent - out;
    assert!(fee > 0);
    assert_eq!(-sats(&node.rpc("gettransaction", &[&payment])["fee"]), fee);
    let size = tx["size"].as_i64().expect("size");
    let ins = tx["vin"].as_array().unwrap().len() as i64;
    let outs = txs
        .iter()
        .map(|t| t["vout"].as_array().unwrap().len() as i64)
        .sum::<i64>();
    let rate = fee / size;
    let expected = [
        ("avgfee", json!(fee)),
        ("avgfeerate", json!(rate)),
        ("avgtxsize", json!(size)),
        ("blockhash", json!(last)),
        ("feerate_percentiles", json!([rate, rate, rate, rate, rate])),
        ("height", json!(103)),
        ("ins", json!(ins)),
        ("maxfee", json!(fee)),
        ("maxfeerate", json!(rate)),
        ("maxtxsize", json!(size)),
        ("medianfee", json!(fee)),
        ("mediantime", block["mediantime"].clone()),
        ("mediantxsize", json!(size)),
        ("minfee", json!(fee)),
        ("minfeerate", json!(rate)),
        ("mintxsize", json!(size)),
        ("outs", json!(outs)),
        ("subsidy", json!(regtest().subsidy(103))),
        ("swtotal_size", json!(0)),
        ("swtotal_weight", json!(0)),
        ("swtxs", json!(0)),
        ("time", block["time"].clone()),
        ("total_out", json!(out)),
        ("total_size", json!(size)),
        ("total_weight", json!(4 * size)),
        ("totalfee", json!(fee)),
        ("txs", json!(2)),
        ("utxo_increase", json!(outs - ins)),
        ("utxo_increase_actual", json!(outs - ins)),
    ];
    for (name, value) in expected {
        assert_eq!(stats[name], value, "{name} in {stats:#}");
    }
    // 75 bytes in the UTXO set per P2PKH output (Core's count: 34 + 41 overhead).
    assert_eq!(stats["utxo_size_inc"], json!(75 * (outs - ins)));

    let some = node.rpc("getblockstats", &["103", r#"["totalfee","txs"]"#]);
    assert_eq!(some, json!({"totalfee": fee, "txs": 2}));
    // Genesis spends nothing and adds nothing to the UTXO set.
    let genesis = node.rpc("getblockstats", &["0"]);
    assert_eq!(
        (
            &genesis["txs"],
            &genesis["ins"],
            &genesis["totalfee"],
            &genesis["utxo_increase_actual"]
        ),
        (&json!(1), &json!(0), &json!(0), &json!(0))
    );
    assert_eq!(genesis["feerate_percentiles"], json!([0, 0, 0, 0, 0]));

    node.fails_with(
        "getblockstats",
        &["104"],
        -8,
        "Target block height 104 after current tip 103",
    );
    node.fails_with("getblockstats", &[UNKNOWN_HASH], -5, "Block not found");
    node.fails_with(
        "getblockstats",
        &["103", r#"["fees"]"#],
        -8,
        "Invalid selected statistic 'fees'",
    );
}
