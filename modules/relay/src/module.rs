//! The `relay` module: the relay loop with the chosen broadcast behaviour.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_chain::{Block, ChainEvent, Hash256};
use node_kernel::{
    inventory, BoxError, ConfigError, EventBus, Module, ModuleConfig, ModuleFactory, StartContext,
};
use node_mempool::{Mempool, MempoolEvent};
use node_peers::{Inventory, Message, PeerId, Peers, Topic};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::behaviour::{Broadcast, BEHAVIOUR};
use crate::config::RelayConfig;

/// Without a batching behaviour the loop still wakes this often to expire requests.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

struct RelayModule {
    config: RelayConfig,
    behaviour: Option<Box<dyn Broadcast>>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: RelayConfig = config.parse()?;
    let behaviour = config
        .choose_strategy("broadcast", BEHAVIOUR, &parsed.broadcast)?
        .build_as::<Box<dyn Broadcast>>()
        .ok_or_else(|| ConfigError::Invalid {
            key: "broadcast".to_string(),
            reason: format!(
                "{:?} is not registered as a broadcast behaviour type",
                parsed.broadcast
            ),
        })?;
    Ok(Box::new(RelayModule {
        config: parsed,
        behaviour: Some(behaviour),
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "relay",
        description: "relays validated transactions and blocks with a chosen broadcast behaviour",
        provides: &[],
        needs: &["chain", "mempool", "peers"],
        uses: &[],
        build,
    }
}

impl Module for RelayModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let relay = Relay {
            mempool: ctx.services.require::<Mempool>("mempool")?,
            peers: ctx.services.require::<Peers>("peers")?,
            config: self.config.clone(),
            behaviour: self.behaviour.take().ok_or("relay module started twice")?,
            requested: HashMap::new(),
            connected: Vec::new(),
        };
        ctx.spawn(relay.run(ctx.events.clone(), ctx.cancel.clone()));
        Ok(())
    }
}

struct Relay {
    mempool: Arc<Mempool>,
    peers: Arc<Peers>,
    config: RelayConfig,
    behaviour: Box<dyn Broadcast>,
    /// Transactions asked of a peer and not yet received, so other announcers are not
    /// asked too.
    requested: HashMap<Hash256, Instant>,
    /// Blocks connected since the last tip change.
    connected: Vec<(Hash256, Arc<Block>)>,
}

impl Relay {
    async fn run(mut self, events: EventBus, cancel: CancellationToken) {
        let mut invs = self.peers.subscribe(Topic::InvTx);
        let mut txs = self.peers.subscribe(Topic::Tx);
        let mut getdata = self.peers.subscribe(Topic::GetDataTx);
        let mut pool_events = events.subscribe::<MempoolEvent>();
        let mut chain_events = events.subscribe::<ChainEvent>();
        let period = self
            .behaviour
            .interval(&self.config)
            .unwrap_or(HOUSEKEEPING);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                event = pool_events.recv() => match event {
                    Ok(MempoolEvent::Accepted { txid, tx, .. }) => {
                        self.behaviour.transaction(&self.peers, txid, &tx);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "relay missed mempool events"),
                    Err(RecvError::Closed) => return,
                },
                event = chain_events.recv() => match event {
                    Ok(ChainEvent::BlockConnected { hash, block, .. }) => self.connected.push((hash, block)),
                    Ok(ChainEvent::BlockDisconnected { .. }) => {}
                    Ok(ChainEvent::TipChanged { hash, .. }) => {
                        // Announce the new tip only: peers fetch its ancestors by headers.
                        if let Some((_, block)) = self.connected.iter().find(|(h, _)| *h == hash) {
                            let block = block.clone();
                            self.behaviour.block(&self.peers, hash, &block);
                        }
                        self.connected.clear();
                    }
                    Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "relay missed chain events"),
                    Err(RecvError::Closed) => return,
                },
                Some((peer, message)) = invs.recv() => {
                    if let Message::Inv(items) = &*message {
                        self.on_inv(peer, items);
                    }
                }
                Some((peer, message)) = txs.recv() => self.on_tx(peer, message).await,
                Some((peer, message)) = getdata.recv() => {
                    if let Message::GetData(items) = &*message {
                        self.serve(peer, items);
                    }
                }
                _ = tick.tick() => {
                    self.behaviour.tick(&self.peers);
                    let timeout = Duration::from_secs(self.config.request_timeout_secs);
                    self.requested.retain(|_, at| at.elapsed() < timeout);
                }
            }
        }
    }

    /// Requests announced transactions we neither hold nor already asked for.
    fn on_inv(&mut self, peer: PeerId, items: &[Inventory]) {
        let wanted: Vec<Inventory> = items
            .iter()
            .filter(|i| !self.requested.contains_key(&i.hash) && !self.mempool.contains(&i.hash))
            .copied()
            .collect();
        if wanted.is_empty() {
            return;
        }
        let now = Instant::now();
        for item in &wanted {
            self.requested.insert(item.hash, now);
        }
        if let Err(e) = self.peers.send(peer, Message::GetData(wanted)) {
            tracing::debug!(%peer, "getdata not sent: {e}");
        }
    }

    async fn on_tx(&mut self, peer: PeerId, message: Arc<Message>) {
        let Message::Tx(tx) = &*message else { return };
        let txid = tx.txid();
        self.requested.remove(&txid);
        let mempool = self.mempool.clone();
        let tx = tx.clone();
        let result = tokio::task::spawn_blocking(move || mempool.accept_from_peer(tx)).await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_misbehaviour() => {
                tracing::info!(%peer, %txid, reason = %e, "peer sent an invalid transaction");
                self.peers.misbehaving(peer, &e.to_string());
            }
            Ok(Err(e)) => tracing::debug!(%peer, %txid, reason = %e, "transaction not accepted"),
            Err(e) => tracing::error!("transaction validation task failed: {e}"),
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
