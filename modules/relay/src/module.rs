//! The `relay` module: the relay loop with the chosen broadcast behaviour.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::chain::{Block, ChainEvent, Hash256};
use node_api::p2p::{Inventory, Message, PeerEvent, PeerId, Topic};
use node_api::{
    async_trait, inventory, services, BoxError, Broadcast, BroadcastContext, ChainView,
    ChainWriter, CompactBlocks, ConfigError, EventBus, MempoolError, MempoolEvent, MempoolService,
    Module, ModuleConfig, ModuleFactory, PeerService, StartContext, BROADCAST,
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
        provides: &[services::COMPACT_BLOCKS],
        needs: &[services::MEMPOOL, services::PEERS],
        // Only for a behaviour that handles peers' messages (compact blocks).
        uses: &[services::CHAIN, services::CHAIN_WRITER],
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
        // missed.
        let inbox = Inbox::subscribe(&*peers, ctx.events(), talking);
        let metrics = RelayMetrics::new(&self.config.broadcast);
        let requests = TxRequests::new(
            Duration::from_millis(self.config.answer_timeout_ms),
            Duration::from_secs(self.config.request_timeout_secs),
        );
        let relay = Relay {
            metrics,
            mempool: ctx.require::<dyn MempoolService>()?,
            peers,
            behaviour: self.behaviour,
            requests,
            connected: Vec::new(),
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
    pool_events: broadcast::Receiver<MempoolEvent>,
    chain_events: broadcast::Receiver<ChainEvent>,
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
    fn subscribe(peers: &dyn PeerService, events: &EventBus, talking: Option<Talking>) -> Inbox {
        Inbox {
            invs: peers.subscribe(Topic::InvTx),
            txs: peers.subscribe(Topic::Tx),
            getdata: peers.subscribe(Topic::GetDataTx),
            notfound: peers.subscribe(Topic::NotFoundTx),
            pool_events: events.subscribe::<MempoolEvent>(),
            chain_events: events.subscribe::<ChainEvent>(),
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
    /// Blocks connected since the last tip change.
    connected: Vec<(Hash256, Arc<Block>)>,
}

impl Relay {
    /// Runs until `cancel` fires. The event bus never closes while the node runs, so its
    /// closing is an error that stops the node rather than a relay gone quietly.
    async fn run(
        mut self,
        mut inbox: Inbox,
        cancel: CancellationToken,
    ) -> Result<(), &'static str> {
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
                    Ok(MempoolEvent::Accepted { txid, tx, .. }) => {
                        self.metrics.seen(txid, Kind::Tx);
                        self.behaviour.transaction(&self.metrics.around(&self.peers), txid, &tx);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "relay missed mempool events"),
                    Err(RecvError::Closed) => return Err("the event bus closed"),
                },
                event = inbox.chain_events.recv() => match event {
                    Ok(ChainEvent::BlockConnected { hash, block, .. }) => self.connected.push((hash, block)),
                    Ok(ChainEvent::BlockDisconnected { .. }) => {}
                    Ok(ChainEvent::TipChanged { hash, .. }) => {
                        // The blocks connected up to the new tip, oldest first: a behaviour
                        // announces the tip, or the headers of all of them.
                        if let Some(tip) = self.connected.iter().position(|(h, _)| *h == hash) {
                            self.metrics.seen(hash, Kind::Block);
                            self.behaviour.blocks(&self.metrics.around(&self.peers), &self.connected[..=tip]);
                        }
                        self.connected.clear();
                    }
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "relay missed chain events"),
                    Err(RecvError::Closed) => return Err("the event bus closed"),
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
                            Err(RecvError::Closed) => return Err("the event bus closed"),
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
                _ = tick.tick() => self.behaviour.tick(&self.metrics.around(&self.peers)),
                _ = request_check.tick() => {
                    let retries = self.requests.expire(Instant::now());
                    self.ask(retries);
                }
            }
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
