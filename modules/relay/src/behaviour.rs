//! The built-in broadcast behaviours: how a validated object reaches the peers. The
//! contract ([`Broadcast`], [`BROADCAST`]) lives in `node-api` so plugins add their own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use node_api::chain::{Block, Hash256, Transaction};
use node_api::p2p::{Inventory, Message, PeerInfo};
use node_api::{
    inventory, without_settings, Broadcast, BuiltStrategy, ConfigError, PeerService,
    StrategyConfig, StrategyFactory, BROADCAST,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Sends the object itself to every peer lacking it.
struct Flood;

impl Broadcast for Flood {
    fn transaction(&mut self, peers: &dyn PeerService, txid: Hash256, tx: &Arc<Transaction>) {
        let message = Arc::new(Message::Tx((**tx).clone()));
        peers.announce(&[txid], &mut |_, _| Some(message.clone()));
    }

    fn block(&mut self, peers: &dyn PeerService, hash: Hash256, block: &Arc<Block>) {
        let message = Arc::new(Message::Block(block.clone()));
        peers.announce(&[hash], &mut |_, _| Some(message.clone()));
    }
}

/// Most headers in one block announcement (Bitcoin Core's MAX_BLOCKS_TO_ANNOUNCE); a
/// longer run is announced by `inv` of its tip, and the peer asks for the headers.
const MAX_BLOCKS_TO_ANNOUNCE: usize = 8;

/// `inv` for transactions; blocks by `headers` to peers that asked (BIP130) and are known
/// to have the parent of what is sent, else `inv`, as Bitcoin Core announces: headers that
/// do not connect would count against the sender at the receiver (a node behind in a
/// burst of blocks otherwise disconnects honest peers).
struct Announce;

/// A transaction announced by `inv` to every peer that asked for transactions and lacks
/// it (`announce` and `compact` alike).
pub(crate) fn announce_transaction(peers: &dyn PeerService, txid: Hash256) {
    let message = Arc::new(Message::Inv(vec![Inventory::tx(txid)]));
    peers.announce(&[txid], &mut |info, _| info.relay.then(|| message.clone()));
}

impl Broadcast for Announce {
    fn transaction(&mut self, peers: &dyn PeerService, txid: Hash256, _tx: &Arc<Transaction>) {
        announce_transaction(peers, txid);
    }

    fn block(&mut self, peers: &dyn PeerService, hash: Hash256, block: &Arc<Block>) {
        self.blocks(peers, &[(hash, block.clone())]);
    }

    fn blocks(&mut self, peers: &dyn PeerService, connected: &[(Hash256, Arc<Block>)]) {
        let Some(mut announcement) = HeaderAnnouncement::new(connected) else {
            return;
        };
        let hashes: Vec<Hash256> = connected.iter().map(|(h, _)| *h).collect();
        peers.announce(&hashes, &mut |info, _| {
            Some(announcement.for_peer(peers, info))
        });
    }
}

/// A block announcement as Bitcoin Core makes it for a peer that is not pushed blocks:
/// the headers of the new blocks from the first one whose parent the peer is known to
/// have (BIP130 peers, at most [`MAX_BLOCKS_TO_ANNOUNCE`]), else `inv` of the tip.
pub(crate) struct HeaderAnnouncement<'a> {
    connected: &'a [(Hash256, Arc<Block>)],
    inv: Arc<Message>,
    /// One headers message per starting block, shared by the peers that start there.
    from: Vec<Option<Arc<Message>>>,
}

impl<'a> HeaderAnnouncement<'a> {
    /// For `connected`, oldest first, the tip last; `None` when empty.
    pub(crate) fn new(connected: &'a [(Hash256, Arc<Block>)]) -> Option<Self> {
        let (tip, _) = connected.last()?;
        Some(HeaderAnnouncement {
            connected,
            inv: Arc::new(Message::Inv(vec![Inventory::block(*tip)])),
            from: vec![None; connected.len()],
        })
    }

    /// The message for one peer.
    pub(crate) fn for_peer(&mut self, peers: &dyn PeerService, info: &PeerInfo) -> Arc<Message> {
        if !info.sendheaders {
            return self.inv.clone();
        }
        // The first block the peer lacks whose parent it has: headers from there on
        // connect at the peer.
        let start = self.connected.iter().position(|(hash, block)| {
            !peers.knows(info.id, hash) && peers.knows(info.id, &block.header.prev_block)
        });
        match start {
            Some(i) if self.connected.len() - i <= MAX_BLOCKS_TO_ANNOUNCE => {
                let connected = self.connected;
                self.from[i]
                    .get_or_insert_with(|| {
                        Arc::new(Message::Headers(
                            connected[i..].iter().map(|(_, b)| b.header).collect(),
                        ))
                    })
                    .clone()
            }
            _ => self.inv.clone(),
        }
    }
}

/// The `[relay.batched]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BatchedConfig {
    /// Milliseconds between announcements; at least 1.
    pub interval_ms: u64,
}

impl Default for BatchedConfig {
    fn default() -> Self {
        BatchedConfig {
            // The tutorial's heartbeat was ten seconds; batched keeps a shorter one for
            // comparison without stalling tests.
            interval_ms: 2000,
        }
    }
}

/// Queues announcements and sends them together at an interval.
struct Batched {
    interval: Duration,
    queued: BTreeMap<Hash256, Inventory>,
}

impl Broadcast for Batched {
    fn transaction(&mut self, _peers: &dyn PeerService, txid: Hash256, _tx: &Arc<Transaction>) {
        self.queued.insert(txid, Inventory::tx(txid));
    }

    fn block(&mut self, _peers: &dyn PeerService, hash: Hash256, _block: &Arc<Block>) {
        self.queued.insert(hash, Inventory::block(hash));
    }

    fn interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn tick(&mut self, peers: &dyn PeerService) {
        if self.queued.is_empty() {
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        let hashes: Vec<Hash256> = queued.keys().copied().collect();
        peers.announce(&hashes, &mut |_, missing| {
            let items = missing
                .iter()
                .filter_map(|h| queued.get(h).copied())
                .collect();
            Some(Arc::new(Message::Inv(items)))
        });
    }
}

fn build_flood(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    without_settings(config)?;
    Ok(BROADCAST.erase(Box::new(Flood)))
}

fn build_announce(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    without_settings(config)?;
    Ok(BROADCAST.erase(Box::new(Announce)))
}

fn build_batched(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    let config: BatchedConfig = config.parse()?;
    Ok(BROADCAST.erase(Box::new(Batched {
        interval: Duration::from_millis(config.interval_ms.max(1)),
        queued: BTreeMap::new(),
    })))
}

inventory::submit! {
    StrategyFactory {
        behaviour: BROADCAST.name,
        name: "flood",
        description: "send new transactions and blocks themselves to every peer at once",
        registered_by: env!("CARGO_PKG_NAME"),
        build: build_flood,
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: BROADCAST.name,
        name: "announce",
        description: "inv for transactions, headers for blocks; peers fetch what they lack",
        registered_by: env!("CARGO_PKG_NAME"),
        build: build_announce,
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: BROADCAST.name,
        name: "batched",
        description: "queue announcements and send them every interval_ms (the tutorial's heartbeat)",
        registered_by: env!("CARGO_PKG_NAME"),
        build: build_batched,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use node_api::chain::{BlockHeader, Hash256};
    use node_api::p2p::{InvType, PeerId, PeerInfo};

    use super::*;

    /// The kit's recording peers, and the description of a peer.
    pub(crate) use node_testkit::RecordingPeers as Recording;

    pub(crate) fn peer(id: u64, relay: bool, sendheaders: bool) -> PeerInfo {
        Recording::peer(id, relay, sendheaders)
    }

    pub(crate) fn block() -> Arc<Block> {
        Arc::new(Block {
            header: BlockHeader {
                version: 1,
                prev_block: Hash256::ZERO,
                merkle_root: Hash256::ZERO,
                time: 0,
                bits: 0x207f_ffff,
                nonce: 0,
            },
            txs: vec![],
        })
    }

    fn tx() -> Arc<Transaction> {
        Arc::new(Transaction::coinbase(vec![1], vec![0x51], 50))
    }

    fn build(name: &str) -> Box<dyn Broadcast> {
        BROADCAST.build_default(name).unwrap()
    }

    #[test]
    fn announce_sends_inv_for_transactions_to_relaying_peers_and_headers_to_those_that_asked() {
        let peers = Recording::with_peers(vec![peer(1, true, true), peer(2, false, false)]);
        let mut announce = build("announce");
        assert_eq!(announce.interval(), None);
        let tx = tx();
        announce.transaction(&peers, tx.txid(), &tx);
        let sent = peers.take();
        assert_eq!(
            sent.len(),
            1,
            "a peer that asked for no transactions gets none"
        );
        assert_eq!(sent[0].0, PeerId(1));
        assert!(matches!(&*sent[0].1, Message::Inv(items) if items == &[Inventory::tx(tx.txid())]));

        let block = block();
        announce.block(&peers, block.hash(), &block);
        let sent = peers.take();
        assert!(
            sent.iter().all(
                |(_, m)| matches!(&**m, Message::Inv(items) if items[0].kind == InvType::Block)
            ),
            "a peer not known to have the parent gets inv, even one that asked for headers"
        );
    }

    /// A chain of `n` blocks after genesis (`Hash256::ZERO` as its parent).
    fn chain(n: u32) -> Vec<(Hash256, Arc<Block>)> {
        let mut out: Vec<(Hash256, Arc<Block>)> = Vec::new();
        for nonce in 0..n {
            let mut next = (*block()).clone();
            next.header.nonce = nonce;
            next.header.prev_block = out.last().map_or(Hash256::ZERO, |(h, _)| *h);
            out.push((next.hash(), Arc::new(next)));
        }
        out
    }

    #[test]
    fn announce_sends_the_headers_a_peer_can_connect_and_inv_otherwise() {
        let peers = Recording::with_peers(vec![
            peer(1, true, true),
            peer(2, true, true),
            peer(3, true, true),
            peer(4, true, false),
        ]);
        let blocks = chain(10);
        // Peer 1 has the parent of the last three, peer 2 the genesis only (ten headers
        // would be more than eight), peer 3 nothing we know of, peer 4 asked for inv.
        peers.set_known(PeerId(1), blocks[6].0);
        peers.set_known(PeerId(2), Hash256::ZERO);
        peers.set_known(PeerId(4), blocks[6].0);
        build("announce").blocks(&peers, &blocks);
        let sent = peers.take();
        let to = |id: u64| &*sent.iter().find(|(p, _)| *p == PeerId(id)).unwrap().1;
        let tip_inv = |m: &Message| matches!(m, Message::Inv(items) if items == &[Inventory::block(blocks[9].0)]);
        let headers: Vec<BlockHeader> = blocks[7..].iter().map(|(_, b)| b.header).collect();
        assert!(
            matches!(to(1), Message::Headers(h) if h == &headers),
            "{:?}",
            to(1)
        );
        assert!(tip_inv(to(2)), "more than 8 headers: inv");
        assert!(tip_inv(to(3)), "parent unknown: inv");
        assert!(tip_inv(to(4)), "no sendheaders: inv");

        // Announcing marks what each peer was sent as known, as the peers service does:
        // a fresh peer 2 that has block 8 gets the header of block 9.
        let peers = Recording::with_peers(vec![peer(2, true, true)]);
        peers.set_known(PeerId(2), blocks[8].0);
        build("announce").blocks(&peers, &blocks[9..]);
        let sent = peers.take();
        let two = sent.iter().find(|(p, _)| *p == PeerId(2)).unwrap();
        assert!(matches!(&*two.1, Message::Headers(h) if h == &[blocks[9].1.header]));
    }

    #[test]
    fn flood_skips_peers_that_know_the_object() {
        let peers = Recording::with_peers(vec![peer(1, true, false), peer(2, true, false)]);
        let tx = tx();
        peers.set_known(PeerId(2), tx.txid());
        build("flood").transaction(&peers, tx.txid(), &tx);
        let sent = peers.take();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, PeerId(1));
        assert!(matches!(&*sent[0].1, Message::Tx(t) if t.txid() == tx.txid()));
    }

    #[test]
    fn batched_sends_what_is_queued_once_per_tick() {
        let peers = Recording::with_peers(vec![peer(1, true, false), peer(2, true, false)]);
        let mut batched = build("batched");
        assert_eq!(
            batched.interval(),
            Some(Duration::from_millis(BatchedConfig::default().interval_ms))
        );
        let (tx, block) = (tx(), block());
        peers.set_known(PeerId(2), tx.txid());
        batched.transaction(&peers, tx.txid(), &tx);
        batched.block(&peers, block.hash(), &block);
        assert!(peers.take().is_empty(), "nothing before the tick");

        batched.tick(&peers);
        let sent = peers.take();
        assert_eq!(sent.len(), 2);
        let items = |i: usize| match &*sent[i].1 {
            Message::Inv(items) => items.len(),
            other => panic!("not an inv: {other:?}"),
        };
        assert_eq!(items(0), 2, "one inv with both");
        assert_eq!(
            items(1),
            1,
            "only the block to the peer that has the transaction"
        );

        batched.tick(&peers);
        assert!(peers.take().is_empty(), "the queue was emptied");
    }
}
