//! `zmq`: publishes what bitcoind publishes over ZeroMQ, byte for byte, so wallets,
//! indexers and payment processors written for bitcoind's `-zmqpub<topic>` (LND, BTCPay,
//! electrs) listen to this node unchanged.
//!
//! Topics, each a three-part message `[topic, body, sequence]` where `sequence` is a
//! 4-byte little-endian counter per topic, starting at 0 (Core's `doc/zmq.md`):
//! - `hashblock` (32-byte hash, in the byte order RPC shows) and `rawblock` (the
//!   serialized block) when the tip changes: once per change, for the new tip;
//! - `hashtx` and `rawtx` for a transaction accepted to the mempool, and for every
//!   transaction of a block connected or disconnected;
//! - `sequence`: `<hash>C` / `<hash>D` for a block connected / disconnected,
//!   `<txid>A<mempool sequence>` / `<txid>R<mempool sequence>` for a transaction added
//!   to / removed from the mempool (removals for block inclusion are not sent, as in
//!   Core); the mempool sequence is 8 bytes little-endian.
//!
//! Profile table `[zmq]`: `pubhashblock`, `pubhashtx`, `pubrawblock`, `pubrawtx`,
//! `pubsequence`, each an endpoint (`tcp://127.0.0.1:28332`) as bitcoind's options;
//! topics given the same endpoint share one socket, as in Core. RPC:
//! `getzmqnotifications` (Core's result format).
//!
//! Needs the `chain-stream` service ([`node_api::ChainStream`]): block messages follow the
//! chain's steps in order and without loss, from the tip at start; it uses the `mempool`
//! service only so that it starts after it, and reads the mempool's events
//! ([`node_api::MempoolEvent`]) on the event bus.
//!
//! Why the pure-Rust `zeromq` crate and not the `zmq` bindings to libzmq: it speaks the
//! same ZMTP 3 wire protocol (the test subscribes with pyzmq, i.e. libzmq), runs on the
//! node's tokio runtime instead of a thread per blocking socket, and needs no C/C++
//! library: the `zmq` crate builds libzmq from source or wants libzmq3-dev installed, on
//! every developer's machine and on CI, for one optional plugin. What it costs: its
//! per-subscriber send queue is fixed at 100,000 messages (libzmq's high-water mark is
//! 1,000 and settable), reported as `hwm` by `getzmqnotifications`.
//!
//! Invariants: within one topic, messages go out in the order of the events and their
//! sequence numbers are contiguous. Chain and mempool events arrive on two bus channels,
//! so the relative order of a mempool `A` and a block `C` published at the same instant
//! is the order this plugin received them. A subscriber slower than the node loses
//! messages (PUB semantics; the gap shows in the sequence numbers). Block messages are
//! never skipped (a plugin behind the chain reads the steps it missed from the store);
//! if it falls behind the bus's mempool events it logs how many it skipped.
//!
//! Costs: nothing is serialized for a topic nobody configured; a raw topic serializes
//! each block or transaction once per event, shared by every subscriber of the socket.

mod notify;

use std::collections::BTreeMap;
use std::sync::Arc;

use node_api::rpc::{Param, RpcError, RpcParams};
use node_api::{
    async_trait, inventory, service, BoxError, ChainStream, ConfigError, MempoolService,
    MethodEntry, Module, ModuleConfig, ModuleFactory, RunOn, StartContext, StreamStart,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeromq::{PubSocket, Socket};

use notify::{Notifier, Topic};

/// Messages one subscriber may have queued before the socket drops more for it: fixed
/// by the `zeromq` crate (its `PUB_SEND_QUEUE_CAPACITY`).
pub const SEND_QUEUE_MESSAGES: u64 = 100_000;

/// The `[zmq]` table: an endpoint per topic, as bitcoind's `-zmqpub<topic>=<address>`.
/// An empty string leaves the topic off.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct ZmqConfig {
    pubhashblock: String,
    pubhashtx: String,
    pubrawblock: String,
    pubrawtx: String,
    pubsequence: String,
}

impl ZmqConfig {
    /// (topic, endpoint) of every configured topic, in Core's listing order.
    fn topics(&self) -> Vec<(Topic, String)> {
        [
            (Topic::HashBlock, &self.pubhashblock),
            (Topic::HashTx, &self.pubhashtx),
            (Topic::RawBlock, &self.pubrawblock),
            (Topic::RawTx, &self.pubrawtx),
            (Topic::Sequence, &self.pubsequence),
        ]
        .into_iter()
        .filter(|(_, endpoint)| !endpoint.trim().is_empty())
        .map(|(topic, endpoint)| (topic, endpoint.trim().to_string()))
        .collect()
    }
}

struct Zmq {
    topics: Vec<(Topic, String)>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: ZmqConfig = config.parse()?;
    let topics = config.topics();
    for (topic, endpoint) in &topics {
        // Only the TCP transport is built in (bitcoind's listeners use it).
        if !endpoint.starts_with("tcp://") {
            return Err(ConfigError::Invalid {
                key: format!("pub{}", topic.name()),
                reason: format!("{endpoint:?} is not a ZeroMQ endpoint; give tcp://HOST:PORT"),
            });
        }
    }
    if topics.is_empty() {
        return Err(ConfigError::Invalid {
            key: "pubhashblock".to_string(),
            reason: "no topic has an endpoint; give at least one of pubhashblock, pubhashtx, \
                     pubrawblock, pubrawtx, pubsequence"
                .to_string(),
        });
    }
    Ok(Box::new(Zmq { topics }))
}

inventory::submit! {
    ModuleFactory {
        name: "zmq",
        description: "publishes hashblock, hashtx, rawblock, rawtx and sequence over ZeroMQ as bitcoind does (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainStream>()],
        uses: &[service::<dyn MempoolService>()],
        methods: &[&METHODS],
        build,
    }
}

/// What `getzmqnotifications` lists.
struct Listing {
    rows: Vec<Value>,
}

const NONE: &[Param] = &[];

fn getzmqnotifications(listing: &Listing, _: RpcParams) -> Result<Value, RpcError> {
    Ok(Value::Array(listing.rows.clone()))
}

/// Registered at start, and listed as they are in the factory's `methods`.
const METHODS: &[MethodEntry<Listing>] = &[(
    "getzmqnotifications",
    NONE,
    "Returns information about the active ZeroMQ notifications.\n\n\
     Result:\n\
     [                         (json array)\n  \
       {                       (json object)\n    \
         \"type\" : \"str\",       (string) Type of notification (pubhashblock, pubrawtx, ...)\n    \
         \"address\" : \"str\",    (string) Address of the publisher\n    \
         \"hwm\" : n             (numeric) Outbound message high water mark\n  \
       },\n  \
       ...\n\
     ]",
    getzmqnotifications,
)];

#[async_trait]
impl Module for Zmq {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let stream = ctx.require::<dyn ChainStream>()?;
        // One socket per distinct endpoint: topics sharing an address share it, as Core's
        // notifiers do (binding one address twice would fail).
        let mut sockets: BTreeMap<String, usize> = BTreeMap::new();
        let mut bound: Vec<PubSocket> = Vec::new();
        let mut routes = Vec::new();
        for (topic, endpoint) in &self.topics {
            let index = match sockets.get(endpoint) {
                Some(&index) => index,
                None => {
                    let mut socket = PubSocket::new();
                    socket
                        .bind(endpoint)
                        .await
                        .map_err(|e| format!("zmq: cannot bind {endpoint}: {e}"))?;
                    bound.push(socket);
                    sockets.insert(endpoint.clone(), bound.len() - 1);
                    bound.len() - 1
                }
            };
            routes.push((*topic, index));
            tracing::info!(topic = topic.name(), %endpoint, "zmq publishing");
        }
        let listing = Arc::new(Listing {
            rows: self
                .topics
                .iter()
                .map(|(topic, endpoint)| {
                    json!({
                        "type": format!("pub{}", topic.name()),
                        "address": endpoint,
                        "hwm": SEND_QUEUE_MESSAGES,
                    })
                })
                .collect(),
        });
        ctx.register_methods(&listing, RunOn::Inline, METHODS)?;

        // Subscribed before start returns: nothing after the node is up is missed.
        let steps = stream.subscribe(StreamStart::Tip)?;
        let mempool_events = ctx.events().subscribe();
        let notifier = Notifier::new(bound, routes);
        let cancel = ctx.cancel_token();
        ctx.spawn("publish", async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = notifier.run(steps, mempool_events) => {}
            }
        });
        Ok(())
    }
}
