//! Networks of real nodes on 127.0.0.1: the tutorial's walkthrough with each sync
//! strategy and broadcast behaviour, forks and reorganisations.

use std::time::Duration;

use serde_json::Value;

use crate::common::{wait_for, TestNode};

const WAIT: Duration = Duration::from_secs(30);

fn connected_pair(sets: &[&str]) -> (TestNode, TestNode) {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let a = TestNode::start(&sets);
    let mut b_sets = sets.clone();
    b_sets.push(format!("peers.connect=[\"{}\"]", a.p2p_addr()));
    let b = TestNode::start(&b_sets);
    wait_for("the two nodes to connect", WAIT, || {
        (a.rpc("getconnectioncount", &[]).as_u64() >= Some(1)
            && b.rpc("getconnectioncount", &[]).as_u64() >= Some(1))
        .then_some(())
    });
    (a, b)
}

fn same_tip(nodes: &[&TestNode], height: u64) {
    wait_for(&format!("every node at height {height}"), WAIT, || {
        let tips: Vec<(u64, String)> = nodes.iter().map(|n| (n.height(), n.tip())).collect();
        tips.iter()
            .all(|t| t.0 == height && t.1 == tips[0].1)
            .then_some(())
    });
}

fn in_mempool(node: &TestNode, txid: &str) -> bool {
    node.rpc("getrawmempool", &[])
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t == txid))
}

fn amount(v: &Value) -> String {
    v.to_string()
}

/// The tutorial's two-host test: wallets on both nodes, two sends in a row from one
/// address, the block that confirms them, equal balances on both nodes.
fn walkthrough(sets: &[&str]) {
    let (a, b) = connected_pair(sets);
    let miner_addr = a.rpc("getnewaddress", &[]).as_str().unwrap().to_string();
    let friend = b.rpc("getnewaddress", &[]).as_str().unwrap().to_string();
    a.rpc("generatetoaddress", &["101", &miner_addr]);
    same_tip(&[&a, &b], 101);

    // Two sends in a row from the same address, before any block.
    let tx1 = a
        .rpc("sendfrom", &[&miner_addr, &friend, "10"])
        .as_str()
        .unwrap()
        .to_string();
    let tx2 = a
        .rpc("sendfrom", &[&miner_addr, &friend, "5"])
        .as_str()
        .unwrap()
        .to_string();
    wait_for("both payments in the other node's mempool", WAIT, || {
        (in_mempool(&b, &tx1) && in_mempool(&b, &tx2)).then_some(())
    });
    a.rpc("generatetoaddress", &["1", &miner_addr]);
    same_tip(&[&a, &b], 102);
    wait_for("the mempools to empty", WAIT, || {
        (a.rpc("getmempoolinfo", &[])["size"] == 0 && b.rpc("getmempoolinfo", &[])["size"] == 0)
            .then_some(())
    });
    // Both nodes see the same balances for both addresses (address index).
    for address in [&miner_addr, &friend] {
        assert_eq!(
            amount(&a.rpc("getbalance", &[address])),
            amount(&b.rpc("getbalance", &[address])),
            "balance of {address}"
        );
    }
    assert_eq!(amount(&b.rpc("getbalance", &[])), "15.00000000");
}

#[test]
fn walkthrough_headers_first_announce() {
    walkthrough(&["sync.strategy=headers-first", "relay.broadcast=announce"]);
}

#[test]
fn walkthrough_poll_batched() {
    walkthrough(&[
        "sync.strategy=poll",
        "sync.poll_interval_secs=1",
        "relay.broadcast=batched",
        "relay.batch_interval_ms=200",
    ]);
}

#[test]
fn walkthrough_headers_first_flood() {
    walkthrough(&["sync.strategy=headers-first", "relay.broadcast=flood"]);
}

/// A node that connects nowhere by itself (its only `connect` target is a closed port),
/// so a test decides every link with `addnode onetry` and cuts it with `disconnectnode`.
fn isolated(sets: &[&str]) -> TestNode {
    let mut all: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    all.push("peers.connect=[\"127.0.0.1:9\"]".to_string());
    TestNode::start(&all)
}

fn link(from: &TestNode, to: &TestNode) {
    from.rpc("addnode", &[&to.p2p_addr(), "onetry"]);
    wait_for("the link to come up", WAIT, || {
        (from.rpc("getconnectioncount", &[]).as_u64() >= Some(1)).then_some(())
    });
}

fn unlink(a: &TestNode, b: &TestNode) {
    for node in [a, b] {
        for peer in node
            .rpc("getpeerinfo", &[])
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            // The peer may already be gone when the other side's disconnect landed first.
            let _ = node.try_rpc("disconnectnode", &["", &peer["id"].to_string()]);
        }
    }
    wait_for("the link to go down", WAIT, || {
        (a.rpc("getconnectioncount", &[]).as_u64() == Some(0)
            && b.rpc("getconnectioncount", &[]).as_u64() == Some(0))
        .then_some(())
    });
}

#[test]
fn after_a_partition_every_node_follows_the_most_work_chain_and_losing_transactions_return() {
    let a = isolated(&[]);
    let b = isolated(&[]);
    link(&b, &a);
    let addr_a = a.rpc("getnewaddress", &[]).as_str().unwrap().to_string();
    let addr_b = b.rpc("getnewaddress", &[]).as_str().unwrap().to_string();
    a.rpc("generatetoaddress", &["101", &addr_a]);
    same_tip(&[&a, &b], 101);

    unlink(&a, &b);
    // A's branch: one block with a payment. B's branch: two empty blocks, more work.
    let other = a.rpc("getnewaddress", &[]).as_str().unwrap().to_string();
    let txid = a
        .rpc("sendfrom", &[&addr_a, &other, "1"])
        .as_str()
        .unwrap()
        .to_string();
    a.rpc("generatetoaddress", &["1", &addr_a]);
    b.rpc("generatetoaddress", &["2", &addr_b]);
    assert_eq!(a.height(), 102);
    assert_eq!(b.height(), 103);
    assert!(!in_mempool(&a, &txid));

    link(&b, &a);
    same_tip(&[&a, &b], 103);
    wait_for("the payment back in both mempools", WAIT, || {
        (in_mempool(&a, &txid) && in_mempool(&b, &txid)).then_some(())
    });
}
