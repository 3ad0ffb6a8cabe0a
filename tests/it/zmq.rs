//! The zmq plugin against a real ZeroMQ subscriber: Python's pyzmq (libzmq, what
//! bitcoind's listeners use) receives blocks connected and disconnected in a
//! reorganisation and transactions accepted, in order, with contiguous sequence numbers,
//! and bodies that parse as our blocks and transactions.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use node_chain::{deserialize, Block, Transaction};
use serde_json::Value;

use crate::common::{repo_root, wait_for};
use crate::network::{isolated, link, same_tip, unlink};

const WAIT: Duration = Duration::from_secs(60);

/// The pyzmq subscriber, killed when dropped.
struct Subscriber {
    child: Child,
}

impl Subscriber {
    fn start(output: &Path, endpoints: &[&str]) -> Subscriber {
        let child = Command::new("python3")
            .arg(repo_root().join("tests/it/py/zmq_subscriber.py"))
            .arg(output)
            .args(endpoints)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 with pyzmq (scripts/test.sh installs it)");
        Subscriber { child }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn messages(output: &Path) -> Vec<Value> {
    std::fs::read_to_string(output)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn of_topic<'a>(all: &'a [Value], topic: &str) -> Vec<&'a Value> {
    all.iter().filter(|m| m["topic"] == topic).collect()
}

/// A 32-byte body as the hash's usual hex (the bytes are already in RPC order).
fn body(m: &Value) -> Vec<u8> {
    hex::decode(m["body"].as_str().expect("body hex")).expect("hex")
}

#[test]
fn zmq_publishes_blocks_reorgs_and_transactions_as_bitcoind_does() {
    let hash_port = free_port();
    let raw_port = free_port();
    let hash_endpoint = format!("tcp://127.0.0.1:{hash_port}");
    let raw_endpoint = format!("tcp://127.0.0.1:{raw_port}");
    // Hash topics and the sequence share one socket, raw topics another, as Core allows.
    let a = isolated(&[
        "node.modules=[\"chain\", \"mempool\", \"wallet\", \"miner\", \"peers\", \"sync\", \"relay\", \"rpc\", \"zmq\"]",
        &format!("zmq.pubhashblock={hash_endpoint}"),
        &format!("zmq.pubhashtx={hash_endpoint}"),
        &format!("zmq.pubsequence={hash_endpoint}"),
        &format!("zmq.pubrawblock={raw_endpoint}"),
        &format!("zmq.pubrawtx={raw_endpoint}"),
    ]);
    let b = isolated(&[]);

    let listing = a.rpc("getzmqnotifications", &[]);
    let types: Vec<&str> = listing
        .as_array()
        .expect("an array")
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "pubhashblock",
            "pubhashtx",
            "pubrawblock",
            "pubrawtx",
            "pubsequence"
        ]
    );
    assert_eq!(listing[0]["address"], hash_endpoint.as_str());

    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("messages.jsonl");
    let _subscriber = Subscriber::start(&output, &[&hash_endpoint, &raw_endpoint]);
    link(&b, &a);
    let addr_a = a.text("getnewaddress", &[]);
    let addr_b = b.text("getnewaddress", &[]);

    // A subscription reaches the publisher a moment after connecting (ZeroMQ's slow
    // joiner): mine until both sockets have delivered a block.
    wait_for("the subscriber to hear both sockets", WAIT, || {
        let all = messages(&output);
        if !of_topic(&all, "hashblock").is_empty() && !of_topic(&all, "rawblock").is_empty() {
            return Some(());
        }
        a.generate(1, &addr_a);
        None
    });
    let height = a.height();
    if height < 101 {
        a.generate((101 - height) as u32, &addr_a);
    }
    let height = a.height();
    same_tip(&[&a, &b], height);

    unlink(&a, &b);
    let other = a.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&addr_a, &other, "1"]);
    let losing = a.generate(1, &addr_a)[0].clone();
    let winning = b.generate(2, &addr_b);
    link(&b, &a);
    same_tip(&[&a, &b], height + 2);

    let all = wait_for("the reorganisation's messages", WAIT, || {
        let all = messages(&output);
        let last_tip = of_topic(&all, "hashblock")
            .last()
            .map(|m| hex::encode(body(m)));
        let raw_tip = of_topic(&all, "rawblock")
            .last()
            .map(|m| m["hash"].as_str().unwrap_or_default().to_string());
        let readmitted = of_topic(&all, "sequence")
            .iter()
            .filter(|m| {
                let b = body(m);
                b.len() == 41 && b[32] == b'A' && hex::encode(&b[..32]) == txid
            })
            .count();
        (last_tip.as_deref() == Some(winning[1].as_str())
            && raw_tip.as_deref() == Some(winning[1].as_str())
            && readmitted == 2)
            .then_some(all)
    });

    // Every message is three parts; each topic's numbers run without a gap.
    for topic in ["hashblock", "hashtx", "rawblock", "rawtx", "sequence"] {
        let seqs: Vec<i64> = of_topic(&all, topic)
            .iter()
            .map(|m| {
                assert_eq!(m["parts"], 3, "{m}");
                m["seq"].as_i64().expect("seq")
            })
            .collect();
        assert!(!seqs.is_empty(), "no {topic} message");
        for pair in seqs.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "{topic} numbers {seqs:?}");
        }
    }

    // Raw bodies parse as our blocks and transactions, and the hash Python computed is
    // theirs.
    for m in of_topic(&all, "rawblock") {
        let block: Block = deserialize(&body(m)).expect("rawblock parses as a block");
        assert_eq!(block.header.hash().to_string(), m["hash"].as_str().unwrap());
    }
    for m in of_topic(&all, "rawtx") {
        let tx: Transaction = deserialize(&body(m)).expect("rawtx parses as a transaction");
        assert_eq!(tx.txid().to_string(), m["hash"].as_str().unwrap());
    }

    // The tip moved to the losing block, then once to the winning branch's tip.
    let tips: Vec<String> = of_topic(&all, "hashblock")
        .iter()
        .map(|m| hex::encode(body(m)))
        .collect();
    assert_eq!(
        &tips[tips.len() - 2..],
        [losing.clone(), winning[1].clone()]
    );
    let raw_tips: Vec<&str> = of_topic(&all, "rawblock")
        .iter()
        .map(|m| m["hash"].as_str().unwrap())
        .collect();
    assert_eq!(
        &raw_tips[raw_tips.len() - 2..],
        [losing.as_str(), winning[1].as_str()]
    );

    // Block connects and disconnects in order: the losing block in, out, the winning
    // branch in.
    let sequence: Vec<Vec<u8>> = of_topic(&all, "sequence").iter().map(|m| body(m)).collect();
    let blocks: Vec<(String, char)> = sequence
        .iter()
        .filter(|b| b.len() == 33)
        .map(|b| (hex::encode(&b[..32]), b[32] as char))
        .collect();
    let expected = [
        (losing.clone(), 'C'),
        (losing.clone(), 'D'),
        (winning[0].clone(), 'C'),
        (winning[1].clone(), 'C'),
    ];
    assert_eq!(&blocks[blocks.len() - 4..], expected);
    // Mempool messages carry a mempool sequence that counts up by one.
    let mempool: Vec<(u8, u64)> = sequence
        .iter()
        .filter(|b| b.len() == 41)
        .map(|b| (b[32], u64::from_le_bytes(b[33..].try_into().unwrap())))
        .collect();
    assert!(mempool
        .iter()
        .all(|(label, _)| *label == b'A' || *label == b'R'));
    for pair in mempool.windows(2) {
        assert_eq!(pair[1].1, pair[0].1 + 1, "{mempool:?}");
    }
    // The payment's hashtx and rawtx: when it was accepted, confirmed, disconnected and
    // accepted again.
    let hashtx = of_topic(&all, "hashtx")
        .iter()
        .filter(|m| hex::encode(body(m)) == txid)
        .count();
    assert_eq!(hashtx, 4, "hashtx of {txid}");
    let rawtx = of_topic(&all, "rawtx")
        .iter()
        .filter(|m| m["hash"] == txid.as_str())
        .count();
    assert_eq!(rawtx, 4, "rawtx of {txid}");
}

/// A free port for a ZMQ endpoint, which names its port up front as bitcoind's
/// `-zmqpub<topic>` does: bound and released, then given to the node (its P2P and RPC
/// listeners bind port 0 instead).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
