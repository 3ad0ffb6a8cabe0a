//! RPC throughput: `getblockcount` on a real `node` process against a bare hyper server,
//! in one run.
//!
//! The benchmark starts the `node` binary cargo built (`[node] modules = ["chain", "rpc",
//! "metrics"]` on a fresh regtest chain in a temporary data directory, RPC on a free port
//! of 127.0.0.1, its hardening at its defaults: credentials, connection slots, the bound
//! on failed logins, and every call counted and timed by the Prometheus recorder), waits
//! until it answers, reads its cookie, and then 64 clients, each on its
//! own keep-alive connection, send the same 1.0-style `getblockcount` request (with the
//! cookie's Basic credentials) back to back for a fixed time, then the same clients load a
//! bare hyper server that reads the body and answers a fixed reply of the same size; five
//! such pairs of runs, alternating. The
//! difference is what the node costs per call: credential check, body limit, JSON parsing,
//! registry dispatch, the chain module's tip lookup and reply shaping.
//!
//! The bare server runs on a runtime of its own, separate from the clients', so that both
//! servers reach the clients through another runtime's I/O driver, as the node's does from
//! its own process.
//!
//! Prints one JSON object per line, `{"name", "value", "unit"}`:
//! - `rpc_getblockcount_rps`: calls per second answered by the node (median run);
//! - `bare_hyper_rps`: requests per second answered by the bare server (median run);
//! - `rpc_vs_bare_ratio`: the median of the five pairs' ratios (node / bare);
//! - `rpc_cpu_per_call`, `bare_cpu_per_request`: CPU microseconds each server spent per
//!   answer over its runs (the node's process from `/proc/PID/stat`, the bare server's
//!   runtime threads from `/proc/self/task`): what each answer costs, which the
//!   throughput ratio only shows through the clients' share of a loaded machine.
//!
//! The node is stopped with the `stop` RPC at the end (killed if it does not exit in
//! time) and killed if the benchmark panics. Run with `cargo bench --bench rpc`; it takes
//! about 20 seconds.

use std::convert::Infallible;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use node_rpc::{
    basic_authorization, read_cookie, ClientSettings, Credentials, ADDRESS_FILE, COOKIE_FILE,
};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

#[path = "support/json.rs"]
mod json;
#[path = "support/median.rs"]
mod median;
#[path = "support/process.rs"]
mod process;

use json::{print, round};
use median::median;
use process::NodeProcess;

/// Concurrent keep-alive clients.
const CLIENTS: usize = 64;
/// Length of one measured run.
const RUN: Duration = Duration::from_millis(1500);
/// Measured runs of each server, alternating, so that what else the machine does at a
/// moment weighs on both alike; each figure is the median of its runs.
const ROUNDS: usize = 5;
/// Unmeasured run first, so connections, allocator and caches are warm.
const WARMUP: Duration = Duration::from_millis(500);
/// How long the node may take to answer after it was spawned, and to exit after `stop`.
const NODE_DEADLINE: Duration = Duration::from_secs(30);

const REQUEST: &str = r#"{"jsonrpc":"1.0","id":"bench","method":"getblockcount","params":[]}"#;

/// The name of the bare server's threads, whose CPU time is read from `/proc`.
const BARE_THREADS: &str = "bare-server";

fn runtime(threads: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(threads)
        .build()
        .expect("runtime")
}

/// Seconds of CPU used so far by this process's threads named `name`, from `/proc`
/// (clock ticks of 100 a second).
fn threads_cpu_secs(name: &str) -> f64 {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != name {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let parse = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += parse(11) + parse(12);
    }
    ticks as f64 / 100.0
}

/// The `node` under load, started with the profile it needs.
struct Node {
    // Dropped before `_dir`: the node must not outlive its data directory.
    process: NodeProcess,
    settings: ClientSettings,
    cookie: PathBuf,
    datadir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = dir.path().join("bench.toml");
        std::fs::write(
            &profile,
            "[node]\nmodules = [\"chain\", \"rpc\", \"metrics\"]\nchain = \"regtest\"\n\n\
             [rpc]\nlisten = \"127.0.0.1:0\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        )
        .expect("write profile");
        let datadir = dir.path().join("data");
        let args: [&OsStr; 5] = [
            "--profile".as_ref(),
            profile.as_os_str(),
            "--datadir".as_ref(),
            datadir.as_os_str(),
            "run".as_ref(),
        ];
        let process = NodeProcess::spawn(args, dir.path().join("node.log"));
        let cookie = datadir.join(COOKIE_FILE);
        Node {
            process,
            settings: ClientSettings {
                // Port 0 until the node publishes the one it bound (`wait_ready`).
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                credentials: Credentials::Cookie(cookie.clone()),
            },
            cookie,
            datadir,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.process.log()).unwrap_or_default()
    }

    /// Polls `getblockcount` until it answers; returns the height.
    async fn wait_ready(&mut self) -> u64 {
        let deadline = Instant::now() + NODE_DEADLINE;
        loop {
            if self.settings.addr.port() == 0 {
                let published = std::fs::read_to_string(self.datadir.join(ADDRESS_FILE));
                if let Some(addr) = published.ok().and_then(|t| t.trim().parse().ok()) {
                    self.settings.addr = addr;
                }
            }
            // Fails while the port is unknown, the cookie not yet written, or the method
            // not yet registered.
            let answer = node_rpc::call(&self.settings, "getblockcount", vec![]).await;
            if let Ok(height) = answer {
                return height.as_u64().expect("getblockcount answers a height");
            }
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!(
                    "node exited ({status}) before answering; log:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "node did not answer within {NODE_DEADLINE:?} (last: {answer:?}); log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The cookie's credentials as an `Authorization` header value.
    fn authorization(&self) -> String {
        let (user, password) = read_cookie(&self.cookie).expect("read cookie");
        basic_authorization(&user, &password)
    }

    /// Stops the node with the `stop` RPC and waits for a clean exit.
    async fn stop(&mut self) {
        if let Err(e) = node_rpc::call(&self.settings, "stop", vec![]).await {
            panic!("stop RPC failed: {e}; log:\n{}", self.log());
        }
        let deadline = Instant::now() + NODE_DEADLINE;
        loop {
            match self.process.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "node exited with {status} after stop; log:\n{}",
                        self.log()
                    );
                    return;
                }
                Ok(None) if Instant::now() > deadline => {
                    // Drop kills it.
                    panic!(
                        "node still running {NODE_DEADLINE:?} after stop; log:\n{}",
                        self.log()
                    );
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(25)).await,
                Err(e) => panic!("waiting for the node: {e}"),
            }
        }
    }
}

/// Binds the bare server and spawns its accept loop on the current runtime.
async fn start_bare(reply: Bytes) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let reply = reply.clone();
            tokio::spawn(async move {
                let handler = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let reply = reply.clone();
                    async move {
                        let _ = request.into_body().collect().await;
                        let mut response = Response::new(Full::new(reply));
                        response
                            .headers_mut()
                            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    addr
}

/// A server under load and what every answer must start with.
struct Target {
    addr: SocketAddr,
    authorization: String,
    expect: Vec<u8>,
}

/// A keep-alive connection to a target.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Connection {
            sender,
            host: addr.to_string(),
        }
    }

    /// Sends the request and returns the body of its 200 answer.
    async fn ask(&mut self, authorization: &str) -> Bytes {
        let request = Request::post("/")
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, authorization)
            .body(Full::new(Bytes::from_static(REQUEST.as_bytes())))
            .expect("request");
        let response = self.sender.send_request(request).await.expect("answer");
        assert_eq!(response.status(), 200);
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
    }
}

/// One client: a keep-alive connection sending requests back to back until `until`.
async fn client(target: Arc<Target>, until: Instant) -> u64 {
    let mut connection = Connection::open(target.addr).await;
    let mut answered = 0;
    while Instant::now() < until {
        let body = connection.ask(&target.authorization).await;
        assert!(body.starts_with(&target.expect), "{body:?}");
        answered += 1;
    }
    answered
}

/// Requests answered to `CLIENTS` clients over `length`, and how many per second.
async fn load(target: &Arc<Target>, length: Duration) -> (u64, f64) {
    let started = Instant::now();
    let until = started + length;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(client(target.clone(), until)))
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.expect("client");
    }
    (total, total as f64 / started.elapsed().as_secs_f64())
}

fn main() {
    let clients = runtime("bench-clients");
    let bare_server = runtime(BARE_THREADS);
    let mut node = Node::start();

    let height = clients.block_on(node.wait_ready());
    let expect = format!("{{\"result\":{height},").into_bytes();
    let rpc = Arc::new(Target {
        addr: node.settings.addr,
        authorization: node.authorization(),
        expect: expect.clone(),
    });
    // The bare server answers the node's own reply, so both bodies are the same bytes.
    let reply = clients.block_on(async {
        let mut connection = Connection::open(rpc.addr).await;
        connection.ask(&rpc.authorization).await
    });
    assert!(reply.starts_with(&expect), "{reply:?}");
    let bare = Arc::new(Target {
        addr: bare_server.block_on(start_bare(reply)),
        authorization: rpc.authorization.clone(),
        expect,
    });

    let (rpc_rps, bare_rps, ratio, cpu) = clients.block_on(async {
        load(&rpc, WARMUP).await;
        load(&bare, WARMUP).await;
        let (mut rpc_rps, mut bare_rps, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        // CPU seconds and requests of each server over every measured run.
        let mut cpu = [(0.0, 0u64); 2];
        for _ in 0..ROUNDS {
            let before = node.process.cpu_secs();
            let (answered, node_rps) = load(&rpc, RUN).await;
            cpu[0].0 += node.process.cpu_secs() - before;
            cpu[0].1 += answered;
            let before = threads_cpu_secs(BARE_THREADS);
            let (answered, bare_rps_now) = load(&bare, RUN).await;
            cpu[1].0 += threads_cpu_secs(BARE_THREADS) - before;
            cpu[1].1 += answered;
            rpc_rps.push(node_rps);
            bare_rps.push(bare_rps_now);
            ratios.push(node_rps / bare_rps_now);
        }
        node.stop().await;
        (median(rpc_rps), median(bare_rps), median(ratios), cpu)
    });
    let micros = |(secs, requests): (f64, u64)| secs * 1e6 / requests.max(1) as f64;

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
    print("rpc_vs_bare_ratio", json!(round(ratio, 3)), "ratio");
    print(
        "rpc_cpu_per_call",
        json!(round(micros(cpu[0]), 2)),
        "microseconds",
    );
    print(
        "bare_cpu_per_request",
        json!(round(micros(cpu[1]), 2)),
        "microseconds",
    );
}
