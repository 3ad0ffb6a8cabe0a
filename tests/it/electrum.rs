//! The electrum plugin against a third-party client: BDK's `electrum-client` crate (what
//! BDK wallets sync through) syncs a key's history, subscribes, hears of a payment it
//! broadcast and of the block confirming it, checks merkle proofs, and follows a
//! reorganisation (invalidateblock / reconsiderblock); the index survives a kill, also
//! one in the middle of its first build. A BDK wallet (`bdk_wallet` over `bdk_electrum`,
//! a `pkh()` descriptor) syncs, pays and sees its payment confirmed. The explorer reads
//! address history from the same index. Then the bounds of `[electrum]`, each at its
//! limit, over a raw TCP connection.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use electrum_client::bitcoin::consensus::{
    deserialize as btc_deserialize, serialize as btc_serialize,
};
use electrum_client::bitcoin::{ScriptBuf, Transaction as BtcTransaction, Txid};
use electrum_client::{Client, ElectrumApi, Param};
use node_chain::{deserialize, serialize, sha256d, Hash256, Transaction};
use node_chain_state::testing::Wallet;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::{published_addr, regtest, wait_for, write_profile, TestNode};

const WAIT: Duration = Duration::from_secs(60);

fn profile(tables: &str) -> String {
    crate::common::modules_profile(
        &["chain", "mempool", "miner", "rpc", "electrum"],
        &format!("[miner]\nautostart = false\n\n[electrum]\nlisten = \"127.0.0.1:0\"\n{tables}"),
    )
}

fn connect(datadir: &Path) -> Client {
    let addr = published_addr(datadir, "electrum.addr");
    Client::new(&format!("tcp://{addr}")).expect("connect to the electrum server")
}

pub(crate) fn address(wallet: &Wallet) -> String {
    wallet.key().address(regtest().address_version).to_string()
}

pub(crate) fn script(wallet: &Wallet) -> ScriptBuf {
    ScriptBuf::from_bytes(wallet.script())
}

/// Calls until `check` holds, reading notifications meanwhile (a ping makes the client
/// read the socket).
pub(crate) fn until<T>(
    client: &Client,
    what: &str,
    mut check: impl FnMut(&Client) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check(client) {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        client.ping().expect("ping");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status the protocol defines, computed here from the history the server gave.
fn expected_status(history: &[electrum_client::GetHistoryRes]) -> Option<String> {
    if history.is_empty() {
        return None;
    }
    let mut text = String::new();
    for row in history {
        text.push_str(&format!("{}:{}:", row.tx_hash, row.height));
    }
    Some(hex::encode(Sha256::digest(text.as_bytes())))
}

fn status_of(client: &Client, script: &ScriptBuf) -> Option<String> {
    expected_status(&client.script_get_history(script).expect("get_history"))
}

/// Folds a merkle branch given in the protocol's reversed hex back to a root.
fn fold(leaf: Hash256, branch: &[[u8; 32]], mut index: usize) -> Hash256 {
    let mut node = leaf;
    for sibling in branch {
        let mut sibling = *sibling;
        sibling.reverse();
        let sibling = Hash256(sibling);
        let (left, right) = if index.is_multiple_of(2) {
            (node, sibling)
        } else {
            (sibling, node)
        };
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(left.as_bytes());
        both[32..].copy_from_slice(right.as_bytes());
        node = sha256d(&both);
        index /= 2;
    }
    node
}

fn to_ours(tx: &BtcTransaction) -> Transaction {
    deserialize(&btc_serialize(tx)).expect("the same transaction format")
}

fn to_theirs(tx: &Transaction) -> BtcTransaction {
    btc_deserialize(&serialize(tx)).expect("the same transaction format")
}

#[test]
fn a_wallet_syncs_subscribes_broadcasts_and_follows_a_reorganisation() {
    let dir = tempfile::tempdir().unwrap();
    let profile_path = write_profile(dir.path(), "node.toml", &profile(""));
    let datadir = dir.path().join("data");
    let node = TestNode::start_on_chain(&profile_path, &datadir, &[]);
    let payer = Wallet::new(7);
    let payee = Wallet::new(8);
    let other = Wallet::new(9);
    node.generate(101, &address(&payer));

    let client = connect(&datadir);
    assert_eq!(client.protocol_version().unwrap(), "1.4");
    let features = client.server_features().unwrap();
    assert_eq!(
        hex::encode(features.genesis_hash),
        node.text("getblockhash", &["0"])
    );
    // The index builds in the background: wait for all 101 coinbases.
    let history = until(&client, "the payer's 101 coinbases are indexed", |c| {
        let h = c.script_get_history(&script(&payer)).unwrap();
        (h.len() == 101).then_some(h)
    });
    assert!(history.windows(2).all(|w| w[0].height < w[1].height));
    let balance = client.script_get_balance(&script(&payer)).unwrap();
    assert_eq!(balance.confirmed, 101 * 50 * 100_000_000);
    assert_eq!(balance.unconfirmed, 0);
    assert_eq!(
        client.script_list_unspent(&script(&payer)).unwrap().len(),
        101
    );

    // Subscriptions: headers, and the payer's and payee's scripts.
    let tip = client.block_headers_subscribe().unwrap();
    assert_eq!(tip.height, 101);
    let status = client.script_subscribe(&script(&payer)).unwrap();
    assert_eq!(status.map(|s| hex::encode(*s)), expected_status(&history));
    assert_eq!(client.script_subscribe(&script(&payee)).unwrap(), None);

    // Pay from the first (mature) coinbase, broadcast through the Electrum server.
    let first = client.transaction_get(&history[0].tx_hash).unwrap();
    let first = to_ours(&first);
    let pay = payer.pay(&first, 0, &payee, 10 * 100_000_000, 10_000);
    let txid: Txid = client.transaction_broadcast(&to_theirs(&pay)).unwrap();
    assert_eq!(txid.to_string(), pay.txid().to_string());
    let notified = until(&client, "the payee's status notification", |c| {
        c.script_pop(&script(&payee)).unwrap()
    });
    assert_eq!(
        Some(hex::encode(*notified)),
        status_of(&client, &script(&payee))
    );
    let mempool = client
        .raw_call(
            "blockchain.scripthash.get_mempool",
            vec![Param::String(client_scripthash(&script(&payee)))],
        )
        .unwrap();
    assert_eq!(
        mempool,
        json!([{"tx_hash": pay.txid().to_string(), "height": 0, "fee": 10_000}])
    );
    let payee_balance = client.script_get_balance(&script(&payee)).unwrap();
    assert_eq!(
        (payee_balance.confirmed, payee_balance.unconfirmed),
        (0, 10 * 100_000_000)
    );
    // A child spending the unconfirmed payment: height -1, listed after its parent.
    let child = payee.pay(&pay, 0, &other, 100_000_000, 10_000);
    client.transaction_broadcast(&to_theirs(&child)).unwrap();
    let rows = until(&client, "the child in the payee's history", |c| {
        let h = c.script_get_history(&script(&payee)).unwrap();
        (h.len() == 2).then_some(h)
    });
    assert_eq!(
        rows.iter()
            .map(|r| (r.tx_hash.to_string(), r.height))
            .collect::<Vec<_>>(),
        vec![(pay.txid().to_string(), 0), (child.txid().to_string(), -1)]
    );
    let payee_balance = client.script_get_balance(&script(&payee)).unwrap();
    assert_eq!(
        payee_balance.unconfirmed,
        10 * 100_000_000 - 100_000_000 - 10_000
    );
    let unspent = client.script_list_unspent(&script(&payee)).unwrap();
    assert_eq!(
        unspent.len(),
        1,
        "the child's change; the payment's output is spent"
    );
    assert_eq!(unspent[0].tx_hash.to_string(), child.txid().to_string());
    // Fees: the pool's two transactions in the histogram, the node's own relay fee and
    // estimate (-1 when it has no data, as the protocol says).
    let histogram = client
        .raw_call("mempool.get_fee_histogram", vec![])
        .unwrap();
    let vsize: u64 = histogram
        .as_array()
        .unwrap()
        .iter()
        .map(|band| band[1].as_u64().unwrap())
        .sum();
    assert_eq!(vsize as usize, pay.size() + child.size(), "{histogram}");
    let info = node.rpc("getmempoolinfo", &[]);
    assert_eq!(
        client.relay_fee().unwrap(),
        info["minrelaytxfee"].as_f64().unwrap()
    );
    let estimate = node.rpc("estimatesmartfee", &["2"]);
    assert_eq!(
        client.estimate_fee(2, None).unwrap(),
        estimate["feerate"].as_f64().unwrap_or(-1.0)
    );
    // A second broadcast of the same transaction is the node's refusal, code 2.
    let again = client.transaction_broadcast(&to_theirs(&pay)).unwrap_err();
    assert!(
        format!("{again:?}").contains("txn-already-in-mempool"),
        "{again:?}"
    );

    // A block confirms it: a header notification and a status change.
    let mined = node.generate(1, &address(&other));
    let header = until(&client, "the header notification", |c| {
        c.block_headers_pop().unwrap()
    });
    assert_eq!(header.height, 102);
    assert_eq!(header.header.block_hash().to_string(), mined[0]);
    until(&client, "the payee's history shows the block", |c| {
        let h = c.script_get_history(&script(&payee)).unwrap();
        (h.len() == 2 && h.iter().all(|r| r.height == 102)).then_some(())
    });
    let popped = until(&client, "the payee's confirmation notification", |c| {
        let status = c.script_pop(&script(&payee)).unwrap()?;
        (Some(hex::encode(*status)) == status_of(c, &script(&payee))).then_some(status)
    });
    assert_ne!(*popped, [0u8; 32]);

    // The merkle branch of the payment folds to the block's merkle root.
    let proof = client.transaction_get_merkle(&txid, 102).unwrap();
    assert_eq!(proof.pos, 1);
    let root = fold(pay.txid(), &proof.merkle, proof.pos);
    assert_eq!(
        root.to_string(),
        header.header.merkle_root.to_string(),
        "merkle branch"
    );
    // A header's branch to a checkpoint folds to the root over the block hashes.
    let answer = client
        .raw_call(
            "blockchain.block.header",
            vec![Param::U32(5), Param::U32(102)],
        )
        .unwrap();
    let branch: Vec<[u8; 32]> = answer["branch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let leaf: Hash256 = node.text("getblockhash", &["5"]).parse().unwrap();
    assert_eq!(
        fold(leaf, &branch, 5).to_string(),
        answer["root"].as_str().unwrap()
    );
    let header_5 = node.text("getblockheader", &[&leaf.to_string(), "false"]);
    assert_eq!(answer["header"], header_5);

    // Reorganisation: the block leaves, the payment returns to the mempool.
    node.text("invalidateblock", &[&mined[0]]);
    let header = until(
        &client,
        "the header notification of the shorter chain",
        |c| c.block_headers_pop().unwrap().filter(|h| h.height == 101),
    );
    assert_eq!(header.height, 101);
    until(&client, "the payment is unconfirmed again", |c| {
        let h = c.script_get_history(&script(&payee)).unwrap();
        (h.len() == 2 && h[0].height == 0 && h[1].height == -1).then_some(())
    });
    until(&client, "a status notification of the payee", |c| {
        let status = c.script_pop(&script(&payee)).unwrap()?;
        (Some(hex::encode(*status)) == status_of(c, &script(&payee))).then_some(())
    });
    node.text("reconsiderblock", &[&mined[0]]);
    until(&client, "the payment is confirmed again", |c| {
        let h = c.script_get_history(&script(&payee)).unwrap();
        (h.len() == 2 && h.iter().all(|r| r.height == 102)).then_some(())
    });
    let before_kill = client.script_get_history(&script(&payer)).unwrap();
    assert_eq!(before_kill.len(), 102, "101 coinbases and the payment");
    drop(client);

    // Killed (SIGKILL), restarted: the index resumes where it stood.
    drop(node);
    let mut node = TestNode::start_on_chain(&profile_path, &datadir, &[]);
    node.process.wait_log("electrum index up to date", WAIT);
    assert!(
        !node.process.log().contains("catching up"),
        "the index was complete: {}",
        node.process.log()
    );
    let client = connect(&datadir);
    let after = client.script_get_history(&script(&payer)).unwrap();
    assert_eq!(
        after
            .iter()
            .map(|r| (r.tx_hash, r.height))
            .collect::<Vec<_>>(),
        before_kill
            .iter()
            .map(|r| (r.tx_hash, r.height))
            .collect::<Vec<_>>()
    );
    node.generate(1, &address(&payee));
    until(&client, "the payee's coinbase after the restart", |c| {
        (c.script_get_history(&script(&payee)).unwrap().len() == 3).then_some(())
    });
}

/// The protocol's hex of a script's hash (reversed sha256).
fn client_scripthash(script: &ScriptBuf) -> String {
    let mut hash: [u8; 32] = Sha256::digest(script.as_bytes()).into();
    hash.reverse();
    hex::encode(hash)
}

/// A raw connection: one line out, one line in.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(datadir: &Path) -> Raw {
        let stream = TcpStream::connect(published_addr(datadir, "electrum.addr")).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Sends one line; a server that already closed (after an oversized line) is not
    /// an error here: its answer is read next.
    fn send(&mut self, line: &str) {
        let _ = self.writer.write_all(format!("{line}\n").as_bytes());
    }

    fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("a JSON line")),
        }
    }

    fn call(&mut self, line: &str) -> Value {
        self.send(line);
        self.read().expect("an answer")
    }
}

fn subscribe(n: u8) -> String {
    json!({"id": n, "method": "blockchain.scripthash.subscribe", "params": [hex::encode([n; 32])]})
        .to_string()
}

#[test]
fn every_bound_of_the_electrum_server_holds_at_its_limit() {
    let node = TestNode::start_text(
        &profile(
            "max_connections = 2\nmax_subscriptions = 3\nmax_line_bytes = 1000\nmax_batch = 4\nmax_history = 3\n",
        ),
        &[],
    );
    let datadir = node.datadir().to_path_buf();
    let mut first = Raw::connect(&datadir);
    let mut second = Raw::connect(&datadir);
    // Both are served (an answer proves the server holds their permits).
    assert_eq!(
        first.call(r#"{"id":1,"method":"server.ping"}"#)["result"],
        Value::Null
    );
    assert_eq!(second.call(r#"{"id":1,"method":"server.ping"}"#)["id"], 1);
    // A third connection is told why and closed.
    let mut third = Raw::connect(&datadir);
    let refused = third.read().expect("an error line");
    assert_eq!(refused["error"]["code"], 1);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 2 connections"));
    assert!(third.read().is_none(), "closed");

    // Subscriptions: three, then a fourth is refused; one already held is answered.
    for n in 1..=3 {
        assert_eq!(first.call(&subscribe(n))["result"], Value::Null);
    }
    let refused = first.call(&subscribe(4));
    assert_eq!(refused["error"]["code"], 1);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 3"));
    assert_eq!(first.call(&subscribe(3))["result"], Value::Null);
    // After an unsubscribe there is room again.
    let unsubscribe = json!({"id": 9, "method": "blockchain.scripthash.unsubscribe", "params": [hex::encode([1u8; 32])]});
    assert_eq!(first.call(&unsubscribe.to_string())["result"], true);
    assert!(first.call(&subscribe(4)).get("error").is_none());

    // Batches: four answered in order, five refused as one error.
    let batch = |n: usize| {
        let calls: Vec<Value> = (0..n)
            .map(|i| json!({"id": i, "method": "server.ping"}))
            .collect();
        Value::Array(calls).to_string()
    };
    let answers = second.call(&batch(4));
    assert_eq!(answers.as_array().unwrap().len(), 4);
    assert_eq!(answers[3]["id"], 3);
    let refused = second.call(&batch(5));
    assert_eq!(refused["error"]["code"], -32600);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 4"));

    // electrs's errors for malformed requests.
    assert_eq!(second.call("{not json")["error"]["code"], -32700);
    assert_eq!(
        second.call(r#"{"id":2,"method":"no.such"}"#)["error"]["code"],
        -32601
    );
    let bad_params = second.call(r#"{"id":3,"method":"blockchain.block.header","params":["x"]}"#);
    assert_eq!(bad_params["error"]["code"], -32602);
    let unknown_tx = second.call(&json!({"id": 4, "method": "blockchain.transaction.get", "params": [hex::encode([5u8; 32])]}).to_string());
    assert_eq!(unknown_tx["error"]["code"], 2);

    // A line of exactly the limit is read; one byte more is answered and closed.
    let pad = |len: usize| {
        let head = r#"{"id":5,"method":"server.ping","params":[],"pad":""#;
        format!("{head}{}\"}}", "x".repeat(len - head.len() - 2))
    };
    assert_eq!(second.call(&pad(1000))["id"], 5);
    let refused = second.call(&pad(1001));
    assert_eq!(refused["error"]["code"], -32600);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1000 bytes"));
    assert!(second.read().is_none(), "closed");

    // Its permit is back: a new connection is served.
    let mut fourth = wait_for("a free connection slot", WAIT, || {
        let mut raw = Raw::connect(&datadir);
        let answer = raw.call(r#"{"id":1,"method":"server.version","params":["test","1.4"]}"#);
        (answer["result"] == json!([answer["result"][0], "1.4"]) && answer["result"][0].is_string())
            .then_some(raw)
    });
    let old = fourth.call(r#"{"id":2,"method":"server.version","params":["test","1.2"]}"#);
    assert_eq!(old["error"]["code"], 1);

    // History: three rows are answered, a fourth is refused (balance and status too).
    let busy = Wallet::new(11);
    let request = json!({"id": 7, "method": "blockchain.scripthash.get_history", "params": [client_scripthash(&script(&busy))]}).to_string();
    node.generate(3, &address(&busy));
    wait_for("three rows of history", WAIT, || {
        let answer = fourth.call(&request);
        (answer["result"].as_array().map(Vec::len) == Some(3)).then_some(())
    });
    node.generate(1, &address(&busy));
    let refused = wait_for("the history bound", WAIT, || {
        let answer = fourth.call(&request);
        answer.get("error").cloned()
    });
    assert_eq!(refused["code"], 1);
    assert!(
        refused["message"].as_str().unwrap().contains("more than 3"),
        "{refused}"
    );
    let balance = fourth.call(&request.replace("get_history", "get_balance"));
    assert_eq!(balance["error"]["code"], 1);
}

#[test]
fn the_explorer_reads_address_history_from_the_electrum_index() {
    let mut node = TestNode::start_text(
        &crate::common::modules_profile(
            &["chain", "mempool", "miner", "rpc", "electrum", "explorer"],
            "[chain]\naddress_index = true\n\n[miner]\nautostart = false\n\n\
             [electrum]\nlisten = \"127.0.0.1:0\"\n\n[explorer]\nlisten = \"127.0.0.1:0\"\n",
        ),
        &[],
    );
    let http = node.http_addr("explorer");
    let payer = Wallet::new(7);
    let payee = Wallet::new(8);
    node.generate(101, &address(&payer));
    let client = connect(node.datadir());
    let history = until(&client, "the coinbases are indexed", |c| {
        let h = c.script_get_history(&script(&payer)).unwrap();
        (h.len() == 101).then_some(h)
    });
    let first = to_ours(&client.transaction_get(&history[0].tx_hash).unwrap());
    let pay = payer.pay(&first, 0, &payee, 100_000_000, 10_000);
    client.transaction_broadcast(&to_theirs(&pay)).unwrap();
    node.generate(1, &address(&payer));
    let page = wait_for("the payee's history on the explorer", WAIT, || {
        let (status, body) = crate::observability::http_get(
            &http,
            &format!("/explorer/api/address/{}", address(&payee)),
        )?;
        let page: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && page["history_count"] == 1).then_some(page)
    });
    assert_eq!(page["history"][0]["txid"], pay.txid().to_string());
    assert_eq!(page["history"][0]["height"], 102);
    // The transaction page finds its block through the same index.
    let (status, body) =
        crate::observability::http_get(&http, &format!("/explorer/api/tx/{}", pay.txid())).unwrap();
    assert_eq!(status, 200, "{body}");
    let tx: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(tx["height"], 102);
    assert_eq!(tx["fee"], 10_000);
}

#[test]
fn a_node_killed_while_the_index_builds_resumes_it_consistently() {
    // A chain built without the plugin, so the index has blocks to catch up with.
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("data");
    let without = write_profile(
        dir.path(),
        "plain.toml",
        &crate::common::modules_profile(
            &["chain", "mempool", "miner", "rpc"],
            "[miner]\nautostart = false\n",
        ),
    );
    let with = write_profile(dir.path(), "electrum.toml", &profile(""));
    let payer = Wallet::new(7);
    let node = TestNode::start_on_chain(&without, &datadir, &[]);
    for _ in 0..3 {
        node.generate(500, &address(&payer));
    }
    drop(node);

    // Killed (SIGKILL) as soon as it says it is catching up: mid-build, or just after.
    let mut node = TestNode::start_on_chain(&with, &datadir, &[]);
    node.process.wait_log("electrum index: catching up", WAIT);
    drop(node);
    let _ = std::fs::remove_file(datadir.join("electrum.addr"));

    let mut node = TestNode::start_on_chain(&with, &datadir, &[]);
    node.process.wait_log("electrum index up to date", WAIT);
    // Where the second start resumed (`from=`: above 0 when the kill came mid-build).
    for line in node
        .process
        .log()
        .lines()
        .filter(|l| l.contains("electrum index"))
    {
        println!("{line}");
    }
    let client = connect(&datadir);
    let history = client.script_get_history(&script(&payer)).unwrap();
    assert_eq!(history.len(), 1500, "{}", node.process.log());
    let heights: Vec<i32> = history.iter().map(|r| r.height).collect();
    assert_eq!(heights, (1..=1500).collect::<Vec<i32>>());
    let balance = client.script_get_balance(&script(&payer)).unwrap();
    let subsidy = |h: u64| (50 * 100_000_000u64) >> (h / 150);
    assert_eq!(balance.confirmed, (1..=1500).map(subsidy).sum::<u64>());
}

#[test]
fn a_bdk_wallet_syncs_and_pays_through_the_electrum_server() {
    use bdk_electrum::BdkElectrumClient;
    use bdk_wallet::bitcoin::{Amount, BlockHash, FeeRate, Network};
    use bdk_wallet::{KeychainKind, SignOptions, Wallet as BdkWallet};

    let node = TestNode::start_text(&profile(""), &[]);
    let genesis: BlockHash = node.text("getblockhash", &["0"]).parse().unwrap();
    // A `pkh()` descriptor of one key: our regtest's address and WIF versions are
    // Bitcoin's testnet ones, so BDK's Regtest network reads them.
    let key = Wallet::new(21);
    let wif = key.key().to_wif(regtest().wif_version);
    let mut wallet = BdkWallet::create_single(format!("pkh({wif})"))
        .network(Network::Regtest)
        .genesis_hash(genesis)
        .create_wallet_no_persist()
        .expect("a BDK wallet");
    let receive = wallet.reveal_next_address(KeychainKind::External).address;
    assert_eq!(receive.to_string(), address(&key));
    node.generate(110, &receive.to_string());
    let url = format!("tcp://{}", published_addr(node.datadir(), "electrum.addr"));
    let client = BdkElectrumClient::new(electrum_client::Client::new(&url).unwrap());
    let sync = |wallet: &mut BdkWallet, what: &str, done: &dyn Fn(&BdkWallet) -> bool| {
        wait_for(what, WAIT, || {
            let request = wallet.start_full_scan().build();
            let update = client.full_scan(request, 5, 10, true).ok()?;
            wallet.apply_update(update).ok()?;
            done(wallet).then_some(())
        })
    };
    sync(&mut wallet, "BDK sees the 110 coinbases", &|w| {
        w.transactions().count() == 110 && w.latest_checkpoint().height() == 110
    });
    // Eleven of the coinbases are mature (100 confirmations).
    let balance = wallet.balance();
    assert_eq!(balance.total(), Amount::from_sat(110 * 50 * 100_000_000));
    assert_eq!(balance.confirmed, Amount::from_sat(11 * 50 * 100_000_000));

    // BDK builds, signs and broadcasts a payment; the node's mempool takes it.
    let other = Wallet::new(22);
    let mut builder = wallet.build_tx();
    builder
        .add_recipient(
            ScriptBuf::from_bytes(other.script()),
            Amount::from_sat(100_000_000),
        )
        .fee_rate(FeeRate::from_sat_per_vb(5).unwrap());
    let mut psbt = builder.finish().expect("a payment");
    #[expect(
        deprecated,
        reason = "the wallet's own signers hold the descriptor's key; the replacement needs a KeyMap kept by the caller"
    )]
    let signed = wallet.sign(&mut psbt, SignOptions::default()).unwrap();
    assert!(signed);
    let tx = psbt.extract_tx().expect("a signed transaction");
    let txid = client.transaction_broadcast(&tx).expect("broadcast");
    // The node's own mempool holds it (the call fails otherwise).
    node.rpc("getmempoolentry", &[&txid.to_string()]);
    node.generate(1, &address(&other));
    sync(&mut wallet, "BDK sees its payment confirmed", &|w| {
        w.get_tx(txid)
            .is_some_and(|t| t.chain_position.is_confirmed())
    });
}

/// The value of one series (`name{labels}`) in a Prometheus text page.
fn series(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[test]
fn the_electrum_server_counts_connections_calls_subscriptions_and_notifications() {
    let mut node = TestNode::start_text(
        &crate::common::modules_profile(
            &["chain", "mempool", "miner", "rpc", "electrum", "metrics"],
            "[miner]\nautostart = false\n\n[electrum]\nlisten = \"127.0.0.1:0\"\nmax_connections = 1\n",
        ),
        &["metrics.listen=127.0.0.1:0".to_string()],
    );
    let metrics = node.http_addr("metrics");
    let datadir = node.datadir().to_path_buf();
    // Waits until every series reads as wanted, and answers the page.
    let expect = |wanted: &[(&str, f64)]| {
        wait_for("the electrum series", WAIT, || {
            let (_, page) = crate::observability::http_get(&metrics, "/metrics")?;
            wanted
                .iter()
                .all(|(name, value)| series(&page, name) == Some(*value))
                .then_some(page)
        })
    };

    let mut client = Raw::connect(&datadir);
    assert_eq!(
        client.call(r#"{"id":1,"method":"server.ping"}"#)["result"],
        Value::Null
    );
    for n in 1..=2 {
        assert_eq!(client.call(&subscribe(n))["result"], Value::Null);
    }
    assert_eq!(client.call("{not json")["error"]["code"], -32700);
    let tip = client.call(r#"{"id":5,"method":"blockchain.headers.subscribe"}"#);
    assert!(tip["result"]["height"].is_number(), "{tip}");
    // Over the bound of one connection: refused and counted.
    let mut refused = Raw::connect(&datadir);
    assert_eq!(refused.read().expect("an error line")["error"]["code"], 1);
    expect(&[
        ("node_electrum_connections{transport=\"tcp\"}", 1.0),
        (
            "node_electrum_connections_refused_total{transport=\"tcp\"}",
            1.0,
        ),
        ("node_electrum_subscriptions", 2.0),
        ("node_electrum_calls_total{result=\"ok\"}", 4.0),
        ("node_electrum_calls_total{result=\"error\"}", 1.0),
    ]);

    // A new tip reaches the headers subscriber: one notification.
    node.generate(1, &address(&Wallet::new(12)));
    let note = client.read().expect("a notification");
    assert_eq!(note["method"], "blockchain.headers.subscribe", "{note}");
    expect(&[("node_electrum_notifications_total", 1.0)]);

    // The connection closed: its subscriptions leave the gauge with it.
    drop(client);
    expect(&[
        ("node_electrum_connections{transport=\"tcp\"}", 0.0),
        ("node_electrum_subscriptions", 0.0),
    ]);
}
