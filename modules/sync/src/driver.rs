//! The sync loop: hands every header and block peers send to the chain, punishes invalid
//! data, asks for headers when a block cannot be placed, and tells the strategy.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use node_api::chain::pow::block_work;
use node_api::chain::validation::BlockError;
use node_api::chain::{
    anti_dos_threshold, BlockHeader, BlockOutcome, ChainError, Hash256, MAX_RUN_BLOCKS,
    MAX_RUN_BYTES,
};
use node_api::metrics::{counter, describe_counter, describe_gauge, gauge};
use node_api::p2p::{Message, PeerEvent, PeerId, PeerInfo, Topic, MAX_HEADERS};
use node_api::{ChainView, ChainWriter, CompactBlocks, PeerService};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::header_guard::{is_continuous, HeaderGuard, Verdict};
use node_api::{is_limited, SyncContext, SyncStrategy};

/// What the loop listens to, subscribed in `start` so nothing sent between start and the
/// loop's first poll is lost.
pub(crate) struct Inbox {
    pub(crate) headers: mpsc::Receiver<(PeerId, Arc<Message>)>,
    pub(crate) blocks: mpsc::Receiver<(PeerId, Arc<Message>)>,
    pub(crate) invs: mpsc::Receiver<(PeerId, Arc<Message>)>,
    pub(crate) not_found: mpsc::Receiver<(PeerId, Arc<Message>)>,
    pub(crate) peer_events: broadcast::Receiver<PeerEvent>,
}

impl Inbox {
    pub(crate) fn subscribe(peers: &dyn PeerService, events: &node_api::EventBus) -> Inbox {
        Inbox {
            headers: peers.subscribe(Topic::Headers),
            blocks: peers.subscribe(Topic::Block),
            invs: peers.subscribe(Topic::InvBlock),
            not_found: peers.subscribe(Topic::NotFoundBlock),
            peer_events: events.subscribe::<PeerEvent>(),
        }
    }
}

/// Blocks accepted at once: enough to keep every core verifying while a run of blocks is
/// written and to make the next run, so twice a full run (`node_chain::MAX_RUN_BLOCKS`
/// blocks or `MAX_RUN_BYTES`). Each waits on a blocking thread, asleep until its run is
/// written. With 32, runs carried 15 blocks, and an assumed-valid sync paid a commit
/// (an fsync) every 15 blocks.
const MAX_ACCEPTING: usize = 2 * MAX_RUN_BLOCKS;

/// The serialized bytes of the blocks accepted at once, in KiB (the unit of the byte
/// semaphore's permits): twice a run's bytes, 32 MiB, which bounds the memory of blocks
/// being verified and written however large a chain's blocks are.
const MAX_ACCEPTING_KIB: usize = 2 * MAX_RUN_BYTES / 1024;

pub(crate) struct Driver {
    chain: Arc<dyn ChainView>,
    writer: Arc<dyn ChainWriter>,
    peers: Arc<dyn PeerService>,
    strategy: Box<dyn SyncStrategy>,
    heights: HashMap<PeerId, u32>,
    /// Ready peers that serve only recent blocks.
    limited: HashSet<PeerId>,
    /// What each peer's headers may cost.
    guard: HeaderGuard,
    /// Which peers' new blocks are asked compact.
    compact: Option<Arc<dyn CompactBlocks>>,
}

/// The strategy's view of the driver, built from disjoint fields so the strategy itself
/// can be borrowed mutably beside it.
macro_rules! ctx {
    ($driver:expr) => {
        SyncContext {
            chain: &$driver.chain,
            peers: &*$driver.peers,
            heights: &$driver.heights,
            limited: &$driver.limited,
            compact: $driver.compact.as_ref(),
        }
    };
}

impl Driver {
    pub(crate) fn new(
        chain: Arc<dyn ChainView>,
        writer: Arc<dyn ChainWriter>,
        peers: Arc<dyn PeerService>,
        strategy: Box<dyn SyncStrategy>,
        compact: Option<Arc<dyn CompactBlocks>>,
    ) -> Driver {
        Driver {
            chain,
            writer,
            peers,
            strategy,
            heights: HashMap::new(),
            limited: HashSet::new(),
            guard: HeaderGuard::default(),
            compact,
        }
    }

    fn add_peer(&mut self, info: &PeerInfo) {
        self.heights
            .insert(info.id, info.start_height.max(0) as u32);
        if is_limited(info.services) {
            self.limited.insert(info.id);
        }
    }

    fn raise_height(&mut self, peer: PeerId, height: u32) {
        if let Some(known) = self.heights.get_mut(&peer) {
            *known = (*known).max(height);
        }
    }

    /// A rule violation by `peer` ends its connection; anything else is logged.
    fn punish(&self, peer: PeerId, error: &ChainError) {
        match error {
            ChainError::Invalid(e) if e.is_misbehaviour() => {
                tracing::info!(%peer, reason = %e, "peer sent invalid data");
                self.peers.misbehaving(peer, &e.reason());
            }
            ChainError::Invalid(_) => {}
            // A branch this pruned node can no longer reorganise to: nobody's fault.
            ChainError::BeyondPruned { .. } | ChainError::LowWork { .. } => {
                tracing::debug!(%peer, "{error}")
            }
            other => tracing::error!("chain error: {other}"),
        }
    }

    /// Runs until `cancel` fires. The event bus never closes while the node runs, so its
    /// closing is an error that stops the node rather than a sync loop gone quietly.
    pub(crate) async fn run(
        mut self,
        mut inbox: Inbox,
        cancel: CancellationToken,
    ) -> Result<(), &'static str> {
        // Peers that connected before this loop subscribed.
        for info in self.peers.peers() {
            self.add_peer(&info);
            let ctx = ctx!(self);
            self.strategy.peer_connected(&ctx, &info);
        }
        // Blocks are accepted on blocking threads side by side (the chain verifies their
        // signatures in parallel and connects them in order); results come back here.
        let (accepted_tx, mut accepted) = mpsc::unbounded_channel();
        let accepting = Arc::new(tokio::sync::Semaphore::new(MAX_ACCEPTING));
        let accepting_kib = Arc::new(tokio::sync::Semaphore::new(MAX_ACCEPTING_KIB));
        let mut tick = tokio::time::interval(self.strategy.tick_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        describe_counter!(
            "node_sync_blocks_downloaded_total",
            "block messages received from peers (requested, pushed or announced)"
        );
        describe_gauge!(
            "node_sync_in_flight",
            "blocks requested from peers and not yet received"
        );
        let downloaded = counter!("node_sync_blocks_downloaded_total");
        let in_flight = gauge!("node_sync_in_flight");
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                event = inbox.peer_events.recv() => match event {
                    Ok(PeerEvent::Connected(info)) => {
                        self.add_peer(&info);
                        let ctx = ctx!(self);
                        self.strategy.peer_connected(&ctx, &info);
                    }
                    Ok(PeerEvent::Disconnected { id, .. }) => {
                        self.heights.remove(&id);
                        self.limited.remove(&id);
                        self.guard.forget(id);
                        let ctx = ctx!(self);
                        self.strategy.peer_disconnected(&ctx, id);
                    }
                    Err(RecvError::Lagged(_)) => {
                        let ready = self.peers.peers();
                        self.heights.retain(|id, _| ready.iter().any(|r| r.id == *id));
                        self.limited.retain(|id| ready.iter().any(|r| r.id == *id));
                        for info in ready {
                            if !self.heights.contains_key(&info.id) {
                                self.add_peer(&info);
                            }
                        }
                    }
                    Err(RecvError::Closed) => return Err("the event bus closed"),
                },
                Some((peer, message)) = inbox.headers.recv() => {
                    if let Message::Headers(list) = &*message {
                        self.on_headers(peer, list.clone()).await;
                    }
                }
                Some((peer, message)) = inbox.blocks.recv() => {
                    if let Message::Block(block) = &*message {
                        downloaded.increment(1);
                        let hash = block.hash();
                        if self.is_low_work_block(&block.header, &hash) {
                            // Not stored, as a headers run of low work is not (Core does
                            // not store an unrequested block with less work either).
                            tracing::debug!(%peer, block = %hash, "low-work block from an unknown branch ignored");
                            if let Verdict::Disconnect(reason) = self.guard.low_work(peer, Vec::new(), false) {
                                tracing::info!(%peer, %reason, "disconnecting a peer for its blocks");
                                self.peers.misbehaving(peer, &reason);
                                self.guard.forget(peer);
                            }
                            continue;
                        }
                        let ctx = ctx!(self);
                        self.strategy.received(&ctx, peer, hash);
                        let permit = accepting.clone().acquire_owned().await.expect("never closed");
                        // A block larger than the whole budget waits for all of it.
                        let kib = block.size().div_ceil(1024).clamp(1, MAX_ACCEPTING_KIB) as u32;
                        let kib_permit = accepting_kib.clone().acquire_many_owned(kib).await.expect("never closed");
                        // Started here, in the order blocks arrived: the chain verifies
                        // them in that order while they wait for their turn.
                        let pending = self.writer.clone().accept_ahead(block.clone());
                        let done = accepted_tx.clone();
                        tokio::spawn(async move {
                            let result = pending.await;
                            drop((permit, kib_permit));
                            let _ = done.send((peer, hash, result));
                        });
                    }
                }
                Some((peer, hash, result)) = accepted.recv() => {
                    self.on_block(peer, hash, result);
                }
                Some((peer, message)) = inbox.invs.recv() => {
                    if let Message::Inv(items) = &*message {
                        let unknown = items.iter().any(|i| self.chain.entry(&i.hash).is_none_or(|e| !e.has_data()));
                        if unknown {
                            // Headers first, then the strategy fetches the bodies.
                            ctx!(self).request_headers(peer);
                        }
                    }
                }
                Some((peer, message)) = inbox.not_found.recv() => {
                    if let Message::NotFound(items) = &*message {
                        let hashes: Vec<_> = items.iter().map(|i| i.hash).collect();
                        let ctx = ctx!(self);
                        self.strategy.not_found(&ctx, peer, &hashes);
                    }
                }
                _ = tick.tick() => {
                    let ctx = ctx!(self);
                    self.strategy.tick(&ctx);
                }
            }
            in_flight.set(self.strategy.in_flight() as f64);
        }
    }

    async fn on_headers(&mut self, peer: PeerId, list: Vec<BlockHeader>) {
        if list.is_empty() {
            let ctx = ctx!(self);
            self.strategy.headers(&ctx, peer, &list, 0);
            return;
        }
        if !is_continuous(&list) {
            tracing::info!(%peer, "peer sent headers that do not connect to each other");
            self.peers
                .misbehaving(peer, "non-continuous headers sequence");
            return;
        }
        let full = list.len() >= MAX_HEADERS;
        let run = self.guard.run(peer, list);
        let writer = self.writer.clone();
        let checked = run.clone();
        let result = tokio::task::spawn_blocking(move || writer.accept_headers(&checked)).await;
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("header validation task failed: {e}");
                return;
            }
        };
        if let Some(last) = run.last().and_then(|h| self.chain.entry(&h.hash())) {
            self.raise_height(peer, last.height);
        }
        let verdict = match result {
            Ok(new) => {
                self.guard.connected(peer);
                let ctx = ctx!(self);
                self.strategy.headers(&ctx, peer, &run, new);
                Verdict::Ignore
            }
            Err(ChainError::LowWork { last }) => {
                tracing::debug!(%peer, %last, headers = run.len(), "low-work headers held, not stored");
                self.guard.low_work(peer, run, full)
            }
            // Headers that do not connect: the peer is on a branch we lack the start of.
            // Ask from our locator (Bitcoin Core does the same), at most once an interval.
            Err(ChainError::Invalid(BlockError::PrevNotFound)) => {
                self.guard.unconnecting(peer, Instant::now())
            }
            Err(e) => {
                self.punish(peer, &e);
                Verdict::Ignore
            }
        };
        match verdict {
            Verdict::Ignore => {}
            Verdict::RequestHeaders => ctx!(self).request_headers(peer),
            Verdict::ContinuePresync => {
                if let Some(last) = self.guard.presync_tip(peer) {
                    ctx!(self).request_headers_after(peer, last);
                }
            }
            Verdict::Disconnect(reason) => {
                tracing::info!(%peer, %reason, "disconnecting a peer for its headers");
                self.peers.misbehaving(peer, &reason);
                self.guard.forget(peer);
            }
        }
    }

    /// Whether `header` (of block `hash`) is new here and its chain stays below the
    /// anti-DoS work: a block of such a branch was never asked for (its header would be
    /// stored), and storing it would let cheap forks fill the disk.
    fn is_low_work_block(&self, header: &BlockHeader, hash: &Hash256) -> bool {
        if self.chain.entry(hash).is_some() {
            return false;
        }
        let Some(parent) = self.chain.entry(&header.prev_block) else {
            return false;
        };
        let tip = self.chain.tip();
        let work = parent.chain_work.saturating_add(block_work(header.bits));
        work < anti_dos_threshold(tip.chain_work, tip.header.bits)
    }

    fn on_block(
        &mut self,
        peer: PeerId,
        hash: Hash256,
        result: Option<Result<BlockOutcome, ChainError>>,
    ) {
        match result {
            Some(Ok(outcome)) => {
                if let Some(entry) = self.chain.entry(&hash) {
                    tracing::debug!(%peer, block = %hash, height = entry.height, ?outcome, "block accepted");
                    self.raise_height(peer, entry.height);
                }
            }
            Some(Err(ChainError::Invalid(BlockError::PrevNotFound))) => {
                ctx!(self).request_headers(peer);
            }
            Some(Err(e)) => self.punish(peer, &e),
            None => tracing::error!(block = %hash, "the block's acceptance was lost"),
        }
        let ctx = ctx!(self);
        self.strategy.block(&ctx, peer, hash);
    }
}
