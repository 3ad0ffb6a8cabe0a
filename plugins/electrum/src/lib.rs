//! `electrum`: an Electrum protocol server (version 1.4, as electrs and Fulcrum serve
//! it) over a scripthash index the node keeps on disk, so light wallets (Electrum,
//! Sparrow, BDK's Electrum backend) connect to the node without a second indexing
//! server.
//!
//! What it provides: JSON-RPC over TCP, one request or batch per line, on `[electrum]
//! listen` (127.0.0.1 on the chain's Electrum port: regtest 60401, testnet 60001, dev and
//! others 50001); every method a wallet syncs with (headers and their subscription,
//! headers with merkle proofs to a checkpoint, scripthash history, balance, mempool,
//! unspent outputs and subscriptions, transactions with merkle branches, broadcast, fee
//! estimates and histogram), see [`methods`]. It also provides the `script-history`
//! service ([`node_api::ScriptHistory`]): the explorer reads address history there.
//!
//! What it needs: the `chain` service (blocks, headers, the in-order listener); it uses
//! `mempool` when it runs (unconfirmed history, broadcast, fees).
//!
//! The index (see [`store`]) lives in `DATADIR/electrum/`, its own LMDB environment, in
//! the chain's order: scripthash -> history, the unspent outputs of each script (so an
//! input is attributed to the script it spends), each confirmed transaction's block,
//! per-block undo and the indexed tip. At start a background task brings it from where
//! it stands to the tip, logging progress and a line when done; after that it follows
//! each tip change, disconnecting the blocks that left the main chain. A block's rows and
//! the tip are one transaction, so a node killed at any instant resumes a consistent
//! index. Requests answer from what is indexed while it builds.
//!
//! Bounds (profile keys, docs/src/operator/limits.md): connections, subscriptions per
//! connection, request line bytes, requests per batch, rows of one history, seconds a
//! client may leave an answer unread. TLS is not served: put a TLS proxy in front
//! for a public server.
//!
//! Costs: on disk about 470 bytes per block of one coinbase, LMDB's pages included
//! (benchmark `electrum`; the rows themselves are 76 bytes per script a transaction
//! touches, 40 per transaction, 160 per unspent output, 80 per spent input); a history
//! answer reads one LMDB range; a status is recomputed per subscribed script an update
//! touches; the mempool view is one pass over the pool's entries per change.

mod index;
mod mempool;
pub mod methods;
mod server;
mod status;
pub mod store;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, MempoolEvent,
    MempoolService, Module, ModuleConfig, ModuleFactory, ScriptHistory, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

use crate::index::{HistoryService, Shared, WakeOnTip};
use crate::methods::Server;
use crate::server::Limits;

/// The `[electrum]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct ElectrumConfig {
    /// TCP address of the Electrum server, `host:port`; unset: 127.0.0.1 on the chain's
    /// Electrum port (regtest 60401, testnet 60001, others 50001, Electrum's own
    /// defaults). Loopback by default: an operator exposes it on purpose.
    listen: Option<String>,
    /// Connections served at once; one more is answered an error and closed.
    max_connections: usize,
    /// Scripthashes one connection may subscribe to; more are refused with an error.
    max_subscriptions: usize,
    /// Bytes of one request line (a request or a batch); a longer line is answered an
    /// error and the connection closed.
    max_line_bytes: usize,
    /// Requests in one batch; a larger batch is answered one error.
    max_batch: usize,
    /// Confirmed transactions of one scripthash the server answers a history, balance
    /// or status with; a longer history is answered an error (as Fulcrum's
    /// `max_history`), so one busy address cannot make a 100 MB answer.
    max_history: usize,
    /// What `server.banner` answers.
    banner: String,
}

impl Default for ElectrumConfig {
    fn default() -> Self {
        ElectrumConfig {
            listen: None,
            // A wallet holds one connection; 64 leaves room for several wallets and
            // explorers per host while bounding the threads' work.
            max_connections: 64,
            // A wallet subscribes to each address it has used plus a gap of 20 per
            // chain (receive, change): tens to thousands. 20,000 serves large wallets;
            // each costs about 100 bytes, 2 MB per connection at worst.
            max_subscriptions: 20_000,
            // A broadcast of a 1 MB transaction is 2 MB of hex; a batch of 1,000
            // subscriptions is about 150 kB. 4 MiB covers both.
            max_line_bytes: 4 << 20,
            // Wallets batch subscriptions and history requests by the hundred.
            max_batch: 1_000,
            // About 10 MB of JSON at most (100 bytes a row); Fulcrum's default is 125,000.
            max_history: 100_000,
            banner: "Welcome to node's Electrum server".to_string(),
        }
    }
}

impl ElectrumConfig {
    fn listen(&self, chain: &str) -> Result<SocketAddr, ConfigError> {
        match &self.listen {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                key: "listen".to_string(),
                reason: format!("{text:?} is not ip:port (e.g. \"127.0.0.1:50001\")"),
            }),
            None => Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                default_port(chain),
            )),
        }
    }
}

/// Electrum's default TCP port for a chain.
fn default_port(chain: &str) -> u16 {
    match chain {
        "regtest" => 60401,
        "testnet" => 60001,
        _ => 50001,
    }
}

/// The file a port-0 listener's address is written to, in the data directory.
pub const ADDRESS_FILE: &str = "electrum.addr";

struct ElectrumModule {
    config: ElectrumConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: ElectrumConfig = config.parse()?;
    for (key, value) in [
        ("max_connections", config.max_connections),
        ("max_subscriptions", config.max_subscriptions),
        ("max_line_bytes", config.max_line_bytes),
        ("max_batch", config.max_batch),
        ("max_history", config.max_history),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: "must be at least 1".to_string(),
            });
        }
    }
    Ok(Box::new(ElectrumModule { config }))
}

inventory::submit! {
    ModuleFactory {
        name: "electrum",
        description: "an Electrum protocol server over a scripthash index on disk (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn ScriptHistory>()],
        needs: &[service::<dyn ChainView>()],
        uses: &[service::<dyn MempoolService>()],
        methods: &[],
        build,
    }
}

/// Updates the connections may trail by before they recompute every subscription.
const UPDATE_BACKLOG: usize = 256;

#[async_trait]
impl Module for ElectrumModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let mempool = ctx.get::<dyn MempoolService>()?;
        let listen = self.config.listen(&chain.spec().name)?;
        if chain.is_pruned() {
            return Err("the electrum index needs every block body; it cannot run on a pruned chain ([chain] prune)".into());
        }
        let path = ctx.datadir().join("electrum");
        let store = tokio::task::spawn_blocking(move || store::Store::open(&path)).await??;
        let wake = Arc::new(Notify::new());
        let (updates, _) = broadcast::channel(UPDATE_BACKLOG);
        let shared = Arc::new(Shared {
            chain: chain.clone(),
            mempool,
            store,
            pool: RwLock::new(Default::default()),
            updates,
            wake: wake.clone(),
            max_history: self.config.max_history,
        });
        ctx.provide::<dyn ScriptHistory>(Arc::new(HistoryService(shared.clone())))?;
        chain.listen(Arc::new(WakeOnTip(wake.clone())));

        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("electrum: cannot listen on {listen}: {e}"))?;
        let bound = listener.local_addr()?;
        ctx.publish_address(ADDRESS_FILE, bound)?;
        tracing::info!(%bound, "electrum server listening");

        // The pool's events wake the index task; a lag is a wake-up too.
        let mut pool_events = ctx.events().subscribe::<MempoolEvent>();
        let cancel = ctx.cancel_token();
        let pool_wake = wake.clone();
        ctx.spawn("mempool-events", async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    event = pool_events.recv() => match event {
                        Err(broadcast::error::RecvError::Closed) => return,
                        _ => pool_wake.notify_one(),
                    },
                }
            }
        });

        let cancel = ctx.cancel_token();
        let indexer = shared.clone();
        ctx.spawn_blocking("index", move || {
            if let Err(e) = indexer.run(&cancel) {
                tracing::error!(error = %e, "electrum index stopped");
            }
        });

        let server = Arc::new(Server {
            shared,
            rpc: ctx.rpc().clone(),
            banner: self.config.banner.clone(),
            max_subscriptions: self.config.max_subscriptions,
            addr: bound,
        });
        let limits = Limits {
            max_connections: self.config.max_connections,
            max_line_bytes: self.config.max_line_bytes,
            max_batch: self.config.max_batch,
        };
        ctx.spawn(
            "server",
            server::serve(listener, server, limits, ctx.spawner(), ctx.cancel_token()),
        );
        Ok(())
    }
}
