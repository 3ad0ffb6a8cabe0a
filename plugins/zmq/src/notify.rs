//! Turning chain and mempool events into bitcoind's ZeroMQ messages.

use std::sync::Arc;

use bytes::Bytes;
use node_api::chain::{serialize, Block, ChainEvent, Hash256, Transaction};
use node_api::{ChainView, MempoolEvent};
use tokio::sync::broadcast::{error::RecvError, Receiver};
use zeromq::{PubSocket, SocketSend, ZmqMessage};

/// A bitcoind notification topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    HashBlock,
    HashTx,
    RawBlock,
    RawTx,
    Sequence,
}

impl Topic {
    /// The topic frame, as subscribers filter on it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Topic::HashBlock => "hashblock",
            Topic::HashTx => "hashtx",
            Topic::RawBlock => "rawblock",
            Topic::RawTx => "rawtx",
            Topic::Sequence => "sequence",
        }
    }
}

/// A hash as Core publishes it: the byte order RPC shows (reversed).
pub(crate) fn hash_body(hash: &Hash256) -> Vec<u8> {
    let mut bytes = hash.0.to_vec();
    bytes.reverse();
    bytes
}

/// A `sequence` body: hash, label, and for mempool labels (`A`, `R`) the mempool
/// sequence, 8 bytes little-endian.
pub(crate) fn sequence_body(hash: &Hash256, label: u8, mempool_sequence: Option<u64>) -> Vec<u8> {
    let mut body = hash_body(hash);
    body.push(label);
    if let Some(sequence) = mempool_sequence {
        body.extend_from_slice(&sequence.to_le_bytes());
    }
    body
}

/// One configured topic: where it goes and its message counter.
struct Route {
    topic: Topic,
    socket: usize,
    sequence: u32,
}

/// Publishes events on the configured sockets.
pub(crate) struct Notifier {
    sockets: Vec<PubSocket>,
    routes: Vec<Route>,
    /// Counts mempool additions and removals, for `A` and `R` messages.
    mempool_sequence: u64,
    /// The last connected block, so the tip's `rawblock` needs no read from disk.
    last_connected: Option<(Hash256, Arc<Block>)>,
}

impl Notifier {
    pub(crate) fn new(sockets: Vec<PubSocket>, routes: Vec<(Topic, usize)>) -> Notifier {
        Notifier {
            sockets,
            routes: routes
                .into_iter()
                .map(|(topic, socket)| Route {
                    topic,
                    socket,
                    sequence: 0,
                })
                .collect(),
            mempool_sequence: 0,
            last_connected: None,
        }
    }

    fn wants(&self, topic: Topic) -> bool {
        self.routes.iter().any(|r| r.topic == topic)
    }

    /// Sends `body` on every route of `topic`, each with its own next sequence number.
    async fn send(&mut self, topic: Topic, body: &Bytes) {
        for index in 0..self.routes.len() {
            if self.routes[index].topic != topic {
                continue;
            }
            let route = &mut self.routes[index];
            let sequence = route.sequence;
            route.sequence = route.sequence.wrapping_add(1);
            let socket = route.socket;
            let frames = vec![
                Bytes::from_static(topic.name().as_bytes()),
                body.clone(),
                Bytes::copy_from_slice(&sequence.to_le_bytes()),
            ];
            let Ok(message) = ZmqMessage::try_from(frames) else {
                continue;
            };
            if let Err(e) = self.sockets[socket].send(message).await {
                tracing::debug!(topic = topic.name(), "zmq: send failed: {e}");
            }
        }
    }

    async fn transaction(&mut self, tx: &Transaction, txid: &Hash256) {
        if self.wants(Topic::HashTx) {
            self.send(Topic::HashTx, &Bytes::from(hash_body(txid)))
                .await;
        }
        if self.wants(Topic::RawTx) {
            self.send(Topic::RawTx, &Bytes::from(serialize(tx))).await;
        }
    }

    /// Publishes `block`'s transactions, whose ids are `txids`.
    async fn block_transactions(&mut self, block: &Block, txids: &[Hash256]) {
        if !self.wants(Topic::HashTx) && !self.wants(Topic::RawTx) {
            return;
        }
        for (tx, txid) in block.txs.iter().zip(txids) {
            self.transaction(tx, txid).await;
        }
    }

    async fn sequence(&mut self, hash: &Hash256, label: u8, mempool: bool) {
        let mempool_sequence = mempool.then(|| {
            self.mempool_sequence += 1;
            self.mempool_sequence
        });
        if self.wants(Topic::Sequence) {
            let body = sequence_body(hash, label, mempool_sequence);
            self.send(Topic::Sequence, &Bytes::from(body)).await;
        }
    }

    async fn on_chain(&mut self, chain: &dyn ChainView, event: ChainEvent) {
        match event {
            ChainEvent::BlockConnected {
                hash, block, txids, ..
            } => {
                self.block_transactions(&block, &txids).await;
                self.sequence(&hash, b'C', false).await;
                self.last_connected = Some((hash, block));
            }
            ChainEvent::BlockDisconnected { hash, block, .. } => {
                self.block_transactions(&block, &block.txids()).await;
                self.sequence(&hash, b'D', false).await;
            }
            ChainEvent::TipChanged { hash, .. } => {
                if self.wants(Topic::HashBlock) {
                    self.send(Topic::HashBlock, &Bytes::from(hash_body(&hash)))
                        .await;
                }
                if self.wants(Topic::RawBlock) {
                    let raw = match &self.last_connected {
                        Some((last, block)) if *last == hash => Some(serialize(&**block)),
                        _ => chain.block_bytes(&hash).ok().flatten(),
                    };
                    match raw {
                        Some(raw) => self.send(Topic::RawBlock, &Bytes::from(raw)).await,
                        None => tracing::debug!(%hash, "zmq: tip block not readable"),
                    }
                }
            }
        }
    }

    async fn on_mempool(&mut self, event: MempoolEvent) {
        match event {
            MempoolEvent::Accepted { txid, tx, .. } => {
                self.transaction(&tx, &txid).await;
                self.sequence(&txid, b'A', true).await;
            }
            MempoolEvent::Removed { txid, .. } => {
                self.sequence(&txid, b'R', true).await;
            }
        }
    }

    /// Publishes every event until the bus closes.
    pub(crate) async fn run(
        mut self,
        chain: Arc<dyn ChainView>,
        mut chain_events: Receiver<ChainEvent>,
        mut mempool_events: Receiver<MempoolEvent>,
    ) {
        loop {
            tokio::select! {
                event = chain_events.recv() => match event {
                    Ok(event) => self.on_chain(&*chain, event).await,
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "zmq fell behind the chain's events; skipped some");
                    }
                    Err(RecvError::Closed) => return,
                },
                event = mempool_events.recv() => match event {
                    Ok(event) => self.on_mempool(event).await,
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "zmq fell behind the mempool's events; skipped some");
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cores() {
        let hash: Hash256 = "00000000000000000000000000000000000000000000000000000000000000ff"
            .parse()
            .unwrap();
        // RPC byte order: the hash's hex, read left to right.
        assert_eq!(hash_body(&hash)[31], 0xff);
        assert_eq!(hash_body(&hash)[0], 0);
        let block = sequence_body(&hash, b'C', None);
        assert_eq!(block.len(), 33);
        assert_eq!(block[32], b'C');
        let added = sequence_body(&hash, b'A', Some(0x0102));
        assert_eq!(added.len(), 41);
        assert_eq!(&added[33..], &[2, 1, 0, 0, 0, 0, 0, 0]);
    }
}
