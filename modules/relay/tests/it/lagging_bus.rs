//! Announcements survive a lagging event bus: a burst of transactions admitted while
//! the bus overflows (far more events than its 4,096 slots, published before the relay
//! can run) and a burst of blocks are each announced to every peer.

use std::collections::HashSet;
use std::sync::Arc;

use node_api::chain::{ChainEvent, Hash256, COIN};
use node_api::p2p::{InvType, Message, PeerId};
use node_api::MempoolEvent;
use node_testkit::{miner_key, Key, RecordingPeers, TestNode, DEADLINE};

// Linked for its registration: the node runs it by name.
use node_relay as _;

/// What `peers` announced or sent to `peer` of `kind`: inv items and pushed objects.
fn announced(peers: &RecordingPeers, peer: PeerId, kind: InvType) -> HashSet<Hash256> {
    let mut seen = HashSet::new();
    for (to, message) in peers.sent() {
        if to != peer {
            continue;
        }
        match &*message {
            Message::Inv(items) => {
                seen.extend(items.iter().filter(|i| i.kind == kind).map(|i| i.hash))
            }
            Message::Tx(tx) if kind == InvType::Tx => {
                seen.insert(tx.txid());
            }
            Message::Headers(headers) if kind == InvType::Block => {
                seen.extend(headers.iter().map(|h| h.hash()))
            }
            Message::Block(block) if kind == InvType::Block => {
                seen.insert(block.header.hash());
            }
            _ => {}
        }
    }
    seen
}

/// Waits until every peer was told of every one of `hashes`.
async fn all_announced(peers: &RecordingPeers, ids: &[PeerId], kind: InvType, hashes: &[Hash256]) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let missing: Vec<(PeerId, usize)> = ids
            .iter()
            .map(|id| {
                let seen = announced(peers, *id, kind);
                (*id, hashes.iter().filter(|h| !seen.contains(h)).count())
            })
            .filter(|(_, missing)| *missing > 0)
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not announced ({kind:?}), per peer: {missing:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// One thread: while the test publishes, the relay cannot read the bus, so it lags.
#[tokio::test(flavor = "current_thread")]
async fn a_lagging_bus_loses_no_announcement() {
    let peers = Arc::new(RecordingPeers::with_peers(vec![
        RecordingPeers::peer(1, true, false),
        RecordingPeers::peer(2, true, false),
    ]));
    let ids = [PeerId(1), PeerId(2)];
    let node = TestNode::builder()
        .module("mempool")
        .module("relay")
        .recording_peers(peers.clone())
        .start()
        .await
        .unwrap();
    // 300 blocks: the first 200 coinbases are mature.
    let blocks = node.mine(300).await.unwrap();
    let hashes: Vec<Hash256> = blocks.iter().map(|b| b.header.hash()).collect();
    all_announced(&peers, &ids, InvType::Block, &hashes[hashes.len() - 50..]).await;

    let key = miner_key();
    let to = Key::new(2);
    let txs: Vec<_> = blocks[..200]
        .iter()
        .map(|b| key.pay(&b.txs[0], 0, &to, COIN, 10_000))
        .collect();
    let mempool = node.mempool().unwrap().clone();
    let bus = node.events().clone();
    // No await in this loop: 10,000 events overflow the bus before the relay reads it.
    for tx in &txs {
        mempool.accept(tx.clone()).unwrap();
        for _ in 0..50 {
            bus.publish(MempoolEvent::Removed {
                txid: Hash256::ZERO,
                reason: "expiry",
            });
        }
    }
    let txids: Vec<Hash256> = txs.iter().map(|t| t.txid()).collect();
    all_announced(&peers, &ids, InvType::Tx, &txids).await;

    // A burst of blocks while the chain's bus events overflow too: the relay reads
    // blocks from the chain stream, so each is announced.
    let mut burst = Vec::new();
    for _ in 0..30 {
        for _ in 0..200 {
            bus.publish(ChainEvent::TipChanged {
                hash: Hash256::ZERO,
                height: 0,
            });
        }
        burst.extend(node.mine(1).await.unwrap());
    }
    let burst: Vec<Hash256> = burst.iter().map(|b| b.header.hash()).collect();
    all_announced(&peers, &ids, InvType::Block, &burst).await;
    // The first block of the burst confirmed the 200 transactions.
    assert_eq!(node.mempool().unwrap().info().size, 0);
    node.stop().await.unwrap();
}
