//! The `relay` module: the relay loop with the chosen broadcast behaviour.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::chain::{Block, Hash256};
use node_api::p2p::{Inventory, Message, PeerEvent, PeerId, Topic};
use node_api::{
    async_trait, inventory, service, BoxError, Broadcast, BroadcastContext, ChainStep, ChainStream,
    ChainSubscription, ChainView, ChainWriter, CompactBlocks, ConfigError, EventBus, MempoolError,
    MempoolEvent, MempoolService, Module, ModuleConfig, ModuleFactory, PeerService, StartContext,
    StreamStart, BROADCAST,
};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::RelayConfig;
use crate::metrics::{Kind, RelayMetrics};
use crate::requests::TxRequests;

/// Without a batching behaviour the loop still wakes this often for its tick.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How often transaction requests not answered in time are passed to the next announcer.
const REQUEST_CHECK: Duration = Duration::from_millis(500);

/// Admissions read from the pool's cursor at a time, so one burst never holds the pool's
/// lock long; the loop reads again until it has them all.
const ADMISSIONS_PER_READ: usize = 1000;

/// The most blocks of one chain step handed to the behaviour: announcements carry at
/// most 8 headers (Core's `MAX_BLOCKS_TO_ANNOUNCE`) and otherwise the tip, so a step
/// read from the store after a long pause (thousands of blocks) costs no more reads.
const BLOCKS_PER_ANNOUNCEMENT: usize = 16;

struct RelayModule {
    config: RelayConfig,
    behaviour: Box<dyn Broadcast>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: RelayConfig = config.parse()?;
    let behaviour = config.strategy("broadcast", &BROADCAST, &parsed.broadcast)?;
    Ok(Box::new(RelayModule {
        config: parsed,
        behaviour,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "relay",
        description: "relays validated transactions and blocks with a chosen broadcast behaviour",
        registered_by: env!("CARGO_PKG_NAME"),
        // Only with a behaviour that rebuilds compact blocks.
        provides: &[service::<dyn CompactBlocks>()],
        needs: &[service::<dyn MempoolService>(), service::<dyn PeerService>(), service::<dyn ChainStream>()],
        // Only for a behaviour that handles peers' messages (compact blocks).
        uses: &[service::<dyn ChainView>(), service::<dyn ChainWriter>()],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for RelayModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let peers = ctx.require::<dyn PeerService>()?;
        if let Some(compact) = self.behaviour.compact_blocks() {
            ctx.provide::<dyn CompactBlocks>(compact)?;
        }
        let topics = self.behaviour.topics();
        let talking = if topics.is_empty() {
            None
        } else {
            let (Some(chain), Some(writer)) =
                (ctx.get::<dyn ChainView>()?, ctx.get::<dyn ChainWriter>()?)
            else {
                return Err(format!(
                    "broadcast behaviour {:?} needs the chain and its writer (the chain module)",
                    self.config.broadcast
                )
                .into());
            };
            Some(Talking {
                chain,
                writer,
                messages: merge(&*peers, &topics),
                peer_events: ctx.events().subscribe::<PeerEvent>(),
            })
        };
        // Subscribed here, before `start` returns, so nothing published in between is
        // missed: the chain from its tip, the pool from its last admission.
        let mempool = ctx.require::<dyn MempoolService>()?;
        let chain_steps = ctx
            .require::<dyn ChainStream>()?
            .subscribe(StreamStart::Tip)?;
        let inbox = Inbox::subscribe(&*peers, ctx.events(), chain_steps, talking);
        let metrics = RelayMetrics::new(&self.config.broadcast);
        let requests = TxRequests::new(
            Duration::from_millis(self.config.answer_timeout_ms),
            Duration::from_secs(self.config.request_timeout_secs),
        );
        let relay = Relay {
            metrics,
            admitted: mempool.last_admitted(),
            mempool,
            peers,
            behaviour: self.behaviour,
            requests,
        };
        ctx.spawn("relay loop", relay.run(inbox, ctx.cancel_token()));
        Ok(())
    }
}

/// What the loop listens to.
struct Inbox {
    invs: mpsc::Receiver<(PeerId, Arc<Message>)>,
    txs: mpsc::Receiver<(PeerId, Arc<Message>)>,
    getdata: mpsc::Receiver<(PeerId, Arc<Message>)>,
    notfound: mpsc::Receiver<(PeerId, Arc<Message>)>,
    /// Only a wake-up: what to announce is read from the pool's admission cursor, so a
    /// lagging bus delays nothing and loses nothing.
    pool_events: broadcast::Receiver<MempoolEvent>,
    chain_steps: Box<dyn ChainSubscription>,
    talking: Option<Talking>,
}

/// For a behaviour that handles peers' messages: its topics merged into one channel,
/// the peers' comings and goings, and the chain it hands blocks to.
struct Talking {
    chain: Arc<dyn ChainView>,
    writer: Arc<dyn ChainWriter>,
    messages: mpsc::Receiver<(PeerId, Arc<Message>)>,
    peer_events: broadcast::Receiver<PeerEvent>,
}

/// Messages of the behaviour's topics in one channel, in arrival order per topic. The
/// forwarders end when the loop drops the receiver; a full channel makes the sending
/// peers wait, as one subscription would.
fn merge(peers: &dyn PeerService, topics: &[Topic]) -> mpsc::Receiver<(PeerId, Arc<Message>)> {
    let (merged, receiver) = mpsc::channel(256);
    for topic in topics {
        let mut from = peers.subscribe(*topic);
        let merged = merged.clone();
        tokio::spawn(async move {
            while let Some(item) = from.recv().await {
                if merged.send(item).await.is_err() {
                    return;
                }
            }
        });
    }
    receiver
}

impl Inbox {
    fn subscribe(
        peers: &dyn PeerService,
        events: &EventBus,
        chain_steps: Box<dyn ChainSubscription>,
        talking: Option<Talking>,
    ) -> Inbox {
        Inbox {
            invs: peers.subscribe(Topic::InvTx),
            txs: peers.subscribe(Topic::Tx),
            getdata: peers.subscribe(Topic::GetDataTx),
            notfound: peers.subscribe(Topic::NotFoundTx),
            pool_events: events.subscribe::<MempoolEvent>(),
            chain_steps,
            talking,
        }
    }
}

/// A message or peer event for a behaviour that handles peers' messages; pending forever
/// for one that does not.
enum Heard {
    Message(PeerId, Arc<Message>),
    // Boxed: a peer's description is large beside a message's handle.
    Peer(Box<Result<PeerEvent, RecvError>>),
}

async fn hear(talking: &mut Option<Talking>) -> Heard {
    let Some(talking) = talking else {
        return std::future::pending().await;
    };
    tokio::select! {
        Some((peer, message)) = talking.messages.recv() => Heard::Message(peer, message),
        event = talking.peer_events.recv() => Heard::Peer(Box::new(event)),
    }
}

struct Relay {
    metrics: RelayMetrics,
    mempool: Arc<dyn MempoolService>,
    peers: Arc<dyn PeerService>,
    behaviour: Box<dyn Broadcast>,
    /// Transactions asked of a peer and not yet received, with their other announcers.
    requests: TxRequests,
    /// The pool's admission number of the last transaction announced.
    admitted: u64,
}

impl Relay {
    /// Runs until `cancel` fires. The event bus never closes while the node runs, so its
    /// closing is an error that stops the node rather than a relay gone quietly.
    async fn run(mut self, mut inbox: Inbox, cancel: CancellationToken) -> Result<(), String> {
        let period = self.behaviour.interval().unwrap_or(HOUSEKEEPING);
        if let Some(talking) = &inbox.talking {
            // Peers that connected before this loop subscribed.
            let ctx = context(&*self.peers, &*self.mempool, talking);
            for info in self.peers.peers() {
                self.behaviour.peer_connected(&ctx, &info);
            }
        }
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut request_check = tokio::time::interval(REQUEST_CHECK);
        request_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                event = inbox.pool_events.recv() => match event {
                    Ok(MempoolEvent::Accepted { .. }) => self.announce_admitted(),
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "mempool events lagged; announcing from the pool's cursor");
                        self.announce_admitted();
                    }
                    Err(RecvError::Closed) => return Err("the event bus closed".to_string()),
                },
                step = inbox.chain_steps.next() => match step {
                    Ok(step) => self.announce_step(&*inbox.chain_steps, &step),
                    Err(e) => return Err(format!("the chain stream failed: {e}")),
                },
                Some((peer, message)) = inbox.invs.recv() => {
                    if let Message::Inv(items) = &*message {
                        self.on_inv(peer, items);
                    }
                }
                Some((peer, message)) = inbox.txs.recv() => self.on_tx(peer, message),
                heard = hear(&mut inbox.talking) => {
                    let Some(talking) = &inbox.talking else { continue };
                    let ctx = context(&*self.peers, &*self.mempool, talking);
                    match heard {
                        Heard::Message(peer, message) => self.behaviour.message(&ctx, peer, &message),
                        Heard::Peer(event) => match *event {
                            Ok(PeerEvent::Connected(info)) => self.behaviour.peer_connected(&ctx, &info),
                            Ok(PeerEvent::Disconnected { id, .. }) => self.behaviour.peer_disconnected(id),
                            Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "relay missed peer events"),
                            Err(RecvError::Closed) => return Err("the event bus closed".to_string()),
                        },
                    }
                }
                Some((peer, message)) = inbox.getdata.recv() => {
                    if let Message::GetData(items) = &*message {
                        self.serve(peer, items);
                    }
                }
                Some((peer, message)) = inbox.notfound.recv() => {
                    if let Message::NotFound(items) = &*message {
                        self.on_notfound(peer, items);
                    }
                }
                _ = tick.tick() => {
                    // A wake-up the loop missed while busy costs at most a tick.
                    self.announce_admitted();
                    self.behaviour.tick(&self.metrics.around(&self.peers));
                }
                _ = request_check.tick() => {
                    let retries = self.requests.expire(Instant::now());
                    self.ask(retries);
                }
            }
        }
    }

    /// Announces every transaction the pool admitted since the last one announced, in
    /// admission order (those that already left the pool need no announcing).
    fn announce_admitted(&mut self) {
        loop {
            let admitted = self
                .mempool
                .admitted_since(self.admitted, ADMISSIONS_PER_READ);
            let Some(last) = admitted.last() else { return };
            self.admitted = last.sequence;
            let full = admitted.len() == ADMISSIONS_PER_READ;
            for entry in admitted {
                self.metrics.seen(entry.txid, Kind::Tx);
                self.behaviour.transaction(
                    &self.metrics.around(&self.peers),
                    entry.txid,
                    &entry.tx,
                );
            }
            if !full {
                return;
            }
        }
    }

    /// Announces the blocks a chain step committed, oldest first: a behaviour announces
    /// the tip, or the headers of the last few.
    fn announce_step(&mut self, stream: &dyn ChainSubscription, step: &ChainStep) {
        let committed = step.committed();
        let recent = &committed[committed.len().saturating_sub(BLOCKS_PER_ANNOUNCEMENT)..];
        let mut blocks: Vec<(Hash256, Arc<Block>)> = Vec::with_capacity(recent.len());
        for id in recent {
            match stream.block(&id.hash) {
                Ok(Some(block)) => blocks.push((id.hash, block)),
                // Pruned or unreadable: announce from the next block on, as a peer
                // asking for it could not be served anyway.
                Ok(None) => blocks.clear(),
                Err(e) => {
                    tracing::warn!(block = %id.hash, "block to announce not readable: {e}");
                    blocks.clear();
                }
            }
        }
        if let Some((tip, _)) = blocks.last() {
            self.metrics.seen(*tip, Kind::Block);
            self.behaviour
                .blocks(&self.metrics.around(&self.peers), &blocks);
        }
    }

    /// Requests announced transactions we do not hold and asked no one else for; the
    /// others' announcers are remembered, to be asked if the first does not deliver.
    fn on_inv(&mut self, peer: PeerId, items: &[Inventory]) {
        let now = Instant::now();
        let wanted: Vec<Inventory> = items
            .iter()
            .filter(|i| {
                (self.requests.is_wanted(&i.hash) || !self.mempool.contains(&i.hash))
                    && self.requests.announced(peer, i.hash, now)
            })
            .copied()
            .collect();
        if !wanted.is_empty() {
            if let Err(e) = self.peers.send(peer, Message::GetData(wanted)) {
                tracing::debug!(%peer, "getdata not sent: {e}");
            }
        }
    }

    /// `peer` does not have what it was asked: its transactions go to their next
    /// announcers.
    fn on_notfound(&mut self, peer: PeerId, items: &[Inventory]) {
        let now = Instant::now();
        let next: Vec<(PeerId, Hash256)> = items
            .iter()
            .filter_map(|i| Some((self.requests.not_found(peer, &i.hash, now)?, i.hash)))
            .collect();
        self.ask(next);
    }

    /// Sends one `getdata` per peer for the transactions to ask of it.
    fn ask(&self, requests: Vec<(PeerId, Hash256)>) {
        let mut by_peer: HashMap<PeerId, Vec<Inventory>> = HashMap::new();
        for (peer, txid) in requests {
            by_peer.entry(peer).or_default().push(Inventory::tx(txid));
        }
        for (peer, items) in by_peer {
            tracing::debug!(%peer, count = items.len(), "asking the next announcer");
            if let Err(e) = self.peers.send(peer, Message::GetData(items)) {
                tracing::debug!(%peer, "getdata not sent: {e}");
            }
        }
    }

    fn on_tx(&mut self, peer: PeerId, message: Arc<Message>) {
        let Message::Tx(tx) = &*message else { return };
        let txid = tx.txid();
        self.requests.received(&txid);
        // Validated here, on the relay's task: one transaction's checks (a signature per
        // input, a few coin reads) take about as long as handing it to a blocking thread
        // and waking this task again, which at hundreds of transactions a second and tens
        // of nodes per machine cost more than the checks.
        match self.mempool.accept_from_peer(tx.clone()) {
            Ok(_) => {}
            Err(e) if e.is_misbehaviour() => {
                tracing::info!(%peer, %txid, reason = %e, "peer sent an invalid transaction");
                self.peers.misbehaving(peer, &e.to_string());
            }
            Err(e) => {
                tracing::debug!(%peer, %txid, reason = %e, "transaction not accepted");
                if kept_for_blocks(&e) {
                    self.behaviour.not_accepted(&Arc::new(tx.clone()));
                }
            }
        }
    }

    /// Answers `getdata` for transactions from the mempool, `notfound` for the rest.
    fn serve(&self, peer: PeerId, items: &[Inventory]) {
        let mut missing = Vec::new();
        for item in items {
            match self.mempool.get(&item.hash) {
                Some(tx) => {
                    if self.peers.send(peer, Message::Tx((*tx).clone())).is_err() {
                        return;
                    }
                }
                None => missing.push(*item),
            }
        }
        if !missing.is_empty() {
            let _ = self.peers.send(peer, Message::NotFound(missing));
        }
    }
}

/// Refusals whose transaction may still be in a miner's block: orphans and policy, not
/// consensus failures nor what the pool or the chain already holds.
fn kept_for_blocks(error: &MempoolError) -> bool {
    !matches!(
        error,
        MempoolError::AlreadyInMempool
            | MempoolError::AlreadyKnown
            | MempoolError::Coinbase
            | MempoolError::Invalid(_)
    )
}

fn context<'a>(
    peers: &'a dyn PeerService,
    mempool: &'a dyn MempoolService,
    talking: &'a Talking,
) -> BroadcastContext<'a> {
    BroadcastContext {
        peers,
        mempool,
        chain: &*talking.chain,
        writer: &talking.writer,
    }
}
