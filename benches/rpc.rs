//! RPC throughput: the node's JSON-RPC server against a bare hyper server, in one run.
//!
//! Both servers run in this process on 127.0.0.1; 64 clients, each on its own keep-alive
//! connection, send the same 1.0-style `getblockcount` request (with Basic credentials)
//! back to back for a fixed time. The bare server reads the body and answers a fixed
//! reply, so the difference is what the RPC layer costs: credential check, body limit,
//! JSON parsing, registry dispatch and reply shaping.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `rpc_getblockcount_rps`: calls per second answered by the node's server;
//! - `bare_hyper_rps`: requests per second answered by the bare server;
//! - `rpc_vs_bare_ratio` = rpc_getblockcount_rps / bare_hyper_rps.
//!
//! `getblockcount` here returns a constant: the benchmark measures the server, not the
//! chain. Run with `cargo bench --bench rpc`; it takes about 8 seconds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use node_kernel::RpcRegistry;
use node_rpc::{basic_authorization, serve, Auth, Limits, RpcService};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Concurrent keep-alive clients.
const CLIENTS: usize = 64;
/// Length of one measured run.
const RUN: Duration = Duration::from_secs(3);
/// Unmeasured run first, so connections, allocator and caches are warm.
const WARMUP: Duration = Duration::from_millis(500);

const USER: &str = "__cookie__";
const PASSWORD: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const REQUEST: &str = r#"{"jsonrpc":"1.0","id":"bench","method":"getblockcount","params":[]}"#;
const FIXED_REPLY: &str = "{\"result\":800000,\"error\":null,\"id\":\"bench\"}\n";

fn print(name: &str, value: serde_json::Value, unit: &str) {
    println!("{}", json!({ "name": name, "value": value, "unit": unit }));
}

async fn start_rpc(cancel: CancellationToken) -> SocketAddr {
    let registry = RpcRegistry::default();
    registry
        .register(
            "bench",
            "getblockcount",
            &[],
            "A constant height.",
            |_| async { Ok(json!(800_000)) },
        )
        .expect("register");
    let service = Arc::new(RpcService::new(
        Arc::new(registry),
        Auth::new().allow(USER, PASSWORD),
        Limits::default(),
    ));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, service, cancel, TaskTracker::new()));
    addr
}

async fn start_bare(cancel: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                () = cancel.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let handler = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    let mut response =
                        Response::new(Full::new(Bytes::from_static(FIXED_REPLY.as_bytes())));
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(response)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    addr
}

/// One client: a keep-alive connection sending requests back to back until `until`.
async fn client(addr: SocketAddr, until: Instant) -> u64 {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let authorization = basic_authorization(USER, PASSWORD);
    let host = addr.to_string();
    let mut answered = 0;
    while Instant::now() < until {
        let request = Request::post("/")
            .header(HOST, &host)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, &authorization)
            .body(Full::new(Bytes::from_static(REQUEST.as_bytes())))
            .expect("request");
        let response = sender.send_request(request).await.expect("answer");
        assert_eq!(response.status(), 200);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(body.starts_with(b"{\"result\":800000"), "{body:?}");
        answered += 1;
    }
    answered
}

/// Requests per second answered to `CLIENTS` clients over `length`.
async fn load(addr: SocketAddr, length: Duration) -> f64 {
    let started = Instant::now();
    let until = started + length;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(client(addr, until)))
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.expect("client");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let rpc = start_rpc(cancel.clone()).await;
        let bare = start_bare(cancel.clone()).await;

        load(rpc, WARMUP).await;
        let rpc_rps = load(rpc, RUN).await;
        load(bare, WARMUP).await;
        let bare_rps = load(bare, RUN).await;
        cancel.cancel();

        print(
            "rpc_getblockcount_rps",
            json!(rpc_rps.round() as u64),
            "requests/s",
        );
        print(
            "bare_hyper_rps",
            json!(bare_rps.round() as u64),
            "requests/s",
        );
        print(
            "rpc_vs_bare_ratio",
            json!((rpc_rps / bare_rps * 1000.0).round() / 1000.0),
            "ratio",
        );
    });
}
