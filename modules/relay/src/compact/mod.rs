//! The `compact` broadcast behaviour: compact block relay, BIP152 version 1.
//!
//! Sending: a new tip goes as `cmpctblock` (header, nonce, 6-byte short ids, coinbase
//! prefilled) to peers that asked for high-bandwidth mode (`sendcmpct` 1), and as
//! `headers` or `inv` to the others, which fetch it with `getdata` of `MSG_CMPCT_BLOCK`
//! (answered here with a `cmpctblock`, or the full block when it is more than 10 blocks
//! deep, as Core) or of `MSG_BLOCK` (served by the peers module). `getblocktxn` is
//! answered with `blocktxn`. A peer that never sent `sendcmpct` gets only what
//! `announce` sends it. Transactions go as `inv`, as `announce` sends them.
//!
//! Receiving: after the handshake every peer of protocol 70014 or later is sent
//! `sendcmpct`: high-bandwidth (1) to up to `high_bandwidth_peers` of them, low (0) to
//! the rest. The high-bandwidth set starts with the first peers to connect and then
//! follows Core's rule: the peer that most recently delivered a new block first goes to
//! the front, and the one pushed out of the set is sent `sendcmpct` 0. A `cmpctblock`
//! whose header fails proof of work (or carries the wrong bits on our tip) is
//! misbehaviour; one that passes and extends our tip is passed on at once to the peers
//! that asked us for high bandwidth (BIP152 allows relaying before full validation).
//! The block is rebuilt from the prefilled transactions, the mempool and the extra pool
//! (`extra_txs` recent transactions from peers that did not enter the mempool); what is
//! missing is asked with one `getblocktxn`. A short-id collision, a rebuilt block that
//! does not match its merkle root, an unanswered `getblocktxn` (`blocktxn_timeout_secs`)
//! or more than `max_in_flight_per_peer` blocks waiting on one peer end in a `getdata` of
//! the full block, which the sync module accepts like any block. A rebuilt block goes to
//! the chain writer and is fully validated there; its failing punishes no one.
//!
//! The cut with the sync module: it keeps every `headers`/`inv` announcement and decides
//! what to download; this behaviour offers it, through the relay's
//! [`CompactBlocks`] service, the peers that sent `sendcmpct`, and the sync asks those
//! for the block on our tip with `getdata` of `MSG_CMPCT_BLOCK` (low-bandwidth mode).
//! The `cmpctblock` answer comes here like a pushed one; a fallback's full block goes
//! to the sync like any block.
//!
//! Metrics: `node_relay_compact_blocks_total{outcome}`, `outcome` one of `rebuilt`
//! (no round trip), `blocktxn` (one `getblocktxn`), `full_block` (fell back),
//! `invalid` (the sender misbehaved); `node_relay_compact_extra_txs` (gauge).

mod extra_pool;
mod reconstruct;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use node_api::chain::{check_proof_of_work, Block, Hash256, Transaction};
use node_api::metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge};
use node_api::p2p::{
    BlockTxn, BlockTxnRequest, GetHeaders, HeaderAndShortIds, InvType, Inventory, Message, PeerId,
    PeerInfo, SendCmpct, Topic, COMPACT_VERSION, PROTOCOL_VERSION,
};
use node_api::{
    inventory, Broadcast, BroadcastContext, BuiltStrategy, CompactBlocks, ConfigError, PeerService,
    StrategyConfig, StrategyFactory, BROADCAST,
};
use serde::{Deserialize, Serialize};

use extra_pool::ExtraPool;
use reconstruct::{PartialBlock, Refused};

use crate::behaviour::{announce_transaction, HeaderAnnouncement};

/// The first protocol version that knows compact blocks (Core's `SHORT_IDS_BLOCKS_VERSION`).
const COMPACT_BLOCKS_VERSION: i32 = 70014;
/// Blocks deeper than this are served in full even when asked compact (Core's
/// `MAX_CMPCTBLOCK_DEPTH`).
const MAX_CMPCTBLOCK_DEPTH: u32 = 10;
/// Recent blocks kept to answer `getblocktxn` without reading the chain, and blocks
/// remembered with the peer that delivered them first.
const RECENT_BLOCKS: usize = 16;

/// The `[relay.compact]` table.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CompactConfig {
    /// Peers asked to push new blocks as `cmpctblock` (high-bandwidth mode).
    pub high_bandwidth_peers: usize,
    /// Transactions from peers that did not enter the mempool, kept for rebuilding
    /// blocks (Core's `-blockreconstructionextratxn`).
    pub extra_txs: usize,
    /// Compact blocks waiting for `blocktxn` from one peer; past that the full block is
    /// asked.
    pub max_in_flight_per_peer: usize,
    /// Seconds a `getblocktxn` may stay unanswered before the full block is asked.
    pub blocktxn_timeout_secs: u64,
}

impl Default for CompactConfig {
    fn default() -> Self {
        CompactConfig {
            // BIP152 and Core: three high-bandwidth peers.
            high_bandwidth_peers: 3,
            // Core's DEFAULT_BLOCK_RECONSTRUCTION_EXTRA_TXN.
            extra_txs: 100,
            max_in_flight_per_peer: 2,
            blocktxn_timeout_secs: 10,
        }
    }
}

/// What we know of one peer.
#[derive(Default)]
struct CompactPeer {
    /// It sent `sendcmpct` version 1: it understands compact messages.
    compact: bool,
    /// It asked us to push `cmpctblock` (high bandwidth).
    wants_push: bool,
    /// Blocks rebuilt from its `cmpctblock`, waiting for its `blocktxn`.
    waiting: HashMap<Hash256, (PartialBlock, Instant)>,
}

/// The peers that sent `sendcmpct` version 1, shared with the sync module (through the
/// relay's [`CompactBlocks`] service): it asks them for blocks on our tip compact.
#[derive(Default)]
struct CompactPeers(RwLock<HashSet<PeerId>>);

impl CompactPeers {
    fn set(&self, peer: PeerId, compact: bool) {
        let mut peers = self.0.write().unwrap_or_else(|e| e.into_inner());
        if compact {
            peers.insert(peer);
        } else {
            peers.remove(&peer);
        }
    }
}

impl CompactBlocks for CompactPeers {
    fn asks_compact(&self, peer: PeerId) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&peer)
    }
}

/// The counters of what happened to received compact blocks.
struct Outcomes {
    rebuilt: Counter,
    blocktxn: Counter,
    full_block: Counter,
    invalid: Counter,
    extra: Gauge,
}

impl Outcomes {
    fn new() -> Outcomes {
        describe_counter!(
            "node_relay_compact_blocks_total",
            "compact blocks received, by outcome: rebuilt without a round trip, completed by getblocktxn, fell back to the full block, invalid"
        );
        describe_gauge!(
            "node_relay_compact_extra_txs",
            "transactions outside the mempool kept for rebuilding compact blocks"
        );
        let name = "node_relay_compact_blocks_total";
        Outcomes {
            rebuilt: counter!(name, "outcome" => "rebuilt"),
            blocktxn: counter!(name, "outcome" => "blocktxn"),
            full_block: counter!(name, "outcome" => "full_block"),
            invalid: counter!(name, "outcome" => "invalid"),
            extra: gauge!("node_relay_compact_extra_txs"),
        }
    }
}

/// The behaviour.
struct Compact {
    config: CompactConfig,
    peers: HashMap<PeerId, CompactPeer>,
    /// Peers we asked for high bandwidth, the most recent deliverer first.
    high_bandwidth: VecDeque<PeerId>,
    extra: ExtraPool,
    /// Recent blocks (rebuilt or connected), newest last.
    recent: VecDeque<Arc<Block>>,
    /// Who delivered a recent block first.
    first_from: VecDeque<(Hash256, PeerId)>,
    outcomes: Outcomes,
    shared: Arc<CompactPeers>,
}

impl Compact {
    fn new(config: CompactConfig) -> Compact {
        Compact {
            extra: ExtraPool::new(config.extra_txs),
            config,
            peers: HashMap::new(),
            high_bandwidth: VecDeque::new(),
            recent: VecDeque::new(),
            first_from: VecDeque::new(),
            outcomes: Outcomes::new(),
            shared: Arc::default(),
        }
    }

    fn remember(&mut self, block: Arc<Block>) {
        let hash = block.hash();
        if self.recent.iter().any(|b| b.hash() == hash) {
            return;
        }
        if self.recent.len() >= RECENT_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back(block);
    }

    fn recent_block(&self, ctx: &BroadcastContext<'_>, hash: &Hash256) -> Option<Arc<Block>> {
        if let Some(block) = self.recent.iter().find(|b| b.hash() == *hash) {
            return Some(block.clone());
        }
        match ctx.chain.block(hash) {
            Ok(block) => block.map(Arc::new),
            Err(error) => {
                tracing::warn!(block = %hash, %error, "cannot read a block to serve");
                None
            }
        }
    }

    fn delivered_first(&mut self, hash: Hash256, peer: PeerId) {
        if self.first_from.iter().any(|(h, _)| *h == hash) {
            return;
        }
        if self.first_from.len() >= RECENT_BLOCKS {
            self.first_from.pop_front();
        }
        self.first_from.push_back((hash, peer));
    }

    /// Core's `MaybeSetPeerAsAnnouncingHeaderAndIDs`: `peer` delivered a new block first,
    /// so it goes to the front of the high-bandwidth set, pushing the last one out.
    fn promote(&mut self, peers: &dyn PeerService, peer: PeerId) {
        if !self.peers.get(&peer).is_some_and(|p| p.compact) {
            return;
        }
        if let Some(at) = self.high_bandwidth.iter().position(|p| *p == peer) {
            self.high_bandwidth.remove(at);
            self.high_bandwidth.push_front(peer);
            return;
        }
        if self.config.high_bandwidth_peers == 0 {
            return;
        }
        while self.high_bandwidth.len() >= self.config.high_bandwidth_peers {
            if let Some(out) = self.high_bandwidth.pop_back() {
                send_cmpct(peers, out, false);
            }
        }
        send_cmpct(peers, peer, true);
        self.high_bandwidth.push_front(peer);
    }

    fn ask_full_block(&self, peers: &dyn PeerService, peer: PeerId, hash: Hash256) {
        self.outcomes.full_block.increment(1);
        tracing::debug!(%peer, block = %hash, "asking the full block");
        if let Err(e) = peers.send(peer, Message::GetData(vec![Inventory::block(hash)])) {
            tracing::debug!(%peer, "getdata not sent: {e}");
        }
    }

    fn on_cmpctblock(
        &mut self,
        ctx: &BroadcastContext<'_>,
        peer: PeerId,
        message: &Arc<Message>,
        compact: &HeaderAndShortIds,
    ) {
        let header = &compact.header;
        let hash = header.hash();
        if ctx.chain.entry(&hash).is_some_and(|e| e.has_data()) {
            return;
        }
        if let Err(error) = check_proof_of_work(&hash, header.bits, &ctx.chain.spec().pow_limit()) {
            self.outcomes.invalid.increment(1);
            tracing::info!(%peer, block = %hash, %error, "cmpctblock with bad proof of work");
            ctx.peers
                .misbehaving(peer, &format!("cmpctblock with bad proof of work: {error}"));
            return;
        }
        let parent_known = ctx.chain.entry(&header.prev_block).is_some()
            || self.recent.iter().any(|b| b.hash() == header.prev_block);
        if !parent_known {
            // A block on a branch we lack the start of: headers first (the sync module
            // takes the answer and fetches the bodies).
            let request = Message::GetHeaders(GetHeaders {
                version: PROTOCOL_VERSION as u32,
                locator: ctx.chain.locator(),
                stop: Hash256::ZERO,
            });
            let _ = ctx.peers.send(peer, request);
            return;
        }
        let next = ctx.chain.next_block();
        let extends_tip = header.prev_block == next.prev;
        if extends_tip && header.bits != next.bits {
            self.outcomes.invalid.increment(1);
            ctx.peers.misbehaving(
                peer,
                "cmpctblock with incorrect proof of work (bad-diffbits)",
            );
            return;
        }
        if extends_tip {
            // Passed on before it is rebuilt or validated, to the peers that asked.
            let wants: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(id, p)| p.compact && p.wants_push && **id != peer)
                .map(|(id, _)| *id)
                .collect();
            ctx.peers.announce(&[hash], &mut |info, _| {
                wants.contains(&info.id).then(|| message.clone())
            });
        }
        // The message may come before the peer's connection event does.
        if ctx.peers.peer(peer).is_none() {
            return;
        }
        let state = self.peers.entry(peer).or_default();
        if state.waiting.contains_key(&hash) {
            return;
        }
        if state.waiting.len() >= self.config.max_in_flight_per_peer {
            self.ask_full_block(ctx.peers, peer, hash);
            return;
        }
        self.delivered_first(hash, peer);
        let partial = match PartialBlock::start(compact, ctx.mempool, &self.extra) {
            Ok(partial) => partial,
            Err(refused) => return self.refused(ctx, peer, hash, refused),
        };
        let missing = partial.missing();
        if missing.is_empty() {
            match partial.finish(Vec::new()) {
                Ok(block) => {
                    self.outcomes.rebuilt.increment(1);
                    self.accept(ctx, peer, block);
                }
                Err(refused) => self.refused(ctx, peer, hash, refused),
            }
            return;
        }
        tracing::debug!(%peer, block = %hash, missing = missing.len(), "asking missing transactions");
        let request = Message::GetBlockTxn(BlockTxnRequest {
            block_hash: hash,
            indexes: missing,
        });
        if ctx.peers.send(peer, request).is_ok() {
            if let Some(state) = self.peers.get_mut(&peer) {
                state.waiting.insert(hash, (partial, Instant::now()));
            }
        }
    }

    fn on_blocktxn(&mut self, ctx: &BroadcastContext<'_>, peer: PeerId, answer: &BlockTxn) {
        let Some((partial, _)) = self
            .peers
            .get_mut(&peer)
            .and_then(|p| p.waiting.remove(&answer.block_hash))
        else {
            tracing::debug!(%peer, block = %answer.block_hash, "unrequested blocktxn ignored");
            return;
        };
        match partial.finish(answer.txs.clone()) {
            Ok(block) => {
                self.outcomes.blocktxn.increment(1);
                self.accept(ctx, peer, block);
            }
            Err(refused) => self.refused(ctx, peer, answer.block_hash, refused),
        }
    }

    fn refused(&self, ctx: &BroadcastContext<'_>, peer: PeerId, hash: Hash256, refused: Refused) {
        match refused {
            Refused::Invalid(reason) => {
                self.outcomes.invalid.increment(1);
                tracing::info!(%peer, block = %hash, reason, "invalid compact block");
                ctx.peers.misbehaving(peer, reason);
            }
            Refused::Failed(reason) => {
                tracing::debug!(%peer, block = %hash, reason, "compact block not rebuilt");
                self.ask_full_block(ctx.peers, peer, hash);
            }
        }
    }

    /// Hands a rebuilt block to the chain, which validates it fully; a block that fails
    /// there punishes no one (BIP152: it may have been relayed before validation).
    fn accept(&mut self, ctx: &BroadcastContext<'_>, peer: PeerId, block: Block) {
        let block = Arc::new(block);
        let hash = block.hash();
        self.remember(block.clone());
        let pending = ctx.writer.clone().accept_ahead(block);
        tokio::spawn(async move {
            match pending.await {
                Some(Ok(outcome)) => {
                    tracing::debug!(%peer, block = %hash, ?outcome, "compact block accepted")
                }
                Some(Err(error)) => {
                    tracing::info!(%peer, block = %hash, %error, "compact block refused by the chain")
                }
                None => tracing::error!(block = %hash, "the block's acceptance was lost"),
            }
        });
    }

    fn serve_compact(&self, ctx: &BroadcastContext<'_>, peer: PeerId, items: &[Inventory]) {
        let tip = ctx.chain.tip().height;
        let mut missing = Vec::new();
        for item in items.iter().filter(|i| i.kind == InvType::CmpctBlock) {
            let depth = ctx
                .chain
                .entry(&item.hash)
                .map(|e| tip.saturating_sub(e.height));
            let block = self.recent_block(ctx, &item.hash);
            let Some(block) = block else {
                missing.push(Inventory::block(item.hash));
                continue;
            };
            let message = match HeaderAndShortIds::from_block(&block, rand::random()) {
                Some(compact) if depth.is_none_or(|d| d <= MAX_CMPCTBLOCK_DEPTH) => {
                    Message::CmpctBlock(compact)
                }
                _ => Message::Block(block),
            };
            ctx.peers.mark_known(peer, &[item.hash]);
            if ctx.peers.send(peer, message).is_err() {
                return;
            }
        }
        if !missing.is_empty() {
            let _ = ctx.peers.send(peer, Message::NotFound(missing));
        }
    }

    fn serve_blocktxn(&self, ctx: &BroadcastContext<'_>, peer: PeerId, request: &BlockTxnRequest) {
        let Some(block) = self.recent_block(ctx, &request.block_hash) else {
            tracing::debug!(%peer, block = %request.block_hash, "getblocktxn for a block we lack");
            return;
        };
        let mut txs = Vec::with_capacity(request.indexes.len());
        for index in &request.indexes {
            match block.txs.get(usize::from(*index)) {
                Some(tx) => txs.push(tx.clone()),
                None => {
                    ctx.peers
                        .misbehaving(peer, "getblocktxn with out-of-bounds transaction indexes");
                    return;
                }
            }
        }
        let answer = Message::BlockTxn(BlockTxn {
            block_hash: request.block_hash,
            txs,
        });
        if let Err(e) = ctx.peers.send(peer, answer) {
            tracing::debug!(%peer, "blocktxn not sent: {e}");
        }
    }
}

fn send_cmpct(peers: &dyn PeerService, peer: PeerId, announce: bool) {
    let message = Message::SendCmpct(SendCmpct {
        announce,
        version: COMPACT_VERSION,
    });
    if let Err(e) = peers.send(peer, message) {
        tracing::debug!(%peer, "sendcmpct not sent: {e}");
    }
}

impl Broadcast for Compact {
    fn transaction(&mut self, peers: &dyn PeerService, txid: Hash256, _tx: &Arc<Transaction>) {
        announce_transaction(peers, txid);
    }

    fn block(&mut self, peers: &dyn PeerService, hash: Hash256, block: &Arc<Block>) {
        self.blocks(peers, &[(hash, block.clone())]);
    }

    fn blocks(&mut self, peers: &dyn PeerService, connected: &[(Hash256, Arc<Block>)]) {
        let Some((hash, block)) = connected.last() else {
            return;
        };
        let hash = *hash;
        for (_, block) in connected {
            self.remember(block.clone());
        }
        if let Some(at) = self.first_from.iter().position(|(h, _)| *h == hash) {
            let (_, peer) = self.first_from[at];
            self.promote(peers, peer);
        }
        let compact = HeaderAndShortIds::from_block(block, rand::random())
            .map(|c| Arc::new(Message::CmpctBlock(c)));
        let Some(mut announcement) = HeaderAnnouncement::new(connected) else {
            return;
        };
        let hashes: Vec<Hash256> = connected.iter().map(|(h, _)| *h).collect();
        let states = &self.peers;
        peers.announce(&hashes, &mut |info, _| {
            let pushed = states
                .get(&info.id)
                .is_some_and(|p| p.compact && p.wants_push);
            Some(match &compact {
                Some(compact) if pushed => compact.clone(),
                _ => announcement.for_peer(peers, info),
            })
        });
    }

    fn interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn tick(&mut self, peers: &dyn PeerService) {
        let timeout = Duration::from_secs(self.config.blocktxn_timeout_secs);
        let mut expired = Vec::new();
        for (id, state) in &mut self.peers {
            state.waiting.retain(|hash, (_, since)| {
                let keep = since.elapsed() < timeout;
                if !keep {
                    expired.push((*id, *hash));
                }
                keep
            });
        }
        for (peer, hash) in expired {
            self.ask_full_block(peers, peer, hash);
        }
        self.outcomes.extra.set(self.extra.len() as f64);
    }

    fn topics(&self) -> Vec<Topic> {
        vec![
            Topic::SendCmpct,
            Topic::CmpctBlock,
            Topic::GetDataCmpctBlock,
            Topic::GetBlockTxn,
            Topic::BlockTxn,
            Topic::Block,
        ]
    }

    fn message(&mut self, ctx: &BroadcastContext<'_>, peer: PeerId, message: &Arc<Message>) {
        match &**message {
            Message::SendCmpct(s)
                if s.version == COMPACT_VERSION && ctx.peers.peer(peer).is_some() =>
            {
                let state = self.peers.entry(peer).or_default();
                state.compact = true;
                state.wants_push = s.announce;
                self.shared.set(peer, true);
            }
            Message::SendCmpct(_) => {}
            Message::CmpctBlock(compact) => self.on_cmpctblock(ctx, peer, message, compact),
            Message::BlockTxn(answer) => self.on_blocktxn(ctx, peer, answer),
            Message::GetBlockTxn(request) => self.serve_blocktxn(ctx, peer, request),
            Message::GetData(items) => self.serve_compact(ctx, peer, items),
            Message::Block(block) => {
                let hash = block.hash();
                if !ctx.chain.entry(&hash).is_some_and(|e| e.has_data()) {
                    self.delivered_first(hash, peer);
                }
                // A full block ends any wait for its transactions.
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.waiting.remove(&hash);
                }
            }
            _ => {}
        }
    }

    fn peer_connected(&mut self, ctx: &BroadcastContext<'_>, peer: &PeerInfo) {
        self.peers.entry(peer.id).or_default();
        if peer.version < COMPACT_BLOCKS_VERSION {
            return;
        }
        let high = self.high_bandwidth.len() < self.config.high_bandwidth_peers;
        if high {
            self.high_bandwidth.push_back(peer.id);
        }
        send_cmpct(ctx.peers, peer.id, high);
    }

    fn peer_disconnected(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        self.shared.set(peer, false);
        self.high_bandwidth.retain(|p| *p != peer);
    }

    fn compact_blocks(&self) -> Option<Arc<dyn CompactBlocks>> {
        Some(self.shared.clone())
    }

    fn not_accepted(&mut self, tx: &Arc<Transaction>) {
        self.extra.add(tx);
    }
}

fn build(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    let config: CompactConfig = config.parse()?;
    Ok(BROADCAST.erase(Box::new(Compact::new(config))))
}

inventory::submit! {
    StrategyFactory {
        behaviour: BROADCAST.name,
        name: "compact",
        description: "compact block relay (BIP152): cmpctblock to high-bandwidth peers, getblocktxn for what is missing",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}

#[cfg(test)]
mod tests {
    use node_api::p2p::PeerId;

    use super::*;
    use crate::behaviour::tests::{block, peer, Recording};

    fn compact_peer(wants_push: bool) -> CompactPeer {
        CompactPeer {
            compact: true,
            wants_push,
            waiting: HashMap::new(),
        }
    }

    #[test]
    fn only_peers_that_asked_get_cmpctblock_the_rest_headers_or_inv() {
        let peers = Recording::with_peers(vec![
            peer(1, true, true),
            peer(2, true, true),
            peer(3, true, false),
        ]);
        let mut compact = Compact::new(CompactConfig::default());
        compact.peers.insert(PeerId(1), compact_peer(true));
        compact.peers.insert(PeerId(2), compact_peer(false));
        // Peer 3 never sent sendcmpct.
        compact.peers.insert(PeerId(3), CompactPeer::default());
        let mut block = (*block()).clone();
        block.txs = vec![Transaction::coinbase(vec![1], vec![0x51], 50)];
        let block = Arc::new(block);
        // Peer 2 has the parent: headers connect there.
        peers.set_known(PeerId(2), block.header.prev_block);
        compact.block(&peers, block.hash(), &block);
        let sent = peers.take();
        assert_eq!(sent.len(), 3);
        assert!(matches!(&*sent[0].1, Message::CmpctBlock(c) if c.header == block.header));
        assert!(matches!(&*sent[1].1, Message::Headers(_)));
        assert!(matches!(&*sent[2].1, Message::Inv(_)));
    }

    #[test]
    fn the_peer_that_delivered_a_block_first_joins_the_high_bandwidth_set() {
        let peers = Recording::with_peers(vec![peer(1, true, true), peer(2, true, true)]);
        let mut compact = Compact::new(CompactConfig {
            high_bandwidth_peers: 1,
            ..CompactConfig::default()
        });
        compact.peers.insert(PeerId(1), compact_peer(false));
        compact.peers.insert(PeerId(2), compact_peer(false));
        compact.high_bandwidth.push_back(PeerId(1));
        let block = block();
        compact.delivered_first(block.hash(), PeerId(2));
        compact.block(&peers, block.hash(), &block);
        let sendcmpct: Vec<(PeerId, bool)> = peers
            .take()
            .into_iter()
            .filter_map(|(p, m)| match &*m {
                Message::SendCmpct(s) => Some((p, s.announce)),
                _ => None,
            })
            .collect();
        assert_eq!(sendcmpct, [(PeerId(1), false), (PeerId(2), true)]);
        assert_eq!(compact.high_bandwidth, [PeerId(2)]);
    }
}
