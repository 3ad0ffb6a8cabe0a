//! `events`: a resumable stream of what happens to the chain and the mempool, as
//! Server-Sent Events at `/events` on the kernel's module HTTP.
//!
//! Events (`event:` names; `data:` is JSON): `block_connected` {hash, height, txs,
//! size}, `block_disconnected` {hash, height, txs}, `tip_changed` {hash, height},
//! `tx_accepted` {txid, fee, size}, `tx_removed` {txid, reason}, and `lagged` {skipped}
//! when this plugin fell behind the event bus and lost mempool events (chain events are
//! never lost: they come from the chain stream, which a plugin behind it reads from the
//! store); every event's data also
//! has `time_us`, when the plugin received it (microseconds since the Unix epoch). Each
//! has an `id:` one
//! above the last, across restarts. A client that reconnects with `Last-Event-ID` (a
//! browser's `EventSource` does by itself), or first connects with
//! `/events?last_event_id=N`, gets every kept event after it, then live ones; when it
//! asks for more than is kept (or an id never given out: the data directory was
//! replaced) it first gets a `gap` event {after, oldest} and then every kept event.
//! Without either it gets live events only. `/events/status` answers the window kept
//! (newest, oldest, kept, bytes) and the clients connected.
//!
//! Access is public: the stream carries what any P2P peer of the node learns (blocks,
//! accepted and evicted transactions), nothing private and nothing that changes state,
//! and the explorer page served beside it reads it from a browser that holds no RPC
//! credentials.
//!
//! Needs the `chain-stream` service ([`node_api::ChainStream`], followed from the tip at
//! start); uses `mempool` only to start after it, and reads its events on the bus.
//! Profile table `[events]`: `listen`, `max_events`, `max_bytes`, `max_subscribers`,
//! `keepalive_secs`.
//!
//! Invariants: a client sees each event at most once and in id order; an id it is
//! missing was either reported by a `gap` event or never kept because the bus lagged
//! (a `lagged` event says so, for mempool events only). Costs: one file append and one JSON encoding per event
//! (each frame built once, shared by every client); a client costs a task and at most
//! a bounded queue (1,024) of frames shared with the others; a client further
//! behind re-reads from memory, never from disk.

mod store;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use node_api::http::response;
use node_api::{
    async_trait, inventory, service, Access, BoxError, ChainStep, ChainStream, ChainSubscription,
    ConfigError, MempoolEvent, MempoolService, Module, ModuleConfig, ModuleFactory, Route,
    StartContext, StreamStart,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::store::Store;
use crate::stream::Hub;

/// Where the bound address is published in the data directory.
pub const ADDRESS_FILE: &str = "events.addr";

/// The `[events]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct EventsConfig {
    /// Module HTTP address; the explorer's default is the same, so they share a listener.
    listen: SocketAddr,
    /// Events kept for clients that resume.
    max_events: usize,
    /// Bytes of kept events (as stored), whichever bound is reached first.
    max_bytes: usize,
    /// Clients streaming at once; more are answered 503.
    max_subscribers: usize,
    /// Seconds between keep-alive comments on an idle stream.
    keepalive_secs: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            // About a day of a busy small chain's blocks and transactions.
            max_events: 100_000,
            // Events are ~150 bytes: the count binds first; the byte bound caps odd ones.
            max_bytes: 32 * 1024 * 1024,
            // A module HTTP listener serves 64 connections at once: streams, which never
            // end, may take a quarter, leaving the rest for pages and API calls.
            max_subscribers: 16,
            // Under the 30-60 s idle timeouts of common proxies.
            keepalive_secs: 15,
        }
    }
}

struct Events {
    config: EventsConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: EventsConfig = config.parse()?;
    if config.max_events == 0 || config.max_subscribers == 0 || config.keepalive_secs == 0 {
        return Err(ConfigError::Invalid {
            key: "max_events".to_string(),
            reason: "max_events, max_subscribers and keepalive_secs must be at least 1".to_string(),
        });
    }
    Ok(Box::new(Events { config }))
}

inventory::submit! {
    ModuleFactory {
        name: "events",
        description: "a resumable Server-Sent Events stream of blocks and transactions at /events (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainStream>()],
        uses: &[service::<dyn MempoolService>()],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for Events {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let config = self.config;
        let dir = ctx.datadir().join("events");
        let store = Store::open(&dir, config.max_events, config.max_bytes)
            .map_err(|e| format!("events: cannot open {}: {e}", dir.display()))?;
        let hub = Arc::new(Hub::new(
            store,
            config.max_subscribers,
            Duration::from_secs(config.keepalive_secs),
            ctx.cancel_token(),
        ));
        // Subscribed before the routes exist and before start returns: no event after
        // the node is up is missed.
        let mut chain_steps = ctx
            .require::<dyn ChainStream>()?
            .subscribe(StreamStart::Tip)?;
        let mut mempool_events = ctx.events().subscribe::<MempoolEvent>();
        let stream_hub = hub.clone();
        let status_hub = hub.clone();
        let routes = vec![
            Route::new("/events", Access::Public, move |request| {
                let answer = stream::serve(&stream_hub, &request);
                async move { answer }
            }),
            Route::new("/events/status", Access::Public, move |_| {
                let status = status_hub.status().to_string();
                async move { response(StatusCode::OK, "application/json", status) }
            }),
        ];
        let bound = ctx.serve_http(config.listen, routes).await?;
        tracing::info!(%bound, "event stream at /events");
        // Published like peers.addr and rpc.addr, so a node started on port 0 is found.
        let published = ctx.datadir().join(ADDRESS_FILE);
        if let Err(e) = std::fs::write(&published, bound.to_string()) {
            tracing::warn!("events: cannot write {}: {e}", published.display());
        }
        let cancel = ctx.cancel_token();
        ctx.spawn("record", async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    step = chain_steps.next() => match step {
                        Ok(step) => record_step(&hub, &*chain_steps, &step),
                        Err(e) => {
                            tracing::warn!("events stops recording: the chain stream failed: {e}");
                            return;
                        }
                    },
                    event = mempool_events.recv() => match event {
                        Ok(event) => record_mempool(&hub, &event),
                        Err(RecvError::Lagged(skipped)) => lagged(&hub, skipped),
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(())
    }
}

fn lagged(hub: &Hub, skipped: u64) {
    tracing::warn!(skipped, "events fell behind the event bus; skipped some");
    hub.record("lagged", json!({ "skipped": skipped }));
}

/// A chain step as the events it stands for: each block that left, each that joined,
/// then the new tip. A block no longer readable (pruned) has `txs` and `size` null.
fn record_step(hub: &Hub, steps: &dyn ChainSubscription, step: &ChainStep) {
    let block = |hash| steps.block(hash).ok().flatten();
    for id in step.reverted() {
        let txs = block(&id.hash).map(|b| b.txs.len());
        hub.record(
            "block_disconnected",
            json!({ "hash": id.hash.to_string(), "height": id.height, "txs": txs }),
        );
    }
    for id in step.committed() {
        let block = block(&id.hash);
        hub.record(
            "block_connected",
            json!({
                "hash": id.hash.to_string(),
                "height": id.height,
                "txs": block.as_ref().map(|b| b.txs.len()),
                "size": block.as_ref().map(|b| b.size()),
            }),
        );
    }
    let tip = step.tip();
    hub.record(
        "tip_changed",
        json!({ "hash": tip.hash.to_string(), "height": tip.height }),
    );
}

fn record_mempool(hub: &Hub, event: &MempoolEvent) {
    match event {
        MempoolEvent::Accepted { txid, tx, fee } => hub.record(
            "tx_accepted",
            json!({ "txid": txid.to_string(), "fee": fee, "size": tx.size() }),
        ),
        MempoolEvent::Removed { txid, reason } => hub.record(
            "tx_removed",
            json!({ "txid": txid.to_string(), "reason": reason }),
        ),
    }
}
