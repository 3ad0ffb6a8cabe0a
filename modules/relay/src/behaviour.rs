//! Broadcast behaviours: how a validated object reaches the peers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use node_chain::{Block, Hash256, Transaction};
use node_kernel::{inventory, StrategyFactory};
use node_peers::{Inventory, Message, Peers};

use crate::config::RelayConfig;

/// The behaviour name broadcast behaviours register under.
pub const BEHAVIOUR: &str = "broadcast behaviour";

/// How new transactions and blocks are pushed to peers. Every send goes through
/// `Peers::announce`, which skips peers that already know the object.
pub trait Broadcast: Send {
    /// A transaction entered the mempool.
    fn transaction(&mut self, peers: &Peers, txid: Hash256, tx: &Arc<Transaction>);
    /// A block became the tip.
    fn block(&mut self, peers: &Peers, hash: Hash256, block: &Arc<Block>);
    /// How often `tick` runs, if at all.
    fn interval(&self, _config: &RelayConfig) -> Option<Duration> {
        None
    }
    /// Periodic work.
    fn tick(&mut self, _peers: &Peers) {}
}

/// Sends the object itself to every peer lacking it.
struct Flood;

impl Broadcast for Flood {
    fn transaction(&mut self, peers: &Peers, txid: Hash256, tx: &Arc<Transaction>) {
        let message = Arc::new(Message::Tx((**tx).clone()));
        peers.announce(&[txid], |_, _| Some(message.clone()));
    }

    fn block(&mut self, peers: &Peers, hash: Hash256, block: &Arc<Block>) {
        let message = Arc::new(Message::Block((**block).clone()));
        peers.announce(&[hash], |_, _| Some(message.clone()));
    }
}

/// `inv` for transactions; blocks by `headers` to peers that asked (BIP130), else `inv`.
struct Announce;

impl Broadcast for Announce {
    fn transaction(&mut self, peers: &Peers, txid: Hash256, _tx: &Arc<Transaction>) {
        let message = Arc::new(Message::Inv(vec![Inventory::tx(txid)]));
        peers.announce(&[txid], |info, _| info.relay.then(|| message.clone()));
    }

    fn block(&mut self, peers: &Peers, hash: Hash256, block: &Arc<Block>) {
        let headers = Arc::new(Message::Headers(vec![block.header]));
        let inv = Arc::new(Message::Inv(vec![Inventory::block(hash)]));
        peers.announce(&[hash], |info, _| {
            Some(if info.sendheaders {
                headers.clone()
            } else {
                inv.clone()
            })
        });
    }
}

/// Queues announcements and sends them together at an interval.
#[derive(Default)]
struct Batched {
    queued: BTreeMap<Hash256, Inventory>,
}

impl Broadcast for Batched {
    fn transaction(&mut self, _peers: &Peers, txid: Hash256, _tx: &Arc<Transaction>) {
        self.queued.insert(txid, Inventory::tx(txid));
    }

    fn block(&mut self, _peers: &Peers, hash: Hash256, _block: &Arc<Block>) {
        self.queued.insert(hash, Inventory::block(hash));
    }

    fn interval(&self, config: &RelayConfig) -> Option<Duration> {
        Some(Duration::from_millis(config.batch_interval_ms.max(1)))
    }

    fn tick(&mut self, peers: &Peers) {
        if self.queued.is_empty() {
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        let hashes: Vec<Hash256> = queued.keys().copied().collect();
        peers.announce(&hashes, |_, missing| {
            let items = missing
                .iter()
                .filter_map(|h| queued.get(h).copied())
                .collect();
            Some(Arc::new(Message::Inv(items)))
        });
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: BEHAVIOUR,
        name: "flood",
        description: "send new transactions and blocks themselves to every peer at once",
        build: || Box::new(Box::new(Flood) as Box<dyn Broadcast>),
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: BEHAVIOUR,
        name: "announce",
        description: "inv for transactions, headers for blocks; peers fetch what they lack",
        build: || Box::new(Box::new(Announce) as Box<dyn Broadcast>),
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: BEHAVIOUR,
        name: "batched",
        description: "queue announcements and send them every batch_interval_ms (the tutorial's heartbeat)",
        build: || Box::new(Box::new(Batched::default()) as Box<dyn Broadcast>),
    }
}
