//! Mining by an external program: `tests/it/gbt_client.py`, a getblocktemplate miner
//! written from BIP22/BIP23 with Python's standard library, mines on regtest through
//! `getblocktemplate` and `submitblock`; its blocks must be accepted and reach a second
//! node, its long poll must wake on a new tip, and bad or stale blocks must get Bitcoin
//! Core's reasons.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{regtest, repo_root, wait_for, TestNode};

const WAIT: Duration = Duration::from_secs(60);

/// Runs the client with `args` against `node`; what it printed, as JSON.
fn client(node: &TestNode, args: &[&str]) -> Value {
    let out = client_command(node, args)
        .output()
        .expect("python3 runs (scripts/test.sh needs it for the discovery tests too)");
    assert!(
        out.status.success(),
        "gbt_client {args:?} failed: {}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.process.log()
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

fn client_command(node: &TestNode, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/it/gbt_client.py"))
        .arg(format!("http://127.0.0.1:{}/", node.rpc_port))
        .arg(node.datadir().join(".cookie"))
        .args(args);
    cmd
}

fn is_hex(value: &Value, len: usize) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn external_miner_blocks_are_accepted_and_reach_a_second_node() {
    let a = TestNode::start(&[]);
    let b = TestNode::start(&[format!("peers.connect=[\"{}\"]", a.p2p_addr())]);
    wait_for("the nodes to connect", WAIT, || {
        (a.rpc("getconnectioncount", &[]).as_u64() >= Some(1)).then_some(())
    });
    // Mature coins, then two payments waiting in the pool (the second may spend the
    // first's change: a dependency inside the template).
    let funds = a.text("getnewaddress", &[]);
    a.generate(101, &funds);
    let payee = a.text("getnewaddress", &[]);
    let first = a.text("sendtoaddress", &[&payee, "1"]);
    let second = a.text("sendtoaddress", &[&payee, "2"]);

    let template = a.rpc("getblocktemplate", &[r#"{"rules":["segwit"]}"#]);
    // Without a request object, as without the rules we lack: the same template.
    assert_eq!(
        a.rpc("getblocktemplate", &[])["transactions"],
        template["transactions"]
    );
    assert_eq!(template["previousblockhash"], a.tip().as_str());
    assert_eq!(template["height"], 102);
    assert_eq!(template["version"], 0x2000_0000);
    assert_eq!(template["bits"], "207fffff");
    assert!(is_hex(&template["target"], 64), "{template}");
    assert!(template["target"].as_str().unwrap().starts_with("7fffff"));
    assert_eq!(template["noncerange"], "00000000ffffffff");
    assert_eq!(template["sizelimit"], regtest().max_block_size);
    assert_eq!(
        template["mutable"],
        serde_json::json!(["time", "transactions", "prevblock"])
    );
    assert!(template["rules"].is_array(), "{template}");
    assert_eq!(template["capabilities"], serde_json::json!(["proposal"]));
    assert!(template["longpollid"].is_string(), "{template}");
    let (mintime, curtime) = (
        template["mintime"].as_u64().unwrap(),
        template["curtime"].as_u64().unwrap(),
    );
    assert!(mintime <= curtime, "{template}");
    let txs = template["transactions"].as_array().expect("transactions");
    assert_eq!(txs.len(), 2, "{template}");
    let mut fees = 0;
    for (i, tx) in txs.iter().enumerate() {
        assert!(tx["data"].is_string() && is_hex(&tx["txid"], 64), "{tx}");
        assert_eq!(tx["hash"], tx["txid"]);
        assert!(tx["sigops"].as_u64() >= Some(1), "{tx}");
        fees += tx["fee"].as_u64().filter(|f| *f > 0).expect("a fee");
        for d in tx["depends"].as_array().expect("depends") {
            // 1-based positions of earlier template transactions.
            assert!(
                d.as_u64().is_some_and(|d| d >= 1 && d as usize <= i),
                "{tx}"
            );
        }
    }
    let listed: Vec<&str> = txs.iter().map(|t| t["txid"].as_str().unwrap()).collect();
    assert!(listed.contains(&first.as_str()) && listed.contains(&second.as_str()));
    assert_eq!(
        template["coinbasevalue"].as_u64(),
        Some(regtest().subsidy(102) + fees)
    );
    // curtime follows the clock between calls.
    wait_for("curtime to advance", WAIT, || {
        let later = a.rpc("getblocktemplate", &[]);
        (later["curtime"].as_u64() > Some(curtime)).then_some(())
    });

    // The external miner pays an address of the second node's wallet.
    let own = b.text("getnewaddress", &[]);
    let mined = client(&a, &["mine", &own, "2"]);
    let mined: Vec<String> = mined
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    assert_eq!(a.tip(), mined[1]);
    assert_eq!(a.height(), 103);
    assert_eq!(
        a.rpc("getmempoolinfo", &[])["size"],
        0,
        "both payments mined"
    );
    let block = a.rpc("getblock", &[&mined[0], "2"]);
    let coinbase = &block["tx"][0];
    assert_eq!(coinbase["vout"][0]["scriptPubKey"]["address"], own.as_str());
    assert_eq!(coinbase["vout"][1]["scriptPubKey"]["type"], "nulldata");
    assert_eq!(block["tx"].as_array().map(Vec::len), Some(3));
    // Relayed like the built-in miner's blocks.
    wait_for("the second node to reach the mined tip", WAIT, || {
        (b.tip() == mined[1]).then_some(())
    });
}

#[test]
fn long_poll_wakes_on_a_new_tip_and_bad_blocks_get_core_reasons() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(1, &address);

    let mut poll = client_command(&node, &["longpoll"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(poll.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().expect("a line").expect("text"), "ready");
    // Whether the poll is already waiting or not yet sent, its id names the old tip: the
    // answer must build on the new one.
    let new_tip = node.generate(1, &address).remove(0);
    let woke: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("text")).expect("JSON");
    assert!(poll.wait().expect("exit").success());
    assert_eq!(woke["after"], new_tip.as_str(), "{woke}");
    assert_ne!(woke["before"], woke["after"]);
    assert_eq!(woke["height"], 3);

    let answers = client(&node, &["reasons", &address]);
    assert_eq!(answers["winner"], Value::Null, "{answers}");
    assert_eq!(answers["duplicate"], "duplicate", "{answers}");
    assert_eq!(answers["stale"], "inconclusive", "{answers}");
    assert_eq!(
        answers["stale_proposal"], "inconclusive-not-best-prevblk",
        "{answers}"
    );
    assert_eq!(answers["bad_merkle"], "bad-txnmrklroot", "{answers}");
    assert_eq!(
        answers["bad_merkle_proposal"], "bad-txnmrklroot",
        "{answers}"
    );
    assert_eq!(answers["high_hash"], "high-hash", "{answers}");
    assert_eq!(answers["overpaid"], "bad-cb-amount", "{answers}");
    assert_eq!(answers["overpaid_proposal"], "bad-cb-amount", "{answers}");
    // Nothing of that moved the tip past the winner.
    assert_eq!(node.height(), 3);

    node.fails_with("submitblock", &["zz"], -22, "Block decode failed");
    node.fails_with("submitblock", &["00"], -22, "Block decode failed");
    node.fails_with(
        "getblocktemplate",
        &[r#"{"mode":"bogus"}"#],
        -8,
        "Invalid mode",
    );
    node.fails_with(
        "getblocktemplate",
        &[r#"{"mode":"proposal"}"#],
        -3,
        "Missing data",
    );
    node.fails_with("getblocktemplate", &["5"], -3, "object");
}

#[test]
fn difficulty_and_network_hash_rate_answer_as_core() {
    let node = TestNode::start_wallet(&[], "", &[]);
    assert_eq!(node.rpc("getnetworkhashps", &[]).as_f64(), Some(0.0));
    let address = node.text("getnewaddress", &[]);
    node.generate(5, &address);
    let difficulty = node.rpc("getdifficulty", &[]).as_f64().expect("a number");
    assert!(difficulty > 0.0);
    assert_eq!(
        node.rpc("getmininginfo", &[])["difficulty"].as_f64(),
        Some(difficulty)
    );
    // Rates are finite and non-negative whatever the window.
    for args in [
        &[][..],
        &["3"],
        &["0"],
        &["-1"],
        &["3", "4"],
        &["120", "-1"],
    ] {
        let rate = node.rpc("getnetworkhashps", args);
        assert!(rate.as_f64().is_some_and(|r| r >= 0.0), "{args:?}: {rate}");
    }
    node.fails_with(
        "getnetworkhashps",
        &["120", "6"],
        -8,
        "Block does not exist at specified height",
    );
    // `node rpc` parses a numeric argument as JSON, so a bare `x` never leaves the
    // client; a JSON string reaches the node, which refuses its type.
    node.fails_with("getnetworkhashps", &["\"x\""], -3, "nblocks");
}

#[test]
fn prioritisetransaction_changes_the_fee_templates_count() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(101, &address);
    let txid = node.text("sendtoaddress", &[&address, "1"]);
    let entry = node.rpc("getmempoolentry", &[&txid]);
    assert_eq!(entry["fees"]["base"], entry["fees"]["modified"]);

    assert_eq!(
        node.rpc("prioritisetransaction", &[&txid, "0", "100000"]),
        Value::Bool(true)
    );
    let entry = node.rpc("getmempoolentry", &[&txid]);
    let base = entry["fees"]["base"].as_f64().unwrap();
    let modified = entry["fees"]["modified"].as_f64().unwrap();
    assert!((modified - base - 0.001).abs() < 1e-9, "{entry}");
    let listed = node.rpc("getrawmempool", &["true"]);
    assert_eq!(listed[&txid]["fees"], entry["fees"]);
    // Templates still pay the real fee.
    let template = node.rpc("getblocktemplate", &[]);
    let fee = template["transactions"][0]["fee"].as_u64().unwrap();
    assert_eq!(fee, (base * 1e8).round() as u64);

    node.fails_with(
        "prioritisetransaction",
        &[&txid, "1", "5"],
        -8,
        "dummy argument to prioritisetransaction must be 0",
    );
    node.fails_with("prioritisetransaction", &["xyz", "0", "5"], -8, "txid");
    node.fails_with("prioritisetransaction", &[&txid, "0"], -1, "fee_delta");
    node.fails_with(
        "prioritisetransaction",
        &[&txid, "0", "1.5"],
        -3,
        "fee_delta",
    );
}
