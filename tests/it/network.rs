//! Networks of real nodes on 127.0.0.1: the tutorial's walkthrough with each sync
//! strategy and broadcast behaviour, forks and reorganisations, discovery from one
//! bootstrap address, and the pruned light relay (what it serves, what syncing nodes ask
//! of it, its memory and disk while it follows a long chain).

use std::time::Duration;

use node_chain::Hash256;
use node_p2p::{
    GetHeaders, Inventory, Message, NODE_NETWORK, NODE_NETWORK_LIMITED, PROTOCOL_VERSION,
};
use serde_json::Value;

use crate::common::{dir_size, regtest, wait_for, TestNode};
use crate::peers::RawPeer;

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

pub(crate) fn same_tip(nodes: &[&TestNode], height: u64) {
    // Fails only when no node moved for WAIT: a node that follows a long chain on a
    // loaded machine (every block is a disk commit) may take longer than WAIT overall,
    // and a stuck one is still caught.
    let mut last_move = std::time::Instant::now();
    let mut last_heights: Vec<u64> = Vec::new();
    loop {
        let tips: Vec<(u64, String)> = nodes.iter().map(|n| (n.height(), n.tip())).collect();
        if tips.iter().all(|t| t.0 == height && t.1 == tips[0].1) {
            return;
        }
        let heights: Vec<u64> = tips.iter().map(|t| t.0).collect();
        if heights != last_heights {
            last_heights = heights;
            last_move = std::time::Instant::now();
        } else if last_move.elapsed() > WAIT {
            panic!(
                "no node moved for {WAIT:?} while waiting for every node at height {height}: \
                 at {last_heights:?}; the last node's log:\n{}",
                nodes.last().map(|n| n.process.log()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn in_mempool(node: &TestNode, txid: &str) -> bool {
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
    let miner_addr = a.text("getnewaddress", &[]);
    let friend = b.text("getnewaddress", &[]);
    a.generate(101, &miner_addr);
    same_tip(&[&a, &b], 101);

    // Two sends in a row from the same address, before any block.
    let tx1 = a.text("sendfrom", &[&miner_addr, &friend, "10"]);
    let tx2 = a.text("sendfrom", &[&miner_addr, &friend, "5"]);
    wait_for("both payments in the other node's mempool", WAIT, || {
        (in_mempool(&b, &tx1) && in_mempool(&b, &tx2)).then_some(())
    });
    a.generate(1, &miner_addr);
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
        "sync.poll.interval_secs=1",
        "relay.broadcast=batched",
        "relay.batched.interval_ms=200",
    ]);
}

#[test]
fn walkthrough_headers_first_flood() {
    walkthrough(&["sync.strategy=headers-first", "relay.broadcast=flood"]);
}

/// A node that connects nowhere by itself (its only `connect` target is a closed port),
/// so a test decides every link with `addnode onetry` and cuts it with `disconnectnode`.
pub(crate) fn isolated(sets: &[&str]) -> TestNode {
    let mut all: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    all.push("peers.connect=[\"127.0.0.1:9\"]".to_string());
    TestNode::start(&all)
}

pub(crate) fn link(from: &TestNode, to: &TestNode) {
    from.rpc("addnode", &[&to.p2p_addr(), "onetry"]);
    wait_for("the link to come up", WAIT, || {
        (from.rpc("getconnectioncount", &[]).as_u64() >= Some(1)).then_some(())
    });
}

pub(crate) fn unlink(a: &TestNode, b: &TestNode) {
    for node in [a, b] {
        for peer in node.peer_info() {
            // The peer may already be gone when the other side's disconnect landed first.
            let _ = node.try_text("disconnectnode", &["", &peer["id"].to_string()]);
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
    let addr_a = a.text("getnewaddress", &[]);
    let addr_b = b.text("getnewaddress", &[]);
    a.generate(101, &addr_a);
    same_tip(&[&a, &b], 101);

    unlink(&a, &b);
    // A's branch: one block with a payment. B's branch: two empty blocks, more work.
    let other = a.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&addr_a, &other, "1"]);
    a.generate(1, &addr_a);
    b.generate(2, &addr_b);
    assert_eq!(a.height(), 102);
    assert_eq!(b.height(), 103);
    assert!(!in_mempool(&a, &txid));

    link(&b, &a);
    same_tip(&[&a, &b], 103);
    wait_for("the payment back in both mempools", WAIT, || {
        (in_mempool(&a, &txid) && in_mempool(&b, &txid)).then_some(())
    });
}

/// Every module of regtest.toml plus discovery.
const WITH_DISCOVERY: &str = "node.modules=[\"chain\", \"mempool\", \"wallet\", \"miner\", \
                              \"peers\", \"discovery\", \"sync\", \"relay\", \"rpc\"]";

/// Whether the nodes form one network. A connection shows up as outbound on the side
/// that dialled, under the other side's listen address, so outbound links are the edges.
fn one_network(nodes: &[&TestNode]) -> bool {
    let mut component: Vec<usize> = (0..nodes.len()).collect();
    fn root(component: &mut [usize], mut i: usize) -> usize {
        while component[i] != i {
            i = component[i];
        }
        i
    }
    for (i, node) in nodes.iter().enumerate() {
        for peer in node.peer_info() {
            if peer["inbound"] != false {
                continue;
            }
            if let Some(j) = nodes
                .iter()
                .position(|n| peer["addr"] == n.p2p_addr().as_str())
            {
                let (a, b) = (root(&mut component, i), root(&mut component, j));
                component[a] = b;
            }
        }
    }
    let first = root(&mut component, 0);
    (0..nodes.len()).all(|i| root(&mut component, i) == first)
}

#[test]
fn five_nodes_discover_each_other_from_one_bootstrap_address_and_reach_the_same_tip() {
    let first = TestNode::start(&[WITH_DISCOVERY.to_string()]);
    // Only the bootstrap address: no `connect`, no `addnode`.
    let bootstrap = format!("discovery.bootstrap=[\"{}\"]", first.p2p_addr());
    let others: Vec<TestNode> = (0..4)
        .map(|_| TestNode::start(&[WITH_DISCOVERY.to_string(), bootstrap.clone()]))
        .collect();
    let nodes: Vec<&TestNode> = std::iter::once(&first).chain(&others).collect();
    wait_for("the five nodes to form one network", WAIT, || {
        one_network(&nodes).then_some(())
    });
    for node in &nodes {
        assert!(node.rpc("getconnectioncount", &[]).as_u64() >= Some(1));
    }
    let address = first.text("getnewaddress", &[]);
    first.generate(5, &address);
    same_tip(&nodes, 5);
}

/// A node on `configs/light-relay.toml` (regtest, pruned to 288 blocks) that follows
/// `source`.
fn light_relay(source: &TestNode) -> TestNode {
    TestNode::start_profile(
        "configs/light-relay.toml",
        &[format!("peers.connect=[\"{}\"]", source.p2p_addr())],
    )
}

#[test]
fn a_pruned_relay_serves_recent_blocks_as_a_limited_peer_and_syncing_nodes_fetch_old_ones_elsewhere(
) {
    let source = TestNode::start(&[]);
    let relay = light_relay(&source);
    let address = source.text("getnewaddress", &[]);
    source.generate(400, &address);
    same_tip(&[&source, &relay], 400);
    let info = relay.rpc("getblockchaininfo", &[]);
    assert_eq!(info["pruned"], true, "{info}");
    // Heights 1..=112 pruned: the last 288 bodies (113..=400) are kept.
    assert_eq!(info["pruneheight"], 113, "{info}");

    // NODE_NETWORK_LIMITED instead of NODE_NETWORK, in `version` and in the RPCs.
    let limited = format!("{NODE_NETWORK_LIMITED:016x}");
    assert_eq!(
        relay.rpc("getnetworkinfo", &[])["localservices"],
        limited.as_str()
    );
    let mut raw = RawPeer::connect(relay.p2p_port);
    let version = raw.handshake();
    assert_eq!(version.services, NODE_NETWORK_LIMITED);
    assert_eq!(version.start_height, 400);
    assert_eq!(
        source.rpc("getnetworkinfo", &[])["localservices"],
        format!("{NODE_NETWORK:016x}").as_str()
    );

    // Every header, the bodies it still has, `notfound` for pruned ones.
    raw.send(&Message::GetHeaders(GetHeaders {
        version: PROTOCOL_VERSION as u32,
        locator: vec![regtest().genesis_hash()],
        stop: Hash256::ZERO,
    }));
    let (headers, _) = raw.recv_until("headers", |m| matches!(m, Message::Headers(_)));
    let Message::Headers(headers) = headers else {
        unreachable!()
    };
    assert_eq!(headers.len(), 400);
    let hash_at = |height: usize| headers[height - 1].hash();
    let (pruned, kept) = (hash_at(112), hash_at(113));
    raw.send(&Message::GetData(vec![
        Inventory::block(pruned),
        Inventory::block(kept),
    ]));
    let (block, _) = raw.recv_until("a kept block", |m| matches!(m, Message::Block(_)));
    assert!(matches!(block, Message::Block(b) if b.hash() == kept));
    let (notfound, _) = raw.recv_until("notfound", |m| matches!(m, Message::NotFound(_)));
    assert_eq!(notfound, Message::NotFound(vec![Inventory::block(pruned)]));

    // A new node with both as peers fetches the old bodies from the full node only.
    let fresh = TestNode::start(&[format!(
        "peers.connect=[\"{}\", \"{}\"]",
        source.p2p_addr(),
        relay.p2p_addr()
    )]);
    same_tip(&[&source, &relay, &fresh], 400);
    let from_relay = fresh
        .peer_info()
        .into_iter()
        .find(|p| p["addr"] == relay.p2p_addr().as_str())
        .expect("the relay is a peer");
    assert_eq!(from_relay["services"], limited.as_str());
    assert!(
        from_relay["bytesrecv_per_msg"].get("notfound").is_none(),
        "blocks the relay pruned were asked of it: {from_relay}"
    );
}

/// The light relay's memory and disk while it follows 10,000 blocks. It keeps every header
/// and the UTXO set (which grow with the chain, as in any pruned node) but only the last
/// 288 bodies and undo records, so its directory grows at under half the rate of a full
/// node's. The source floods its blocks, so the relay follows block by block while they
/// are mined (the test is bound by mining: about 2.5 s per 1,000 blocks in a debug build).
#[test]
fn a_light_relay_following_10000_blocks_stays_under_80_mib_with_a_bounded_data_directory() {
    const MIB: f64 = (1 << 20) as f64;
    let source = TestNode::start(&["relay.broadcast=flood".to_string()]);
    let relay = light_relay(&source);
    let address = source.text("getnewaddress", &[]);
    let sizes = || {
        (
            dir_size(&source.process.datadir),
            dir_size(&relay.process.datadir),
        )
    };
    let mut halfway = (0, 0);
    for chunk in 1..=10u64 {
        source.generate(1000, &address);
        same_tip(&[&source, &relay], chunk * 1000);
        if chunk == 5 {
            halfway = sizes();
        }
    }
    let (source_size, relay_size) = sizes();
    let rss = relay.process.peak_rss();
    eprintln!(
        "light relay at 10,000 blocks: peak RSS {:.1} MiB; data directory {:.2} MiB \
         (at 5,000: {:.2} MiB); the source's {:.2} MiB (at 5,000: {:.2} MiB)",
        rss as f64 / MIB,
        relay_size as f64 / MIB,
        halfway.1 as f64 / MIB,
        source_size as f64 / MIB,
        halfway.0 as f64 / MIB,
    );
    // What the relay may hold by design: a fresh node (about 23 MiB, 8 of them the
    // binary's pages), the sync's 32 MiB budget of blocks being accepted (it fills when
    // the machine is loaded and the flooded blocks arrive faster than they are written),
    // one peer's 5 MB receive buffer and two messages being read (4 MB), and the headers
    // and coins of 10,000 blocks with the allocator's slack. Alone the relay peaks at
    // 56-57 MiB; beside the rest of the suite it reached 69.4.
    assert!(rss < 80 << 20, "peak RSS {rss} bytes");

    let info = relay.rpc("getblockchaininfo", &[]);
    assert_eq!(info["pruned"], true, "{info}");
    // The lowest stored height: the last 288 bodies are kept.
    assert_eq!(info["pruneheight"], 10_000 - 288 + 1, "{info}");
    let old = relay.text("getblockhash", &["1"]);
    let refused = relay
        .try_text("getblock", &[&old])
        .expect_err("a pruned body");
    assert!(refused.contains("pruned"), "{refused}");
    assert!(
        relay_size * 2 < source_size,
        "relay {relay_size} bytes, source {source_size}"
    );
    assert!(
        (relay_size - halfway.1) * 2 < source_size - halfway.0,
        "from 5,000 to 10,000 blocks the relay grew {} bytes, the source {}",
        relay_size - halfway.1,
        source_size - halfway.0
    );
}

/// A block at the tip asked of a peer that then sends nothing is also asked of another
/// peer that has it, after `tip_stall_ms`, long before the stall timeout (set to two
/// minutes here, so only the tip rule can explain the block arriving).
#[test]
fn a_block_at_the_tip_whose_peer_stays_silent_is_asked_of_another() {
    let source = TestNode::start(&[]);
    let address = source.text("getnewaddress", &[]);
    let hash = source.generate(1, &address).remove(0);
    let header_hex = source.text("getblockheader", &[&hash, "false"]);
    let header: node_chain::BlockHeader =
        node_chain::deserialize(&hex::decode(header_hex).unwrap()).unwrap();
    let node = TestNode::start(&[
        "sync.headers-first.stall_timeout_secs=120".to_string(),
        "sync.headers-first.tip_stall_ms=500".to_string(),
    ]);
    // A peer that announces the block first and never delivers it.
    let mut silent = RawPeer::connect(node.p2p_port);
    silent.handshake();
    // The node's sync has taken the peer on once it asks it for headers.
    silent.recv_until("getheaders", |m| matches!(m, Message::GetHeaders(_)));
    silent.send(&Message::Headers(vec![header]));
    let (request, _) = silent.recv_until(
        "the node asking for the block",
        |m| matches!(m, Message::GetData(items) if items.iter().any(|i| i.hash == header.hash())),
    );
    assert!(matches!(request, Message::GetData(_)));
    // The source connects: it has the block; the node asks it once the silent peer has
    // sent nothing for half a second.
    node.rpc("addnode", &[&source.p2p_addr(), "onetry"]);
    wait_for("the block from the second peer", WAIT, || {
        (node.tip() == hash).then_some(())
    });
    assert_eq!(node.height(), 1);
}
