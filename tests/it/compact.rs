//! Compact block relay (BIP152, the `compact` broadcast behaviour) between real nodes:
//! a mempool-warm block crosses as a `cmpctblock` with no round trip, a block with a
//! transaction the receiver lacks is completed by one `getblocktxn`, a mixed network of
//! `compact` and `announce` nodes converges (and the `announce` node never gets a compact
//! message), and a raw-socket peer plays the sender: colliding short ids and a rebuilt
//! block that does not match its merkle root end in `getdata` of the full block, a peer
//! over its blocks in flight is asked the full block at once, a bad proof of work and an
//! oversized `blocktxn` get the peer disconnected, and a block that fails validation
//! after it was rebuilt does not. What crossed is read from `getpeerinfo`'s per-message
//! byte counts, as a user would.

use std::time::Duration;

use node_chain::{check_proof_of_work, Block, Hash256, Transaction};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, ChainState};
use node_p2p::{
    BlockTxn, BlockTxnRequest, HeaderAndShortIds, InvType, Inventory, Message, SendCmpct,
    HEADER_LEN,
};

use crate::common::{modules_profile, node_output, regtest, wait_for, write_profile, TestNode};
use crate::network::{in_mempool, isolated, link, same_tip, unlink};
use crate::peers::RawPeer;

const WAIT: Duration = Duration::from_secs(30);

/// Bytes `node` received (`bytesrecv_per_msg`) or sent (`bytessent_per_msg`) of `command`,
/// over its current peers.
fn bytes(node: &TestNode, field: &str, command: &str) -> u64 {
    node.peer_info()
        .iter()
        .map(|p| p[field][command].as_u64().unwrap_or(0))
        .sum()
}

fn received(node: &TestNode, command: &str) -> u64 {
    bytes(node, "bytesrecv_per_msg", command)
}

fn sent(node: &TestNode, command: &str) -> u64 {
    bytes(node, "bytessent_per_msg", command)
}

/// Waits until each node heard the other's `sendcmpct`.
fn negotiated(a: &TestNode, b: &TestNode) {
    wait_for("sendcmpct both ways", WAIT, || {
        (received(a, "sendcmpct") > 0 && received(b, "sendcmpct") > 0).then_some(())
    });
}

/// Two `compact` nodes, linked, 101 blocks mined on the first (a spendable coinbase).
fn funded_pair() -> (TestNode, TestNode, String) {
    let a = isolated(&["relay.broadcast=compact"]);
    let b = isolated(&["relay.broadcast=compact"]);
    link(&b, &a);
    negotiated(&a, &b);
    let address = a.text("getnewaddress", &[]);
    a.generate(101, &address);
    same_tip(&[&a, &b], 101);
    (a, b, address)
}

#[test]
fn a_mempool_warm_block_crosses_as_a_compact_block_without_a_round_trip() {
    let (a, b, address) = funded_pair();
    let to = b.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&address, &to, "1"]);
    wait_for("the payment in the receiver's mempool", WAIT, || {
        in_mempool(&b, &txid).then_some(())
    });
    let cmpct_before = received(&b, "cmpctblock");
    let blocks_before = received(&b, "block");
    a.generate(1, &address);
    same_tip(&[&a, &b], 102);
    assert!(received(&b, "cmpctblock") > cmpct_before, "no cmpctblock");
    assert_eq!(received(&b, "block"), blocks_before, "a full block crossed");
    assert_eq!(sent(&b, "getblocktxn"), 0, "a round trip was needed");
    assert_eq!(received(&b, "blocktxn"), 0);
    wait_for("the payment confirmed on the receiver", WAIT, || {
        (!in_mempool(&b, &txid)).then_some(())
    });
}

#[test]
fn a_block_with_a_transaction_the_receiver_lacks_takes_one_getblocktxn() {
    let (a, b, address) = funded_pair();
    // The payment reaches only the miner's mempool: the nodes are apart.
    unlink(&a, &b);
    let to = b.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&address, &to, "1"]);
    link(&b, &a);
    negotiated(&a, &b);
    assert!(!in_mempool(&b, &txid));
    a.generate(1, &address);
    same_tip(&[&a, &b], 102);
    // The counters are the new connection's.
    assert!(received(&b, "cmpctblock") > 0, "no cmpctblock");
    assert!(sent(&b, "getblocktxn") > 0, "no getblocktxn");
    assert!(received(&b, "blocktxn") > 0, "no blocktxn");
    assert_eq!(received(&b, "block"), 0, "a full block crossed");
    assert_eq!(sent(&a, "getblocktxn"), 0);
}

#[test]
fn a_low_bandwidth_peer_announces_and_the_block_is_asked_compact() {
    // The receiver asks no one for high bandwidth: blocks come announced by headers,
    // and its sync asks the block on its tip with getdata of MSG_CMPCT_BLOCK.
    let a = isolated(&["relay.broadcast=compact"]);
    let b = isolated(&[
        "relay.broadcast=compact",
        "relay.compact.high_bandwidth_peers=0",
    ]);
    link(&b, &a);
    negotiated(&a, &b);
    let address = a.text("getnewaddress", &[]);
    a.generate(101, &address);
    same_tip(&[&a, &b], 101);
    let to = b.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&address, &to, "1"]);
    wait_for("the payment in the receiver's mempool", WAIT, || {
        in_mempool(&b, &txid).then_some(())
    });
    // While 101 blocks arrive back to back, those not on the tip when asked come whole;
    // the one block mined now is on the tip.
    let before = (received(&b, "cmpctblock"), received(&b, "block"));
    a.generate(1, &address);
    same_tip(&[&a, &b], 102);
    assert!(
        received(&b, "headers") > 0,
        "blocks were not announced by headers"
    );
    assert!(received(&b, "cmpctblock") > before.0, "no cmpctblock");
    assert_eq!(received(&b, "block"), before.1, "a full block crossed");
    assert_eq!(sent(&b, "getblocktxn"), 0);
}

#[test]
fn a_mixed_network_converges_and_announce_nodes_get_no_compact_messages() {
    // compact - announce - compact, in a line.
    let a = isolated(&["relay.broadcast=compact"]);
    let b = isolated(&["relay.broadcast=announce"]);
    let c = isolated(&["relay.broadcast=compact"]);
    link(&b, &a);
    link(&c, &b);
    let address = a.text("getnewaddress", &[]);
    a.generate(101, &address);
    same_tip(&[&a, &b, &c], 101);
    let to = c.text("getnewaddress", &[]);
    let txid = a.text("sendfrom", &[&address, &to, "1"]);
    wait_for("the payment across the line", WAIT, || {
        in_mempool(&c, &txid).then_some(())
    });
    a.generate(1, &address);
    same_tip(&[&a, &b, &c], 102);
    let c_address = c.text("getnewaddress", &[]);
    c.generate(1, &c_address);
    same_tip(&[&a, &b, &c], 103);
    for command in ["cmpctblock", "getblocktxn", "blocktxn"] {
        assert_eq!(received(&b, command), 0, "the announce node got {command}");
    }
    // The compact nodes asked for compact blocks; the announce node ignored the offer.
    assert!(received(&b, "sendcmpct") > 0);
    assert_eq!(received(&a, "sendcmpct"), 0);
}

/// Regtest blocks on genesis built by the test, each different (`extra`).
struct Blocks {
    base: Builder,
    wallet: Wallet,
    _dir: tempfile::TempDir,
}

impl Blocks {
    fn new() -> Blocks {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = ChainState::open(
            &dir.path().join("chain"),
            regtest(),
            ChainOptions::default(),
            |_| {},
        )
        .expect("a scratch chain state");
        Blocks {
            base: Builder::new(&state),
            wallet: Wallet::new(3),
            _dir: dir,
        }
    }

    fn on_genesis(&self, extra: &[u8]) -> Block {
        let mut builder = self.base.clone();
        builder.set_extra(extra);
        builder.next_block(&self.wallet, Vec::new())
    }

    fn overpaying(&self) -> Block {
        let mut builder = self.base.clone();
        builder.set_extra(b"overpaying");
        builder.next_block_paying(&self.wallet, Vec::new(), regtest().subsidy(1) + 1)
    }
}

/// The compact form of `block` with `short_ids` in place of its own.
fn cmpct(block: &Block, short_ids: Vec<u64>) -> Message {
    let mut compact = HeaderAndShortIds::from_block(block, 42).expect("a compact form");
    compact.short_ids = short_ids;
    Message::CmpctBlock(compact)
}

fn getdata_block(hash: Hash256) -> impl Fn(&Message) -> bool {
    move |m| {
        matches!(m, Message::GetData(items)
            if items.iter().any(|i| i.kind == InvType::Block && i.hash == hash))
    }
}

fn has_block(node: &TestNode, hash: &Hash256) -> bool {
    node.try_text("getblock", &[&hash.to_string()]).is_ok()
}

#[test]
fn collisions_and_failed_rebuilds_fall_back_to_the_full_block_and_in_flight_is_bounded() {
    let node = TestNode::start(&[
        "relay.broadcast=compact".to_string(),
        "relay.compact.max_in_flight_per_peer=1".to_string(),
        "relay.compact.blocktxn_timeout_secs=1".to_string(),
    ]);
    let blocks = Blocks::new();
    let mut raw = RawPeer::connect(node.p2p_port);
    raw.handshake();
    raw.recv_until("sendcmpct", |m| matches!(m, Message::SendCmpct(_)));

    // Two transactions of the block share a short id: the full block is asked.
    let block = blocks.on_genesis(b"collision");
    raw.send(&cmpct(&block, vec![7, 7]));
    raw.recv_until("getdata of the full block", getdata_block(block.hash()));
    raw.send(&Message::Block(block.clone().into()));
    wait_for("the block stored", WAIT, || {
        has_block(&node, &block.hash()).then_some(())
    });

    // A short id nothing matches: one getblocktxn, then a blocktxn whose transaction
    // does not give the header's merkle root: the full block is asked.
    let block = blocks.on_genesis(b"mismatch");
    raw.send(&cmpct(&block, vec![0x1234]));
    let (request, _) = raw.recv_until("getblocktxn", |m| matches!(m, Message::GetBlockTxn(_)));
    let Message::GetBlockTxn(request) = request else {
        unreachable!()
    };
    assert_eq!(
        (request.block_hash, request.indexes.clone()),
        (block.hash(), vec![1])
    );
    let stranger = Transaction::coinbase(vec![1, 2, 3], vec![0x51], 1);
    raw.send(&Message::BlockTxn(BlockTxn {
        block_hash: block.hash(),
        txs: vec![stranger],
    }));
    raw.recv_until("getdata of the full block", getdata_block(block.hash()));
    raw.send(&Message::Block(block.clone().into()));
    wait_for("the block stored", WAIT, || {
        has_block(&node, &block.hash()).then_some(())
    });

    // One block waits for its transactions; the next one from the same peer is asked
    // in full at once (max_in_flight_per_peer = 1).
    let waiting = blocks.on_genesis(b"waiting");
    raw.send(&cmpct(&waiting, vec![0x5678]));
    raw.recv_until("getblocktxn", |m| matches!(m, Message::GetBlockTxn(_)));
    let over = blocks.on_genesis(b"over the bound");
    raw.send(&cmpct(&over, vec![0x9abc]));
    let (_, skipped) = raw.recv_until("getdata of the full block", getdata_block(over.hash()));
    assert!(
        !skipped.iter().any(|m| matches!(m, Message::GetBlockTxn(_))),
        "a second block was waited for: {skipped:?}"
    );

    // The getblocktxn left unanswered: after blocktxn_timeout_secs the full block is
    // asked.
    raw.recv_until("getdata of the full block", getdata_block(waiting.hash()));
}

#[test]
fn unknown_compact_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(
        dir.path(),
        "bad.toml",
        &modules_profile(
            &["chain", "mempool", "peers", "relay"],
            "[relay]\nbroadcast = \"compact\"\n\n[relay.compact]\nextra_transactions = 5\n",
        ),
    );
    let out = node_output(
        &["check", "--profile", profile.to_str().expect("utf-8")],
        &[],
    );
    assert!(!out.status.success(), "an unknown key was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("extra_transactions"), "{err}");
}

#[test]
fn bad_proof_of_work_disconnects_but_a_block_failing_validation_later_does_not() {
    let mut node = TestNode::start(&["relay.broadcast=compact".to_string()]);
    let blocks = Blocks::new();
    let mut raw = RawPeer::connect(node.p2p_port);
    raw.handshake();

    // Valid header, a coinbase paying too much: rebuilt, refused by the chain, and the
    // sender stays (it may have relayed before validating, as BIP152 allows).
    let overpaying = blocks.overpaying();
    raw.send(&cmpct(&overpaying, Vec::new()));
    node.process
        .wait_log("compact block refused by the chain", WAIT);
    raw.send(&Message::Ping(77));
    raw.recv_until("pong", |m| *m == Message::Pong(77));
    assert!(!has_block(&node, &overpaying.hash()));

    // A header that fails its own proof of work: disconnected.
    let mut bad = blocks.on_genesis(b"bad pow");
    let limit = regtest().pow_limit();
    while check_proof_of_work(&bad.header.hash(), bad.header.bits, &limit).is_ok() {
        bad.header.nonce += 1;
    }
    raw.send(&cmpct(&bad, Vec::new()));
    assert!(raw.closed_by_node(), "a bad proof of work stayed connected");

    // A blocktxn over the block size limit is refused on its frame header.
    let mut raw = RawPeer::connect(node.p2p_port);
    raw.handshake();
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(&regtest().magic);
    header.extend_from_slice(b"blocktxn\0\0\0\0");
    header.extend_from_slice(&(regtest().max_block_size as u32 + 1).to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    raw.send_raw(&header);
    assert!(
        raw.closed_by_node(),
        "an oversized blocktxn stayed connected"
    );
}

#[test]
fn a_compact_node_pushes_and_serves_compact_blocks_and_their_transactions() {
    let node = TestNode::start(&["relay.broadcast=compact".to_string()]);
    let address = node.text("getnewaddress", &[]);
    let mut raw = RawPeer::connect(node.p2p_port);
    raw.handshake();
    raw.recv_until("sendcmpct", |m| matches!(m, Message::SendCmpct(_)));
    // High bandwidth: the next block is pushed as a cmpctblock.
    raw.send(&Message::SendCmpct(SendCmpct {
        announce: true,
        version: 1,
    }));
    // The relay reads the sendcmpct a moment after the peers module does: a block mined
    // before that is announced by headers, the next ones pushed.
    let deadline = std::time::Instant::now() + WAIT;
    let (hash, pushed) = loop {
        assert!(std::time::Instant::now() < deadline, "no cmpctblock pushed");
        let hash: Hash256 = node.generate(1, &address)[0].parse().expect("a block hash");
        let (announced, _) = raw.recv_until("the block's announcement", |m| {
            m.inventory_hashes().contains(&hash)
        });
        if let Message::CmpctBlock(pushed) = announced {
            break (hash, pushed);
        }
    };
    assert_eq!(pushed.header.hash(), hash);
    assert_eq!(pushed.prefilled.len(), 1, "the coinbase is prefilled");
    assert!(pushed.short_ids.is_empty());

    // Asked: getdata of MSG_CMPCT_BLOCK, then its coinbase by getblocktxn.
    raw.send(&Message::GetData(vec![Inventory {
        kind: InvType::CmpctBlock,
        hash,
    }]));
    let (served, _) = raw.recv_until("cmpctblock", |m| matches!(m, Message::CmpctBlock(_)));
    let Message::CmpctBlock(served) = served else {
        unreachable!()
    };
    assert_eq!(served.header.hash(), hash);
    raw.send(&Message::GetBlockTxn(BlockTxnRequest {
        block_hash: hash,
        indexes: vec![0],
    }));
    let (answer, _) = raw.recv_until("blocktxn", |m| matches!(m, Message::BlockTxn(_)));
    assert_eq!(
        answer,
        Message::BlockTxn(BlockTxn {
            block_hash: hash,
            txs: vec![served.prefilled[0].tx.clone()],
        })
    );
    // A position past the block's end is misbehaviour.
    raw.send(&Message::GetBlockTxn(BlockTxnRequest {
        block_hash: hash,
        indexes: vec![5],
    }));
    assert!(
        raw.closed_by_node(),
        "an out-of-bounds getblocktxn stayed connected"
    );

    // A node on another behaviour answers a compact request with the full block.
    let other = TestNode::start(&[]);
    let other_hash: Hash256 = other.generate(1, &address)[0]
        .parse()
        .expect("a block hash");
    let mut raw = RawPeer::connect(other.p2p_port);
    raw.handshake();
    raw.send(&Message::GetData(vec![Inventory {
        kind: InvType::CmpctBlock,
        hash: other_hash,
    }]));
    let (full, skipped) = raw.recv_until("block", |m| matches!(m, Message::Block(_)));
    assert!(matches!(full, Message::Block(b) if b.hash() == other_hash));
    assert!(
        !skipped
            .iter()
            .any(|m| matches!(m, Message::CmpctBlock(_) | Message::SendCmpct(_))),
        "{skipped:?}"
    );
}
