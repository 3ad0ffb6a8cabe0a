//! `electrum`: an Electrum protocol server (version 1.4, as electrs and Fulcrum serve
//! it) over a scripthash index the node keeps on disk, so light wallets (Electrum,
//! Sparrow, BDK's Electrum backend) connect to the node without a second indexing
//! server.
//!
//! What it provides: JSON-RPC over TCP, one request or batch per line, on `[electrum]
//! listen` (127.0.0.1 on the chain's Electrum port: regtest 60401, testnet 60001, dev and
//! others 50001), and over TLS on `tls_listen` when set (see [`tls`]); every method a wallet syncs with (headers and their subscription,
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
//! client may leave an answer unread, seconds a TLS client may take over its handshake.
//! Both listeners draw on one `max_connections`: the bound is on the server's work,
//! whatever the transport.
//!
//! Costs: on disk about 470 bytes per block of one coinbase, LMDB's pages included
//! (benchmark `electrum`; the rows themselves are 76 bytes per script a transaction
//! touches, 40 per transaction, 160 per unspent output, 80 per spent input); a history
//! answer reads one LMDB range; a status is recomputed per subscribed script an update
//! touches; the mempool view is one pass over the pool's entries per change.

mod index;
mod mempool;
pub mod methods;
mod metrics;
mod server;
mod status;
pub mod store;
mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, MempoolEvent,
    MempoolService, Module, ModuleConfig, ModuleFactory, ScriptHistory, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::index::{HistoryService, Shared, WakeOnTip};
use crate::methods::Server;
use crate::server::Limits;
use crate::tls::Tls;

/// The `[electrum]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct ElectrumConfig {
    /// TCP address of the Electrum server (plain text, `tcp://`), `host:port`; unset:
    /// 127.0.0.1 on the chain's Electrum port (regtest 60401, testnet 60001, others
    /// 50001, Electrum's own defaults). Loopback by default: an operator exposes it on
    /// purpose. An empty string: no plain listener (TLS only, `tls_listen` set).
    listen: Option<String>,
    /// TCP address of the TLS listener (`ssl://`), `host:port` (Electrum's port is
    /// 50002); unset: no TLS. Needs `tls_cert` and `tls_key`.
    tls_listen: Option<String>,
    /// PEM file of the TLS certificate chain, the server's certificate first; a
    /// relative path starts from the data directory.
    tls_cert: Option<String>,
    /// PEM file of the certificate's private key (PKCS#8, PKCS#1 or SEC1); a relative
    /// path starts from the data directory.
    tls_key: Option<String>,
    /// Seconds a TLS client has from connecting to the end of its handshake; past it,
    /// or at a failed handshake, the connection is dropped.
    tls_handshake_timeout_secs: u64,
    /// Connections served at once, plain and TLS together; one more is answered an
    /// error (plain) or closed (TLS).
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
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            // A handshake is two round trips and a signature: under a second on any
            // link, a few over Tor. Ten bounds what a client that connects and says
            // nothing (or speaks plain text) holds of `max_connections`.
            tls_handshake_timeout_secs: 10,
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
    /// The plain listener's address, none when `listen` is empty.
    fn listen(&self, chain: &str) -> Result<Option<SocketAddr>, ConfigError> {
        match self.listen.as_deref() {
            Some("") => Ok(None),
            Some(text) => parse_address("listen", text, 50001).map(Some),
            None => Ok(Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                default_port(chain),
            ))),
        }
    }

    /// The TLS listener's address and settings, when `tls_listen` is set; the
    /// certificate and key are read now, so a bad file stops the node before it starts.
    fn tls(&self, datadir: &std::path::Path) -> Result<Option<(SocketAddr, Tls)>, ConfigError> {
        let Some(listen) = &self.tls_listen else {
            return match (&self.tls_cert, &self.tls_key) {
                (None, None) => Ok(None),
                _ => Err(ConfigError::Invalid {
                    key: "tls_listen".to_string(),
                    reason: "unset, while tls_cert or tls_key is set: set the TLS address \
                             (e.g. \"127.0.0.1:50002\") or remove them"
                        .to_string(),
                }),
            };
        };
        let address = parse_address("tls_listen", listen, 50002)?;
        let file = |key: &str, value: &Option<String>, what: &str| match value.as_deref() {
            Some(file) if !file.is_empty() => Ok(tls::resolve(datadir, file)),
            _ => Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: format!(
                    "tls_listen is set: give the PEM file of the {what} \
                     (relative to the data directory, or absolute)"
                ),
            }),
        };
        let cert = file("tls_cert", &self.tls_cert, "certificate chain")?;
        let key = file("tls_key", &self.tls_key, "certificate's private key")?;
        let timeout = Duration::from_secs(self.tls_handshake_timeout_secs);
        Ok(Some((address, tls::load(&cert, &key, timeout)?)))
    }
}

fn parse_address(key: &str, text: &str, example_port: u16) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| ConfigError::Invalid {
        key: key.to_string(),
        reason: format!("{text:?} is not ip:port (e.g. \"127.0.0.1:{example_port}\")"),
    })
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
/// The file the TLS listener's address is written to, in the data directory.
pub const TLS_ADDRESS_FILE: &str = "electrum-tls.addr";

struct ElectrumModule {
    config: ElectrumConfig,
    tls: Option<(SocketAddr, Tls)>,
}

fn build(table: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let config: ElectrumConfig = table.parse()?;
    for (key, value) in [
        ("max_connections", config.max_connections),
        ("max_subscriptions", config.max_subscriptions),
        ("max_line_bytes", config.max_line_bytes),
        ("max_batch", config.max_batch),
        ("max_history", config.max_history),
        (
            "tls_handshake_timeout_secs",
            usize::try_from(config.tls_handshake_timeout_secs).unwrap_or(usize::MAX),
        ),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                key: key.to_string(),
                reason: "must be at least 1".to_string(),
            });
        }
    }
    if config.listen.as_deref() == Some("") && config.tls_listen.is_none() {
        return Err(ConfigError::Invalid {
            key: "listen".to_string(),
            reason: "empty (no plain listener) while tls_listen is unset: the server would \
                     listen nowhere; set one of them, or leave electrum out of node.modules"
                .to_string(),
        });
    }
    let tls = config.tls(&table.node().datadir)?;
    Ok(Box::new(ElectrumModule { config, tls }))
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

        let plain = match listen {
            Some(listen) => {
                let listener = bind(listen).await?;
                let bound = listener.local_addr()?;
                ctx.publish_address(ADDRESS_FILE, bound)?;
                tracing::info!(%bound, "electrum server listening");
                Some((listener, bound))
            }
            None => None,
        };
        let tls = match self.tls.clone() {
            Some((listen, tls)) => {
                let listener = bind(listen).await?;
                let bound = listener.local_addr()?;
                ctx.publish_address(TLS_ADDRESS_FILE, bound)?;
                tracing::info!(%bound, "electrum TLS server listening");
                Some((listener, bound, tls))
            }
            None => None,
        };

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
            tcp_addr: plain.as_ref().map(|(_, bound)| *bound),
            ssl_addr: tls.as_ref().map(|(_, bound, _)| *bound),
        });
        let limits = Limits {
            max_connections: self.config.max_connections,
            max_line_bytes: self.config.max_line_bytes,
            max_batch: self.config.max_batch,
        };
        // One pool of permits for both listeners: `max_connections` bounds the server's
        // work whatever the transport.
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        if let Some((listener, _)) = plain {
            let accept = server::Accept {
                server: server.clone(),
                limits,
                permits: permits.clone(),
                tls: None,
                metrics: metrics::Metrics::new("tcp"),
            };
            ctx.spawn(
                "server",
                server::serve(listener, accept, ctx.spawner(), ctx.cancel_token()),
            );
        }
        if let Some((listener, _, tls)) = tls {
            let accept = server::Accept {
                server,
                limits,
                permits,
                tls: Some(tls),
                metrics: metrics::Metrics::new("tls"),
            };
            ctx.spawn(
                "tls-server",
                server::serve(listener, accept, ctx.spawner(), ctx.cancel_token()),
            );
        }
        Ok(())
    }
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, BoxError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("electrum: cannot listen on {listen}: {e}").into())
}
