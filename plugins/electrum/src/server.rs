//! The connection side: newline-delimited JSON-RPC, single requests or batches, over
//! plain TCP or TLS (one code path: a connection is any byte stream), with the bounds of
//! the profile: connections (one semaphore for both listeners; one over the limit is
//! told why and closed, or on TLS just closed: telling it would take the handshake the
//! limit is there to save), request line bytes (a longer line is answered and the
//! connection closed), requests per batch, subscriptions per connection (refused past
//! the limit). A TLS handshake holds its connection's permit and is bounded in time; a
//! failed or late one drops the connection.
//!
//! Each connection is one task; its calls run on blocking threads (LMDB reads), one
//! line at a time, in order. Notifications come from the index's update channel: the
//! subscribed scripts an update names get their status recomputed and are sent when it
//! changed; a connection that fell behind the channel recomputes every subscription.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Semaphore;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;

use crate::methods::{header_notification, CallError, Server, Session};
use crate::metrics::Metrics;
use crate::status::script_hash_hex;
use crate::tls::Tls;

/// How long one answer or notification may wait for the client to read it.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a connection closed for an oversized line still reads (and drops) what the
/// client sends, so the error line reaches it before the close.
const DRAIN_AFTER_ERROR: std::time::Duration = std::time::Duration::from_secs(1);

/// The bounds a connection works within.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_line_bytes: usize,
    pub(crate) max_batch: usize,
}

fn error_msg(id: &Value, error: &CallError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": error.code, "message": error.message}})
}

fn notification(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}

/// What one listener serves its connections with.
pub(crate) struct Accept {
    pub(crate) server: Arc<Server>,
    pub(crate) limits: Limits,
    /// Shared by every listener of the server.
    pub(crate) permits: Arc<Semaphore>,
    /// Set on the TLS listener: each connection's handshake first.
    pub(crate) tls: Option<Tls>,
    /// This listener's handles (its transport's label).
    pub(crate) metrics: Metrics,
}

/// Accepts connections until `cancel`.
pub(crate) async fn serve(
    listener: TcpListener,
    accept: Accept,
    spawner: node_api::TaskSpawner,
    cancel: CancellationToken,
) {
    let Accept {
        server,
        limits,
        permits,
        tls,
        metrics,
    } = accept;
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (mut stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "electrum accept failed");
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics.refused.increment(1);
            tracing::debug!(%peer, limit = limits.max_connections, tls = tls.is_some(), "electrum connection refused: limit reached");
            if tls.is_some() {
                continue;
            }
            let line = error_msg(
                &Value::Null,
                &CallError::bad(format!(
                    "server busy: the limit of {} connections is reached",
                    limits.max_connections
                )),
            );
            let _ = stream.write_all(format!("{line}\n").as_bytes()).await;
            continue;
        };
        let server = server.clone();
        let cancel = cancel.clone();
        let tls = tls.clone();
        let metrics = metrics.clone();
        spawner.spawn("connection", async move {
            match tls {
                None => {
                    tracing::debug!(%peer, "electrum connection");
                    connection(stream, server, limits, &metrics, cancel).await;
                }
                Some(tls) => {
                    let handshake = tokio::select! {
                        () = cancel.cancelled() => return,
                        done = tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(stream)) => done,
                    };
                    match handshake {
                        Ok(Ok(stream)) => {
                            tracing::debug!(%peer, "electrum TLS connection");
                            connection(stream, server, limits, &metrics, cancel).await;
                        }
                        Ok(Err(e)) => {
                            metrics.handshake_failures.increment(1);
                            tracing::debug!(%peer, error = %e, "electrum TLS handshake failed; dropped")
                        }
                        Err(_) => {
                            metrics.handshake_failures.increment(1);
                            tracing::debug!(
                                %peer,
                                timeout_secs = tls.handshake_timeout.as_secs(),
                                "electrum TLS handshake timed out; dropped"
                            )
                        }
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Serves one connection, plain or TLS, until it closes, breaks a bound or `cancel`,
/// counted in the gauges while it is open.
async fn connection<S>(
    stream: S,
    server: Arc<Server>,
    limits: Limits,
    metrics: &Metrics,
    cancel: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    metrics.connections.increment(1.0);
    // The subscriptions this connection added to the gauge: kept apart from the session,
    // which a failed blocking call loses.
    let mut subscriptions = 0usize;
    serve_lines(stream, server, limits, metrics, &mut subscriptions, cancel).await;
    metrics.subscriptions.decrement(subscriptions as f64);
    metrics.connections.decrement(1.0);
}

async fn serve_lines<S>(
    stream: S,
    server: Arc<Server>,
    limits: Limits,
    metrics: &Metrics,
    subscriptions: &mut usize,
    cancel: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = FramedRead::new(read, LinesCodec::new_with_max_length(limits.max_line_bytes));
    let mut updates = server.shared.updates.subscribe();
    let mut session = Session::default();
    loop {
        let out: Vec<String> = tokio::select! {
            () = cancel.cancelled() => return,
            line = lines.next() => match line {
                None | Some(Err(LinesCodecError::Io(_))) => return,
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    let line = error_msg(
                        &Value::Null,
                        &CallError {
                            code: -32600,
                            message: format!("request line longer than {} bytes", limits.max_line_bytes),
                        },
                    );
                    let _ = write.write_all(format!("{line}\n").as_bytes()).await;
                    // Close our side, then read what the client still sends for a moment:
                    // closing with its bytes unread would reset the connection, and the
                    // client could lose the error line.
                    let _ = write.shutdown().await;
                    let _ = tokio::time::timeout(DRAIN_AFTER_ERROR, async {
                        while lines.next().await.is_some() {}
                    })
                    .await;
                    return;
                }
                Some(Ok(line)) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let server = server.clone();
                    let max_batch = limits.max_batch;
                    let calls = metrics.clone();
                    let mut moved = std::mem::take(&mut session);
                    let Ok((back, answer)) = tokio::task::spawn_blocking(move || {
                        let answer = answer_line(&server, &mut moved, &line, max_batch, &calls);
                        (moved, answer)
                    })
                    .await
                    else {
                        return;
                    };
                    session = back;
                    let held = session.scripts.len();
                    metrics.subscriptions.increment(held as f64 - *subscriptions as f64);
                    *subscriptions = held;
                    vec![answer]
                }
            },
            update = updates.recv() => {
                let (touched, tip) = match update {
                    Ok(update) => (update.touched.clone(), Some(update.tip)),
                    Err(RecvError::Lagged(_)) => (None, None),
                    Err(RecvError::Closed) => return,
                };
                let server = server.clone();
                let mut moved = std::mem::take(&mut session);
                let Ok((back, lines)) = tokio::task::spawn_blocking(move || {
                    let lines = notifications(&server, &mut moved, touched.as_ref(), tip);
                    (moved, lines)
                })
                .await
                else {
                    return;
                };
                session = back;
                metrics.notifications.increment(lines.len() as u64);
                lines
            }
        };
        for line in out {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            // A client that leaves its answers unread holds a connection slot; past the
            // bound it loses the connection. The flush sends what TLS holds back as a
            // record (a no-op on TCP).
            let sent = async {
                write.write_all(&bytes).await?;
                write.flush().await
            };
            match tokio::time::timeout(WRITE_TIMEOUT, sent).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::debug!("electrum client left an answer unread; closing");
                    return;
                }
            }
        }
    }
}

/// The answer to one line: a call's, or a batch's array.
pub(crate) fn answer_line(
    server: &Server,
    session: &mut Session,
    line: &str,
    max_batch: usize,
    metrics: &Metrics,
) -> String {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(_) => {
            metrics.calls_failed.increment(1);
            return error_msg(&Value::Null, &CallError::parse()).to_string();
        }
    };
    match value {
        Value::Array(calls) if calls.is_empty() => {
            metrics.calls_failed.increment(1);
            error_msg(&Value::Null, &CallError::invalid_request()).to_string()
        }
        Value::Array(calls) if calls.len() > max_batch => {
            metrics.calls_failed.increment(1);
            error_msg(
                &Value::Null,
                &CallError {
                    code: -32600,
                    message: format!(
                        "batch of {} requests exceeds the limit of {max_batch}",
                        calls.len()
                    ),
                },
            )
            .to_string()
        }
        Value::Array(calls) => Value::Array(
            calls
                .iter()
                .map(|call| answer_call(server, session, call, metrics))
                .collect(),
        )
        .to_string(),
        call => answer_call(server, session, &call, metrics).to_string(),
    }
}

fn answer_call(server: &Server, session: &mut Session, call: &Value, metrics: &Metrics) -> Value {
    let Value::Object(fields) = call else {
        metrics.calls_failed.increment(1);
        return error_msg(&Value::Null, &CallError::invalid_request());
    };
    let id = fields.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = fields.get("method").and_then(Value::as_str) else {
        metrics.calls_failed.increment(1);
        return error_msg(&id, &CallError::invalid_request());
    };
    let params: &[Value] = match fields.get("params") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(params)) => params,
        Some(_) => {
            metrics.calls_failed.increment(1);
            return error_msg(
                &id,
                &CallError {
                    code: -32602,
                    message: "invalid params".into(),
                },
            );
        }
    };
    match server.call(session, method, params) {
        Ok(result) => {
            metrics.calls_ok.increment(1);
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        }
        Err(error) => {
            metrics.calls_failed.increment(1);
            tracing::debug!(method, code = error.code, message = %error.message, "electrum call failed");
            error_msg(&id, &error)
        }
    }
}

/// The notifications an update brings this session: the new tip when it subscribed to
/// headers and the tip moved, and each subscribed script whose status changed.
fn notifications(
    server: &Server,
    session: &mut Session,
    touched: Option<&crate::store::Touched>,
    tip: Option<(u32, node_api::chain::BlockHeader)>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(sent) = session.tip {
        let (height, header) = tip.unwrap_or_else(|| {
            let tip = server.shared.chain.tip();
            (tip.height, tip.header)
        });
        let hash = header.hash();
        if hash != sent {
            session.tip = Some(hash);
            out.push(notification(
                "blockchain.headers.subscribe",
                json!([header_notification(height, &header)]),
            ));
        }
    }
    let scripts: Vec<_> = match touched {
        Some(touched) if touched.len() < session.scripts.len() => touched
            .iter()
            .filter(|s| session.scripts.contains_key(*s))
            .copied()
            .collect(),
        Some(touched) => session
            .scripts
            .keys()
            .filter(|s| touched.contains(*s))
            .copied()
            .collect(),
        None => session.scripts.keys().copied().collect(),
    };
    for script in scripts {
        let Ok(status) = server.status(&script) else {
            continue;
        };
        if session.scripts.get(&script) != Some(&status) {
            session.scripts.insert(script, status);
            out.push(notification(
                "blockchain.scripthash.subscribe",
                json!([script_hash_hex(&script), status.map(hex::encode)]),
            ));
        }
    }
    out
}
