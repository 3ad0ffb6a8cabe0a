//! The electrum plugin: history of a busy address, many subscriptions on one connection,
//! the index's size and how fast it builds.
//!
//! The benchmark starts the `node` binary cargo built on `configs/regtest.toml` with the
//! `electrum` plugin (fresh data directory, free ports on 127.0.0.1) and mines 10,000
//! blocks to one key, so its script has 10,000 transactions (one coinbase per block).
//! Then, on one raw TCP connection speaking the protocol:
//! - `electrum_get_history_10000tx_p50_ms`, `..._p99_ms`: 100 `get_history` calls for
//!   that script, each answer (about 1 MB of JSON) read to its end (rows counted in the
//!   text, not parsed: a client's parsing is not the server's cost);
//! - `electrum_subscribe_10000_ms`: subscribing to 10,000 scripthashes (the busy one and
//!   9,999 others) in batches of 1,000, `electrum_subscribe_per_script_us` the same per
//!   subscription;
//! - `electrum_index_bytes_per_block`: the index's LMDB file over the blocks indexed
//!   (blocks of one coinbase each: the smallest block, so mostly the per-block cost);
//! - `electrum_index_build_blocks_per_s`: the index deleted and rebuilt from the chain at
//!   the next start, to the line saying it is up to date.
//!
//! Run with `cargo bench --bench electrum`; it takes about a minute.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use node_chain::ChainSpec;
use node_chain_state::testing::Wallet;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[path = "support/json.rs"]
mod json;
#[path = "support/process.rs"]
mod process;
#[path = "support/regtest_node.rs"]
mod regtest_node;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use json::{print, round};
use regtest_node::RegtestNode;

const BLOCKS: u32 = 10_000;
const HISTORY_CALLS: usize = 100;
const SUBSCRIPTIONS: usize = 10_000;
const BATCH: usize = 1_000;
const DEADLINE: Duration = Duration::from_secs(300);

fn rpc(node: &RegtestNode, method: &str, params: Value) -> Value {
    let (user, password) = node_rpc::read_cookie(&node.cookie()).expect("cookie");
    let auth = node_rpc::basic_authorization(&user, &password);
    let body = json!({"jsonrpc": "1.0", "id": 0, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect(node.rpc).expect("rpc");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        node.rpc,
        body.len()
    )
    .expect("send");
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut stream, &mut reply).expect("reply");
    let body = reply.split_once("\r\n\r\n").expect("HTTP").1;
    let mut value: Value = serde_json::from_str(body).expect("JSON");
    assert!(value["error"].is_null(), "{method}: {}", value["error"]);
    value["result"].take()
}

struct Electrum {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Electrum {
    fn connect(datadir: &Path) -> Electrum {
        let path = datadir.join("electrum.addr");
        let deadline = Instant::now() + DEADLINE;
        let addr: SocketAddr = loop {
            if let Some(addr) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse().ok())
            {
                break addr;
            }
            assert!(Instant::now() < deadline, "no {}", path.display());
            std::thread::sleep(Duration::from_millis(20));
        };
        let stream = TcpStream::connect(addr).expect("electrum");
        Electrum {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    fn call(&mut self, request: &Value) -> Value {
        let mut line = request.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).expect("send");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("answer");
        serde_json::from_str(&answer).expect("JSON answer")
    }

    /// Rows of a `get_history` answer, counted in the line as read (a client's own JSON
    /// parsing is not the server's cost).
    fn history_len(&mut self, scripthash: &str) -> usize {
        let request =
            json!({"id": 1, "method": "blockchain.scripthash.get_history", "params": [scripthash]});
        let mut line = request.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).expect("send");
        let mut answer = String::new();
        self.reader.read_line(&mut answer).expect("answer");
        assert!(answer.contains("\"result\""), "{answer}");
        answer.matches("\"tx_hash\"").count()
    }
}

fn scripthash(script: &[u8]) -> String {
    let mut hash: [u8; 32] = Sha256::digest(script).into();
    hash.reverse();
    hex::encode(hash)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn start(datadir: &Path) -> RegtestNode {
    RegtestNode::spawn(
        datadir.to_path_buf(),
        &[
            "node.modules=[\"chain\", \"mempool\", \"miner\", \"peers\", \"rpc\", \"electrum\"]"
                .to_string(),
            "electrum.listen=127.0.0.1:0".to_string(),
        ],
    )
}

fn wait_history(electrum: &mut Electrum, scripthash: &str, len: usize) {
    let deadline = Instant::now() + DEADLINE;
    while electrum.history_len(scripthash) < len {
        assert!(
            Instant::now() < deadline,
            "the index did not reach {len} rows"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let dir = temp_dir::KeepOnPanic::new("electrum-bench");
    let datadir = dir.path().join("node");
    let node = start(&datadir);
    eprintln!("node at p2p {} rpc {}", node.p2p, node.rpc);
    let spec = ChainSpec::by_name("regtest").expect("regtest");
    let key = Wallet::new(3);
    let address = key.key().address(spec.address_version).to_string();
    let busy = scripthash(&key.script());
    let mined = Instant::now();
    for _ in 0..BLOCKS / 500 {
        rpc(&node, "generatetoaddress", json!([500, address]));
    }
    eprintln!(
        "mined {BLOCKS} blocks in {:.1} s",
        mined.elapsed().as_secs_f64()
    );
    let mut electrum = Electrum::connect(&datadir);
    wait_history(&mut electrum, &busy, BLOCKS as usize);

    let mut times = Vec::new();
    for _ in 0..HISTORY_CALLS {
        let started = Instant::now();
        let len = electrum.history_len(&busy);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(len, BLOCKS as usize);
    }
    times.sort_by(f64::total_cmp);
    print(
        "electrum_get_history_10000tx_p50_ms",
        json!(round(percentile(&times, 0.5), 2)),
        "ms",
    );
    print(
        "electrum_get_history_10000tx_p99_ms",
        json!(round(percentile(&times, 0.99), 2)),
        "ms",
    );

    let mut scripts: Vec<String> = vec![busy.clone()];
    scripts.extend((1..SUBSCRIPTIONS as u32).map(|n| scripthash(&n.to_le_bytes())));
    let started = Instant::now();
    for (b, chunk) in scripts.chunks(BATCH).enumerate() {
        let batch: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"id": b * BATCH + i, "method": "blockchain.scripthash.subscribe", "params": [s]}))
            .collect();
        let answers = electrum.call(&Value::Array(batch));
        let answers = answers.as_array().expect("a batch answer");
        assert_eq!(answers.len(), chunk.len());
        assert!(
            answers.iter().all(|a| a.get("error").is_none()),
            "{:?}",
            answers[0]
        );
        if b == 0 {
            assert!(
                answers[0]["result"].is_string(),
                "the busy script has a status"
            );
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    print(
        "electrum_subscribe_10000_ms",
        json!(round(elapsed * 1e3, 1)),
        "ms",
    );
    print(
        "electrum_subscribe_per_script_us",
        json!(round(elapsed * 1e6 / SUBSCRIPTIONS as f64, 1)),
        "us",
    );

    let index_file = datadir.join("electrum").join("data.mdb");
    let bytes = std::fs::metadata(&index_file).map(|m| m.len()).unwrap_or(0);
    print(
        "electrum_index_bytes_per_block",
        json!(bytes / u64::from(BLOCKS + 1)),
        "bytes",
    );
    drop(electrum);
    drop(node);

    // Rebuild from the chain: the index removed, the node started again.
    std::fs::remove_dir_all(datadir.join("electrum")).expect("remove the index");
    // A killed node leaves its address file: the next one writes its own.
    let _ = std::fs::remove_file(datadir.join("electrum.addr"));
    let started = Instant::now();
    let _node = start(&datadir);
    let mut electrum = Electrum::connect(&datadir);
    wait_history(&mut electrum, &busy, BLOCKS as usize);
    let seconds = started.elapsed().as_secs_f64();
    print(
        "electrum_index_build_blocks_per_s",
        json!(round(f64::from(BLOCKS + 1) / seconds, 0)),
        "blocks/s",
    );
}
