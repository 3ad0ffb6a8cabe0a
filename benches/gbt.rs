//! `getblocktemplate` for external miners: how long a template takes with 5,000
//! transactions in the pool, and how soon a long poll answers after a new tip.
//!
//! The benchmark starts the `node` binary cargo built on `configs/regtest.toml` (fresh
//! data directory, free ports on 127.0.0.1), mines 101 blocks to a key of its own, splits
//! the first coinbase into 5,000 coins over two confirmed fan-out steps, and submits 5,000
//! signed single-input payments with `sendrawtransaction`. Then:
//! - `gbt_template_5000tx_p50_ms`, `gbt_template_5000tx_p99_ms`: the latency of 60
//!   `getblocktemplate` calls (selection, dependencies, hex of every transaction, the
//!   JSON reply of about 2 MB, read to the end) one after another;
//! - `gbt_template_txs`: transactions per template (as many as fit in a block);
//! - `gbt_longpoll_wake_p50_ms`: from the start of a `generatetoaddress 1` to the
//!   answer of a long poll waiting on the old tip (the block is mined, connected, the pool
//!   follows, the poll wakes and builds a template on an emptied pool), median of 10;
//! - `gbt_generate_p50_ms`: the same `generatetoaddress 1` call's own latency, for
//!   comparison: the difference is what waking the poll and answering it costs.
//!
//! Run with `cargo bench --bench gbt`; it takes about a minute.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use node_chain::{deserialize, serialize, Address, Block, ChainSpec, Transaction, TxOut};
use node_chain_state::testing::Wallet;
use serde_json::{json, Value};

#[path = "support/json.rs"]
mod json;
#[path = "support/process.rs"]
mod process;
#[path = "support/regtest_node.rs"]
mod regtest_node;
#[path = "support/spend.rs"]
mod spend;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use json::{print, round};
use regtest_node::RegtestNode;

/// Transactions in the pool while templates are measured.
const POOL_TXS: usize = 5_000;
/// Fan-out: the coinbase splits into this many coins, each into `POOL_TXS / SPLIT`.
const SPLIT: usize = 50;
/// A payment's fee (about 10 sat/byte) and a fan-out's (100 outputs, about 3.5 kB).
const FEE: u64 = 2_000;
const SPLIT_FEE: u64 = 40_000;
const TEMPLATE_CALLS: usize = 60;
const LONGPOLL_TRIALS: usize = 10;
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// One JSON-RPC call on a connection of its own (HTTP/1.1, `Connection: close`).
fn call(addr: SocketAddr, cookie: &Path, method: &str, params: Value) -> Result<Value, String> {
    let (user, password) = node_rpc::read_cookie(cookie).map_err(|e| e.to_string())?;
    let auth = node_rpc::basic_authorization(&user, &password);
    let body = json!({"jsonrpc": "1.0", "id": 0, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(180)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    let mut value: Value = serde_json::from_slice(&reply[split + 4..])
        .map_err(|e| format!("{method}: {e}: {}", String::from_utf8_lossy(&reply)))?;
    match value.get("error") {
        None | Some(Value::Null) => Ok(value["result"].take()),
        Some(error) => Err(format!("{method}: {error}")),
    }
}

struct Bench {
    node: RegtestNode,
}

impl Bench {
    fn call(&self, method: &str, params: Value) -> Value {
        call(self.node.rpc, &self.node.cookie(), method, params)
            .unwrap_or_else(|e| panic!("{e}; log {}", self.node.process.log().display()))
    }

    fn block_at(&self, height: u64) -> Block {
        let hash = self.call("getblockhash", json!([height]));
        let hex = self.call("getblock", json!([hash, 0]));
        deserialize(&hex::decode(hex.as_str().expect("hex")).expect("hex")).expect("a block")
    }

    fn send(&self, tx: &Transaction) {
        self.call("sendrawtransaction", json!([hex::encode(serialize(tx))]));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = temp_dir::KeepOnPanic::new("gbt-bench");
    let mut node = RegtestNode::spawn(dir.path().join("node"), &[]);
    let deadline = Instant::now() + SETUP_TIMEOUT;
    while call(node.rpc, &node.cookie(), "getblockcount", json!([])).is_err() {
        node.assert_running();
        assert!(
            Instant::now() < deadline,
            "node (P2P {}) did not answer RPC; log {}",
            node.p2p,
            node.process.log().display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let bench = Bench { node };

    // Coins: block 1 pays our key, 100 more mature it; two confirmed fan-outs split it
    // into POOL_TXS coins.
    let spec = ChainSpec::by_name("regtest").expect("regtest");
    let wallet = Wallet::new(9);
    let address = Address {
        version: spec.address_version,
        hash: wallet.hash160(),
    }
    .to_string();
    bench.call("generatetoaddress", json!([101, address]));
    let coinbase = bench.block_at(1).txs[0].clone();
    let split = |prev: &Transaction, vout: usize, parts: usize| {
        let value = prev.outputs[vout].value - SPLIT_FEE;
        let mut tx = wallet.pay(prev, vout as u32, &wallet, value, SPLIT_FEE);
        tx.outputs = vec![
            TxOut {
                value: value / parts as u64,
                script_pubkey: wallet.script(),
            };
            parts
        ];
        wallet.resign(&mut tx, &prev.outputs[vout].script_pubkey);
        tx
    };
    let first = split(&coinbase, 0, SPLIT);
    bench.send(&first);
    let second: Vec<Transaction> = (0..SPLIT)
        .map(|vout| split(&first, vout, POOL_TXS / SPLIT))
        .collect();
    for tx in &second {
        bench.send(tx);
    }
    bench.call("generatetoaddress", json!([1, address]));
    let payments: Vec<Transaction> = second
        .iter()
        .flat_map(|tx| spend::spend_each_output(tx, &wallet, &wallet, FEE))
        .collect();
    for tx in &payments {
        bench.send(tx);
    }
    let pooled = bench.call("getmempoolinfo", json!([]))["size"]
        .as_u64()
        .expect("size");
    assert_eq!(pooled as usize, POOL_TXS, "every payment pooled");

    let mut samples = Vec::with_capacity(TEMPLATE_CALLS);
    let mut template_txs = 0;
    for _ in 0..TEMPLATE_CALLS {
        let start = Instant::now();
        let template = bench.call("getblocktemplate", json!([{"rules": ["segwit"]}]));
        samples.push(millis(start.elapsed()));
        template_txs = template["transactions"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
    }
    samples.sort_by(f64::total_cmp);
    print(
        "gbt_template_5000tx_p50_ms",
        json!(round(percentile(&samples, 0.5), 1)),
        "ms",
    );
    print(
        "gbt_template_5000tx_p99_ms",
        json!(round(percentile(&samples, 0.99), 1)),
        "ms",
    );
    print("gbt_template_txs", json!(template_txs), "transactions");

    // Long polls on a pool emptied by mining it.
    while bench.call("getmempoolinfo", json!([]))["size"].as_u64() != Some(0) {
        bench.call("generatetoaddress", json!([1, address]));
    }
    let (mut wakes, mut generates) = (Vec::new(), Vec::new());
    for _ in 0..LONGPOLL_TRIALS {
        let id = bench.call("getblocktemplate", json!([]))["longpollid"].clone();
        let (rpc, cookie) = (bench.node.rpc, bench.node.cookie());
        let poll = std::thread::spawn(move || {
            let answer = call(
                rpc,
                &cookie,
                "getblocktemplate",
                json!([{"rules": ["segwit"], "longpollid": id}]),
            );
            (Instant::now(), answer)
        });
        // Benchmarks may wait: the poll must be in the node before the tip moves.
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        bench.call("generatetoaddress", json!([1, address]));
        generates.push(millis(start.elapsed()));
        let (answered, answer) = poll.join().expect("poll thread");
        answer.expect("long poll answered");
        wakes.push(millis(answered.saturating_duration_since(start)));
    }
    wakes.sort_by(f64::total_cmp);
    generates.sort_by(f64::total_cmp);
    print(
        "gbt_longpoll_wake_p50_ms",
        json!(round(percentile(&wakes, 0.5), 2)),
        "ms",
    );
    print(
        "gbt_generate_p50_ms",
        json!(round(percentile(&generates, 0.5), 2)),
        "ms",
    );
    let _ = call(bench.node.rpc, &bench.node.cookie(), "stop", json!([]));
}
