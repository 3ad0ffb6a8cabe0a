//! HTTP for modules: one mechanism by which any module serves paths (a metrics endpoint,
//! health checks, an event stream, a web page) without bringing its own server, auth or
//! shutdown.
//!
//! A module calls [`crate::StartContext::serve_http`] with an address from its own
//! profile table and its routes. Modules that give the same address share one listener.
//! Each route is [`Access::Public`] (read-only things an operator may expose, such as
//! `/metrics`) or [`Access::Authenticated`] (checked by the [`Authenticator`] the rpc
//! module installs: the same cookie and users as JSON-RPC). Listeners close when the node
//! shuts down; a stopping module's routes answer 404 from then on.
//!
//! Limits, per listener: [`MAX_CONNECTIONS`] connections served at once (more wait in
//! the kernel's backlog), request headers within [`HEADER_READ_TIMEOUT`], request bodies
//! of at most [`MAX_BODY_BYTES`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
/// Status codes of [`response`], re-exported so routes need no HTTP crate of their own.
pub use hyper::StatusCode;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::BoxError;

/// Connections one listener serves at once: enough for a scraper, a few browsers and
/// event-stream clients; beyond it clients wait in the backlog instead of costing tasks.
pub const MAX_CONNECTIONS: usize = 64;
/// Request headers must arrive within this time, so idle sockets do not hold slots.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Module routes are read-mostly; a request body larger than this is refused (413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A request as a route sees it: headers, and the whole (bounded) body.
pub type HttpRequest = Request<Bytes>;
/// A response body: whole, or streamed (an event stream).
pub type HttpBody = BoxBody<Bytes, BoxError>;
/// A response.
pub type HttpResponse = Response<HttpBody>;
/// What a route's handler returns.
pub type HttpFuture = Pin<Box<dyn Future<Output = HttpResponse> + Send>>;
type Handler = Arc<dyn Fn(HttpRequest) -> HttpFuture + Send + Sync>;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who can reach the address: for read-only data an operator may expose.
    Public,
    /// Clients with the node's RPC credentials (HTTP Basic, as JSON-RPC).
    Authenticated,
}

/// One path a module serves. A path ending in `/` serves everything below it.
pub struct Route {
    path: String,
    access: Access,
    handler: Handler,
}

impl Route {
    /// A route answering `path` with `handler`.
    pub fn new<F, Fut>(path: impl Into<String>, access: Access, handler: F) -> Route
    where
        F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HttpResponse> + Send + 'static,
    {
        Route {
            path: path.into(),
            access,
            handler: Arc::new(move |request| Box::pin(handler(request))),
        }
    }

    fn matches(&self, path: &str) -> bool {
        if self.path.ends_with('/') {
            path.starts_with(&self.path) || path == self.path.trim_end_matches('/')
        } else {
            path == self.path
        }
    }
}

/// A whole response with a content type.
pub fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// Checks the credentials of requests to authenticated routes.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// Whether the `Authorization` header value (if any) from `peer` is accepted. It may
    /// wait: before a refusal, and to bound the failed logins of the whole node, so that
    /// module routes do not let a client guess passwords faster than JSON-RPC does.
    async fn authenticate(&self, authorization: Option<&[u8]>, peer: SocketAddr) -> bool;
}

struct OwnedRoute {
    module: &'static str,
    route: Route,
}

#[derive(Default)]
struct Table {
    routes: RwLock<Vec<OwnedRoute>>,
}

/// Every module HTTP listener of the node.
#[derive(Default)]
pub struct HttpHub {
    listeners: tokio::sync::Mutex<BTreeMap<SocketAddr, (SocketAddr, Arc<Table>)>>,
    tables: Mutex<Vec<Arc<Table>>>,
    authenticator: RwLock<Option<Arc<dyn Authenticator>>>,
    tasks: TaskTracker,
}

impl HttpHub {
    /// Installs the credentials check of authenticated routes (the rpc module does).
    pub fn set_authenticator(&self, authenticator: Arc<dyn Authenticator>) {
        *self
            .authenticator
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(authenticator);
    }

    pub(crate) async fn serve(
        self: &Arc<Self>,
        module: &'static str,
        listen: SocketAddr,
        routes: Vec<Route>,
        shutdown: CancellationToken,
    ) -> Result<SocketAddr, BoxError> {
        let mut listeners = self.listeners.lock().await;
        let (bound, table) = match listeners.get(&listen) {
            Some((bound, table)) => (*bound, table.clone()),
            None => {
                let listener = TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("cannot serve HTTP on {listen}: {e}"))?;
                let bound = listener.local_addr()?;
                let table = Arc::new(Table::default());
                self.tables
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(table.clone());
                let hub = self.clone();
                let served = table.clone();
                self.tasks
                    .spawn(async move { hub.accept_loop(listener, served, shutdown).await });
                listeners.insert(listen, (bound, table.clone()));
                if bound != listen {
                    listeners.insert(bound, (bound, table.clone()));
                }
                (bound, table)
            }
        };
        let mut taken = table.routes.write().unwrap_or_else(|e| e.into_inner());
        for route in routes {
            if let Some(other) = taken.iter().find(|r| r.route.path == route.path) {
                return Err(format!(
                    "HTTP path {} on {bound} is already served by module {:?}",
                    route.path, other.module
                )
                .into());
            }
            taken.push(OwnedRoute { module, route });
        }
        tracing::info!(module, %bound, "serving HTTP");
        Ok(bound)
    }

    /// The address of the listener serving `path` (`/metrics`), if a module serves it:
    /// how a test in the same process finds a route bound on port 0.
    pub async fn address_of(&self, path: &str) -> Option<SocketAddr> {
        let listeners = self.listeners.lock().await;
        listeners.values().find_map(|(bound, table)| {
            let routes = table.routes.read().unwrap_or_else(|e| e.into_inner());
            routes
                .iter()
                .any(|r| r.route.path == path)
                .then_some(*bound)
        })
    }

    /// Removes a module's routes (when it stops).
    pub(crate) fn remove_module(&self, module: &str) {
        for table in self.tables.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            table
                .routes
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|r| r.module != module);
        }
    }

    /// Waits for every listener and connection to end (after shutdown fired).
    pub(crate) async fn wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    async fn accept_loop(
        self: Arc<Self>,
        listener: TcpListener,
        table: Arc<Table>,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let slot = tokio::select! {
                () = shutdown.cancelled() => return,
                slot = slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => return },
            };
            let (stream, peer) = tokio::select! {
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::debug!("HTTP: cannot accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let hub = self.clone();
            let table = table.clone();
            let shutdown = shutdown.clone();
            self.tasks.spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let hub = hub.clone();
                    let table = table.clone();
                    async move { Ok::<_, Infallible>(hub.answer(&table, request, peer).await) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let mut connection = std::pin::pin!(connection);
                let ended = tokio::select! {
                    ended = connection.as_mut() => ended,
                    () = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        // A streaming response (an event stream) never finishes by itself.
                        tokio::time::timeout(Duration::from_secs(1), connection).await.unwrap_or(Ok(()))
                    }
                };
                if let Err(e) = ended {
                    tracing::debug!(%peer, "HTTP: connection ended: {e}");
                }
                drop(slot);
            });
        }
    }

    async fn answer(
        &self,
        table: &Table,
        request: Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> HttpResponse {
        let path = request.uri().path().to_string();
        let found = {
            let routes = table.routes.read().unwrap_or_else(|e| e.into_inner());
            routes
                .iter()
                .filter(|r| r.route.matches(&path))
                // The most specific prefix wins.
                .max_by_key(|r| r.route.path.len())
                .map(|r| (r.route.access, r.route.handler.clone()))
        };
        let Some((access, handler)) = found else {
            return response(StatusCode::NOT_FOUND, "text/plain", "not found\n");
        };
        if access == Access::Authenticated {
            let authenticator = self
                .authenticator
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let credentials = request
                .headers()
                .get(AUTHORIZATION)
                .map(HeaderValue::as_bytes);
            let allowed = match &authenticator {
                // Only this connection waits: others are served meanwhile.
                Some(a) => a.authenticate(credentials, peer).await,
                None => false,
            };
            if !allowed {
                let mut denied = response(
                    StatusCode::UNAUTHORIZED,
                    "text/plain",
                    "authentication required\n",
                );
                denied.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"node\""),
                );
                return denied;
            }
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    "request body too large\n",
                )
            }
        };
        handler(Request::from_parts(parts, body)).await
    }
}
