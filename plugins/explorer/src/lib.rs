//! `explorer`: a single-page block explorer served by the node, at `/explorer/`.
//!
//! The page (HTML, JavaScript and CSS embedded in the binary; no external asset, so it
//! works offline; laid out for a phone first) shows a dashboard (height, difficulty,
//! network hash rate estimate, mempool size and fees, peers), the latest blocks, which
//! update live from the events plugin's `/events` stream when that runs on the same
//! address (else by polling), block pages (header fields, transactions with fees,
//! confirmations), transaction pages (inputs with the outputs they spend and their
//! addresses, outputs spent or not, confirmations), address pages (balance and unspent
//! outputs from the chain's address index, history from the electrum plugin's
//! scripthash index on disk when it runs, else from this plugin's own), the
//! mempool, and one search box for a height, block hash, txid or address.
//!
//! It reads a JSON API of its own under `/explorer/api/` (see [`api`]), built on the
//! chain, mempool and peer services; it never exposes the admin RPC. All routes are
//! public and read-only: they show what the chain and the mempool show any peer.
//!
//! Needs the `chain` service and the `chain-stream` ([`node_api::ChainStream`], which
//! its index follows from height 0); uses `mempool`, `peers` and `script-history` (the
//! electrum plugin's index, which then replaces its own) when they run. Profile table
//! `[explorer]`: `listen`.
//!
//! What is missing: without the electrum plugin, history of an address is kept in memory
//! and rebuilt at each start by reading the chain (see [`index`]); the chain's address index gives its unspent
//! outputs and balance; which transaction spent an output is not known (a spent index
//! would be a chain feature), so a spent output says only that it is spent. Lists show
//! at most [`api::MAX_ROWS`] rows.

pub mod api;
mod index;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::StatusCode;
use node_api::http::response;
use node_api::{
    async_trait, inventory, service, Access, BoxError, ChainStream, ChainView, ConfigError,
    HttpResponse, MempoolService, Module, ModuleConfig, ModuleFactory, PeerService, Route,
    ScriptHistory, StartContext, StreamError,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::Explorer;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The `[explorer]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct ExplorerConfig {
    /// Module HTTP address. The events plugin's default is the same, so the page reads
    /// `/events` from its own origin.
    listen: SocketAddr,
}

impl Default for ExplorerConfig {
    fn default() -> Self {
        ExplorerConfig {
            // Loopback: an operator exposes it on purpose.
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
        }
    }
}

struct ExplorerModule {
    config: ExplorerConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    Ok(Box::new(ExplorerModule {
        config: config.parse()?,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "explorer",
        description: "a single-page block explorer at /explorer/ with a read-only JSON API (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainView>(), service::<dyn ChainStream>()],
        uses: &[service::<dyn MempoolService>(), service::<dyn PeerService>(), service::<dyn ScriptHistory>()],
        methods: &[],
        build,
    }
}

fn asset(path: &str) -> HttpResponse {
    let (content_type, body) = match path.trim_start_matches("/explorer") {
        "" | "/" | "/index.html" => ("text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/style.css" => ("text/css; charset=utf-8", STYLE_CSS),
        _ => return response(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    };
    response(StatusCode::OK, content_type, body)
}

#[async_trait]
impl Module for ExplorerModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let explorer = Arc::new(Explorer {
            chain: ctx.require::<dyn ChainView>()?,
            mempool: ctx.get::<dyn MempoolService>()?,
            peers: ctx.get::<dyn PeerService>()?,
            history: ctx.get::<dyn ScriptHistory>()?,
            index: RwLock::new(Default::default()),
        });
        let stream = ctx.require::<dyn ChainStream>()?;
        let api = explorer.clone();
        let routes = vec![
            Route::new("/explorer/", Access::Public, |request| {
                let answer = asset(request.uri().path());
                async move { answer }
            }),
            Route::new("/explorer/api/", Access::Public, move |request| {
                let api = api.clone();
                async move {
                    let path = request
                        .uri()
                        .path()
                        .trim_start_matches("/explorer/api/")
                        .to_string();
                    let query = request.uri().query().unwrap_or_default().to_string();
                    // LMDB reads: off the threads that serve connections.
                    let answer = tokio::task::spawn_blocking(move || api.answer(&path, &query))
                        .await
                        .unwrap_or_else(|e| Err((500, e.to_string())));
                    let mut answer = match answer {
                        Ok(value) => {
                            response(StatusCode::OK, "application/json", value.to_string())
                        }
                        Err((status, message)) => response(
                            StatusCode::from_u16(status)
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                            "application/json",
                            serde_json::json!({ "error": message }).to_string(),
                        ),
                    };
                    answer
                        .headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    answer
                }
            }),
        ];
        let bound = ctx.serve_http(self.config.listen, routes).await?;
        tracing::info!(%bound, "explorer at /explorer/");
        if explorer.history.is_some() {
            // The electrum plugin's index on disk answers history: no copy in memory.
            return Ok(());
        }
        let cancel = ctx.cancel_token();
        ctx.spawn_blocking("index", move || -> Result<(), StreamError> {
            let mut steps = explorer.reindex(&*stream)?;
            let runtime = tokio::runtime::Handle::current();
            loop {
                let next = runtime.block_on(async {
                    tokio::select! {
                        () = cancel.cancelled() => None,
                        step = steps.next() => Some(step),
                    }
                });
                let Some(step) = next else { return Ok(()) };
                if !explorer.apply(&*steps, &step?) {
                    steps = explorer.reindex(&*stream)?;
                }
            }
        });
        Ok(())
    }
}
