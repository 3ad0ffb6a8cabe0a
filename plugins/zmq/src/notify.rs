//! Turning chain and mempool events into bitcoind's ZeroMQ messages.

use bytes::Bytes;
use node_api::chain::{serialize, Block, Hash256, Transaction};
use node_api::{BlockId, ChainStep, ChainSubscription, MempoolEvent};
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

    /// Publishes `block`'s transactions.
    async fn block_transactions(&mut self, block: &Block) {
        if !self.wants(Topic::HashTx) && !self.wants(Topic::RawTx) {
            return;
        }
        for tx in &block.txs {
            self.transaction(tx, &tx.txid()).await;
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

    /// One block of a step: its transactions, then its `C` or `D` sequence message.
    async fn on_block(&mut self, steps: &dyn ChainSubscription, id: &BlockId, label: u8) {
        if self.wants(Topic::HashTx) || self.wants(Topic::RawTx) {
            match steps.block(&id.hash) {
                Ok(Some(block)) => self.block_transactions(&block).await,
                _ => tracing::debug!(block = %id.hash, "zmq: block not readable"),
            }
        }
        self.sequence(&id.hash, label, false).await;
    }

    /// A chain step: the blocks that left (`D`), those that joined (`C`), then the new
    /// tip's `hashblock` and `rawblock`.
    async fn on_step(&mut self, steps: &dyn ChainSubscription, step: &ChainStep) {
        for id in step.reverted() {
            self.on_block(steps, id, b'D').await;
        }
        for id in step.committed() {
            self.on_block(steps, id, b'C').await;
        }
        let tip = step.tip().hash;
        if self.wants(Topic::HashBlock) {
            self.send(Topic::HashBlock, &Bytes::from(hash_body(&tip)))
                .await;
        }
        if self.wants(Topic::RawBlock) {
            match steps.block(&tip) {
                Ok(Some(block)) => {
                    self.send(Topic::RawBlock, &Bytes::from(serialize(&*block)))
                        .await
                }
                _ => tracing::debug!(%tip, "zmq: tip block not readable"),
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

    /// Publishes every chain step and mempool event until the bus closes or the chain
    /// stream fails.
    pub(crate) async fn run(
        mut self,
        mut steps: Box<dyn ChainSubscription>,
        mut mempool_events: Receiver<MempoolEvent>,
    ) {
        loop {
            tokio::select! {
                step = steps.next() => match step {
                    Ok(step) => self.on_step(&*steps, &step).await,
                    Err(e) => {
                        tracing::warn!("zmq stops: the chain stream failed: {e}");
                        return;
                    }
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
