//! The HTTP server: accepts connections up to a limit (closing the one idle the longest
//! when a new client needs its slot, see [`crate::connections`]), checks credentials at a
//! bounded rate of failures per client address (see [`crate::login_gate`]) and body
//! size, and hands request bodies to [`crate::jsonrpc`].
//!
//! One task per connection, so a slow method or a slow client holds only its own
//! connection; HTTP/1.1 keep-alive lets a client send many calls over one connection.
//! When the module's token fires the listener closes, idle connections close at once
//! and busy ones after their current response.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::header::{HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use node_api::http::Authenticator;
use node_api::{ConfigError, RpcRegistry, TaskSpawner};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::active::ActiveCommands;
use crate::auth::Auth;
use crate::config::RpcConfig;
use crate::connections::{Connections, Slot};
use crate::error::StartError;
use crate::jsonrpc::{self, Answer};
use crate::login_gate::LoginGate;
use crate::metrics::RpcMetrics;
use crate::whitelist::Whitelist;

/// A client that has not sent its request headers within this time is disconnected, as
/// bitcoind's `-rpcservertimeout` (30 s) does; an idle keep-alive connection too. It
/// does not protect the slots: a new client closes the connection idle the longest.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A body that has not fully arrived within this time is refused (408), so a client
/// trickling bytes cannot hold a connection slot for ever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait before accepting again after the system refused a connection (out of
/// file descriptors, say), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What Core's 401 carries, so that clients know to send Basic credentials.
const WWW_AUTH: &str = "Basic realm=\"jsonrpc\"";

/// The response body type of the server.
type ResponseBody = Full<Bytes>;

/// Limits that protect the node from its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body; larger ones are answered 413 without being read whole.
    pub max_body_bytes: usize,
    /// Calls in one batch.
    pub max_batch_calls: usize,
    /// Reply bytes one batch may accumulate before its remaining calls are refused.
    pub max_batch_response_bytes: usize,
    /// Connections open at once; a new client closes the one idle the longest.
    pub max_connections: usize,
    /// Wait before a 401.
    pub auth_failure_delay: Duration,
    /// Failed logins each client address gets evaluated per second (and in a burst).
    pub max_failed_logins_per_second: u32,
}

impl Limits {
    /// The limits a profile's `[rpc]` table sets, for a chain whose blocks reach
    /// `max_block_size` bytes; a body limit that cannot hold such a block is an error.
    pub fn from_config(config: &RpcConfig, max_block_size: usize) -> Result<Self, ConfigError> {
        Ok(Limits {
            max_body_bytes: config.body_limit(max_block_size)?,
            max_batch_calls: config.max_batch_calls,
            max_batch_response_bytes: config.max_batch_response_bytes,
            max_connections: config.max_connections,
            auth_failure_delay: config.auth_failure_delay(),
            max_failed_logins_per_second: config.max_failed_logins_per_second,
        })
    }
}

impl Default for Limits {
    /// The defaults for 1 MB blocks, those of the built-in chains.
    fn default() -> Self {
        let config = RpcConfig::default();
        Limits {
            max_body_bytes: crate::config::min_body_bytes(1_000_000) + crate::config::BODY_ROOM,
            max_batch_calls: config.max_batch_calls,
            max_batch_response_bytes: config.max_batch_response_bytes,
            max_connections: config.max_connections,
            auth_failure_delay: config.auth_failure_delay(),
            max_failed_logins_per_second: config.max_failed_logins_per_second,
        }
    }
}

/// Answers HTTP requests with the methods of a registry.
pub struct RpcService {
    registry: Arc<RpcRegistry>,
    auth: Auth,
    whitelist: Whitelist,
    limits: Limits,
    gate: LoginGate,
    active: Arc<ActiveCommands>,
    metrics: RpcMetrics,
}

impl RpcService {
    /// A service answering with `registry`'s methods to clients that `auth` accepts.
    pub fn new(registry: Arc<RpcRegistry>, auth: Auth, limits: Limits) -> Self {
        RpcService {
            registry,
            auth,
            whitelist: Whitelist::default(),
            gate: LoginGate::new(limits.max_failed_logins_per_second),
            limits,
            active: Arc::default(),
            metrics: RpcMetrics::default(),
        }
    }

    /// The same service, restricting users to the methods of their whitelist.
    pub(crate) fn with_whitelist(self, whitelist: Whitelist) -> Self {
        RpcService { whitelist, ..self }
    }

    /// The calls being answered now, for `getrpcinfo`.
    pub(crate) fn active(&self) -> Arc<ActiveCommands> {
        self.active.clone()
    }

    /// The user `authorization` logs in as, when accepted. A refused request has waited
    /// `auth_failure_delay`; a request with credentials has first passed the server's
    /// bound on failed logins (one without any is not counted: it guesses nothing).
    async fn authenticate(&self, authorization: Option<&[u8]>, peer: IpAddr) -> Option<Arc<str>> {
        if authorization.is_some() {
            if let Some(user) = self.gate.check(&self.auth, authorization, peer).await {
                return Some(user.into());
            }
        }
        // Only this request waits: other connections are served meanwhile.
        tokio::time::sleep(self.limits.auth_failure_delay).await;
        None
    }

    /// [`RpcService::authenticate`], unless `authorization` is the value this connection
    /// logged in with: then its user at once. The connection proved those credentials
    /// already (a refused one is closed), so checking them again per call would only cost
    /// the gate's lock and the comparisons, and would keep an operator's connection
    /// waiting behind guessers from its address, which learn nothing from it.
    async fn authenticate_on(
        &self,
        authorization: Option<&[u8]>,
        peer: IpAddr,
        session: &Session,
    ) -> Option<Arc<str>> {
        if let Some(header) = authorization {
            if let Some(user) = session.logged_in_with(header) {
                return Some(user);
            }
        }
        let user = self.authenticate(authorization, peer).await?;
        if let Some(header) = authorization {
            session.remember(header, &user);
        }
        Some(user)
    }

    /// The first method of a request body that `user`'s whitelist leaves out, every call
    /// of a batch checked before any runs, as Core. A body that is not JSON, or a call
    /// without a method name, is left for JSON-RPC to answer.
    fn forbidden_method(&self, user: &str, body: &[u8]) -> Option<String> {
        if self.whitelist.unrestricted(user) {
            return None;
        }
        let request: serde_json::Value = serde_json::from_slice(body).ok()?;
        let calls = match &request {
            serde_json::Value::Array(calls) => calls.iter().collect(),
            single => vec![single],
        };
        calls
            .into_iter()
            .filter_map(|call| call.get("method")?.as_str())
            .find(|method| !self.whitelist.allows(user, method))
            .map(str::to_string)
    }

    /// Answers one HTTP request. `peer` is only used in logs and the failed-login count.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.handle_on(request, peer, &Session::default()).await
    }

    /// Answers one HTTP request of a connection whose login `session` remembers.
    async fn handle_on<B>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
        session: &Session,
    ) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = request.uri().path();
        // Core also serves its wallet endpoints; we have one wallet, so they are the same.
        if path != "/" && !path.starts_with("/wallet/") {
            return text(
                StatusCode::NOT_FOUND,
                "not found; the JSON-RPC endpoint is /",
            );
        }
        if request.method() != Method::POST {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "JSONRPC server handles only POST requests",
            );
        }
        let credentials = request.headers().get(AUTHORIZATION);
        let Some(user) = self
            .authenticate_on(credentials.map(HeaderValue::as_bytes), peer.ip(), session)
            .await
        else {
            // Closed after the 401: a guesser pays a new connection per guess, and its
            // requests pipelined behind this one are not checked.
            let mut response = closing(text(StatusCode::UNAUTHORIZED, ""));
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(WWW_AUTH));
            return response;
        };
        let max = self.limits.max_body_bytes;
        // A Content-Length over the limit is refused before a byte of the body is read.
        if request.body().size_hint().lower() > max as u64 {
            return too_large(max);
        }
        // Without a length (chunked), the limit is checked as the body streams in.
        let mut collect = std::pin::pin!(Limited::new(request.into_body(), max).collect());
        // A small body has mostly arrived with its headers: read at once, it needs no
        // timer (arming and clearing one was a few per cent of a call's time).
        let collected = match futures_util::poll!(collect.as_mut()) {
            std::task::Poll::Ready(collected) => Ok(collected),
            std::task::Poll::Pending => tokio::time::timeout(BODY_READ_TIMEOUT, collect).await,
        };
        let body = match collected {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(max),
            Ok(Err(e)) => {
                tracing::debug!(%peer, "RPC: cannot read a request body: {e}");
                return closing(text(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read the request body: {e}"),
                ));
            }
            Err(_) => {
                return closing(text(
                    StatusCode::REQUEST_TIMEOUT,
                    "the request body did not arrive in time",
                ))
            }
        };
        if let Some(method) = self.forbidden_method(&user, &body) {
            tracing::info!(%peer, "RPC user {user} is not allowed to call method {method} ([rpc] whitelist)");
            return text(StatusCode::FORBIDDEN, "");
        }
        match jsonrpc::answer(
            &body,
            &self.registry,
            &self.active,
            &self.metrics,
            &self.limits,
        )
        .await
        {
            Answer::NoContent => text(StatusCode::NO_CONTENT, ""),
            Answer::Json { status, body } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = Response::new(Full::new(Bytes::from(body)));
                *response.status_mut() = status;
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
        }
    }
}

/// The module's HTTP routes marked authenticated accept exactly what JSON-RPC accepts,
/// make a refused client wait as long, and count against the same bound on failed
/// logins.
#[node_api::async_trait]
impl Authenticator for RpcService {
    async fn authenticate(&self, authorization: Option<&[u8]>, peer: SocketAddr) -> bool {
        RpcService::authenticate(self, authorization, peer.ip())
            .await
            .is_some()
    }
}

/// What a connection remembers between its requests: the `Authorization` value it
/// logged in with, and its user. HTTP/1.1 answers a connection's requests one at a
/// time, so the lock is never contended.
#[derive(Default)]
struct Session {
    login: Mutex<Option<(Vec<u8>, Arc<str>)>>,
}

impl Session {
    /// The user, when `header` is the value this connection logged in with; compared
    /// without an early exit, as every credential check.
    fn logged_in_with(&self, header: &[u8]) -> Option<Arc<str>> {
        let login = self.login.lock().unwrap_or_else(|e| e.into_inner());
        let (known, user) = login.as_ref()?;
        crate::auth::timing_resistant_eq(known, header).then(|| user.clone())
    }

    fn remember(&self, header: &[u8], user: &Arc<str>) {
        *self.login.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((header.to_vec(), user.clone()));
    }
}

/// A plain-text response (no body when `message` is empty).
fn text(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(message.to_string())));
    *response.status_mut() = status;
    if !message.is_empty() {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    response
}

/// Asks hyper to close the connection after this response: the rest of the request body
/// is unread, so the connection cannot carry another request.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_large(max: usize) -> Response<ResponseBody> {
    closing(text(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body larger than {max} bytes (rpc.max_body_bytes)"),
    ))
}

/// Binds `addr` in the module's start, so that a port in use fails the start with a
/// clear reason.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr,
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => "address in use".to_string(),
                std::io::ErrorKind::AddrNotAvailable => {
                    "address not available on this host".to_string()
                }
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            },
        })
}

/// Serves connections from `listener` until the spawner's token fires. Each connection
/// is a task of `spawner` (named `connection`), so the module stops only once every
/// connection has ended; failed logins are reported by a task named `login-failures`.
/// Tests outside a node use [`TaskSpawner::detached`].
pub async fn serve(listener: TcpListener, service: Arc<RpcService>, spawner: TaskSpawner) {
    let cancel = spawner.cancel_token();
    spawner.spawn("login-failures", {
        let service = service.clone();
        let cancel = cancel.clone();
        async move { service.gate.report_failures(cancel).await }
    });
    let connections = Connections::new(service.limits.max_connections);
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("RPC: cannot accept a connection: {e}");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        // When every slot is busy with a request, waiting here leaves further clients in
        // the kernel's backlog instead of accepting connections we would not serve.
        let slot = tokio::select! {
            () = cancel.cancelled() => break,
            slot = connections.admit() => slot,
        };
        let service = service.clone();
        let cancel = cancel.clone();
        spawner.spawn("connection", async move {
            serve_connection(stream, peer, service, slot, cancel).await;
        });
    }
    tracing::debug!("RPC: listener closed");
}

/// Why a connection stops before its client closes it.
enum Stop {
    /// Its slot was given to another client.
    Evicted,
    /// The node is stopping.
    Shutdown,
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<RpcService>,
    slot: Slot,
    cancel: CancellationToken,
) {
    // Replies are small and written at once; waiting for more to coalesce only adds
    // latency to every call.
    let _ = stream.set_nodelay(true);
    let evicted = slot.evicted().clone();
    let state = Arc::new((service, slot, Session::default()));
    let handler = service_fn(move |request| {
        let state = state.clone();
        async move {
            let (service, slot, session) = &*state;
            // A request read just as the connection was chosen to close is not run.
            let Some(_busy) = slot.busy() else {
                return Ok::<_, Infallible>(closing(text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "connection closed to serve another client",
                )));
            };
            Ok::<_, Infallible>(service.handle_on(request, peer, session).await)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), handler);
    let mut connection = std::pin::pin!(connection);
    // The two reasons to stop are polled only when one of them fires: polled with the
    // connection at each of its wake-ups, as a `select!` branch is, each token took two
    // locks a time, several times a request.
    let mut stops: FuturesUnordered<_> = [
        Either::Left(evicted.cancelled_owned().map(|()| Stop::Evicted)),
        Either::Right(cancel.cancelled_owned().map(|()| Stop::Shutdown)),
    ]
    .into_iter()
    .collect();
    let ended = tokio::select! {
        biased;
        ended = connection.as_mut() => ended,
        Some(stop) = stops.next() => match stop {
            // Only an idle connection is chosen: no request is cut short.
            Stop::Evicted => Ok(()),
            Stop::Shutdown => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        },
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, "RPC: connection ended: {e}");
    }
}
