//! The real server on 127.0.0.1:0, in-process, with a registry of test methods: auth,
//! body limits, statuses and shapes per protocol version, concurrency, shutdown, and the
//! client against it; then the module in a running kernel, guarding another module's
//! HTTP route with its cookie.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use node_api::http::{response, Access, Route};
use node_api::rpc::Param;
use node_api::{
    async_trait, inventory, BoxError, Module, ModuleFactory, RpcError, RpcParams, RpcRegistry,
    StartContext, TaskSpawner,
};
use node_rpc::{
    basic_authorization, call, read_cookie, serve, Auth, ClientError, ClientSettings, Cookie,
    Credentials, Limits, RpcService, COOKIE_FILE,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
/// Bounds every wait, so a broken server fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// Released by the test to let calls of `wait` return.
    release: Arc<Notify>,
    /// Notified when a call of `wait` has started.
    waiting: Arc<Notify>,
    serving: tokio::task::JoinHandle<()>,
}

const ECHO: &[Param] = &[Param::required("a"), Param::optional("b")];
const NONE: &[Param] = &[];

fn registry(release: Arc<Notify>, waiting: Arc<Notify>) -> Arc<RpcRegistry> {
    let r = RpcRegistry::default();
    r.register("test", "getblockcount", NONE, "A constant.", |_| async {
        Ok(json!(7))
    })
    .unwrap();
    r.register("test", "echo", ECHO, "Echoes.", |p: RpcParams| async move {
        Ok(json!([p.get(0).cloned(), p.get(1).cloned()]))
    })
    .unwrap();
    r.register("test", "fail", NONE, "Fails.", |_| async {
        Err(RpcError::invalid_parameter("always fails"))
    })
    .unwrap();
    r.register("test", "wait", NONE, "Waits for the test.", move |_| {
        let release = release.clone();
        let waiting = waiting.clone();
        async move {
            waiting.notify_one();
            release.notified().await;
            Ok(json!("released"))
        }
    })
    .unwrap();
    Arc::new(r)
}

async fn start(limits: Limits) -> Server {
    let release = Arc::new(Notify::new());
    let waiting = Arc::new(Notify::new());
    let registry = registry(release.clone(), waiting.clone());
    let auth = Auth::new().allow(USER, PASSWORD);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let service = Arc::new(RpcService::new(registry, auth, limits));
    let spawner = TaskSpawner::detached("rpc", tasks.clone(), cancel.clone());
    let serving = tokio::spawn(serve(listener, service, spawner));
    Server {
        addr,
        cancel,
        tasks,
        release,
        waiting,
        serving,
    }
}

fn fast_limits() -> Limits {
    Limits {
        auth_failure_delay: Duration::from_millis(300),
        ..Limits::default()
    }
}

async fn connect(addr: SocketAddr) -> SendRequest<Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

async fn send_with(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    auth: Option<String>,
    body: &str,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "test");
    if let Some(auth) = auth {
        request = request.header(AUTHORIZATION, auth);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = tokio::time::timeout(DEADLINE, sender.send_request(request))
        .await
        .expect("answer in time")
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &hyper::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    let status = response.status().as_u16();
    let content_type = header(CONTENT_TYPE);
    let www_authenticate = header(WWW_AUTHENTICATE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        content_type,
        www_authenticate,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn good_auth() -> Option<String> {
    Some(basic_authorization(USER, PASSWORD))
}

async fn post(addr: SocketAddr, body: &str) -> Reply {
    let mut sender = connect(addr).await;
    send_with(&mut sender, Method::POST, "/", good_auth(), body).await
}

#[tokio::test]
async fn credentials_are_checked_and_failures_wait() {
    let server = start(fast_limits()).await;
    let body = r#"{"method":"getblockcount","id":1}"#;
    let ok = post(server.addr, body).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["result"], 7);

    for auth in [
        None,
        Some(basic_authorization(USER, "wrong")),
        Some("Basic !!".to_string()),
    ] {
        let started = Instant::now();
        let mut sender = connect(server.addr).await;
        let reply = send_with(&mut sender, Method::POST, "/", auth.clone(), body).await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(
            reply.www_authenticate.as_deref(),
            Some("Basic realm=\"jsonrpc\"")
        );
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{auth:?} answered too soon"
        );
    }
}

#[tokio::test]
async fn a_failing_login_does_not_hold_up_other_clients() {
    let server = start(Limits {
        auth_failure_delay: Duration::from_millis(800),
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let bad = tokio::spawn(async move {
        let mut sender = connect(addr).await;
        send_with(
            &mut sender,
            Method::POST,
            "/",
            Some(basic_authorization(USER, "no")),
            "{}",
        )
        .await
    });
    // Wait until the bad request is surely inside its delay.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let good = post(addr, r#"{"method":"getblockcount","id":1}"#).await;
    assert_eq!(good.status, 200);
    assert!(
        !bad.is_finished(),
        "the good call should finish during the bad one's delay"
    );
    assert_eq!(bad.await.unwrap().status, 401);
}

#[tokio::test]
async fn a_logged_in_connection_is_not_held_up_by_its_address_spent_bound() {
    // One failed login a second: after one guess, a new login from this address waits
    // about a second for the next token.
    let server = start(Limits {
        auth_failure_delay: Duration::ZERO,
        max_failed_logins_per_second: 1,
        ..Limits::default()
    })
    .await;
    let addr = server.addr;
    let body = r#"{"method":"getblockcount","id":1}"#;
    let mut logged_in = connect(addr).await;
    let reply = send_with(&mut logged_in, Method::POST, "/", good_auth(), body).await;
    assert_eq!(reply.status, 200);

    let guess = post_as(addr, Some(basic_authorization(USER, "guess")), body).await;
    assert_eq!(guess.status, 401);
    let fresh = tokio::spawn(async move { post(addr, body).await });
    // The connection that logged in sends the same credentials: answered at once.
    let reply = send_with(&mut logged_in, Method::POST, "/", good_auth(), body).await;
    assert_eq!(reply.status, 200);
    assert!(
        !fresh.is_finished(),
        "a new login waits for the address's next token"
    );
    assert_eq!(fresh.await.unwrap().status, 200);

    // Other credentials on that connection are checked as any: a wrong one is refused
    // and closes it.
    let wrong = Some(basic_authorization(USER, "other"));
    let reply = send_with(&mut logged_in, Method::POST, "/", wrong, body).await;
    assert_eq!(reply.status, 401);
    let request = Request::post("/")
        .header("host", "test")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let closed = tokio::time::timeout(DEADLINE, logged_in.send_request(request)).await;
    assert!(
        matches!(closed, Ok(Err(_))),
        "the connection is closed after a failed login: {closed:?}"
    );
}

async fn post_as(addr: SocketAddr, auth: Option<String>, body: &str) -> Reply {
    let mut sender = connect(addr).await;
    send_with(&mut sender, Method::POST, "/", auth, body).await
}

#[tokio::test]
async fn cookie_credentials_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let cookie = Cookie::generate(dir.path()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cookie.path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    let release = Arc::new(Notify::new());
    let auth = Auth::new().allow(node_rpc::COOKIE_USER, &cookie.password);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = Arc::new(RpcService::new(
        registry(release, Arc::new(Notify::new())),
        auth,
        fast_limits(),
    ));
    let cancel = CancellationToken::new();
    let spawner = TaskSpawner::detached("rpc", TaskTracker::new(), cancel.clone());
    tokio::spawn(serve(listener, service, spawner));

    let settings = ClientSettings {
        addr,
        credentials: Credentials::Cookie(cookie.path.clone()),
    };
    assert_eq!(
        call(&settings, "getblockcount", vec![]).await.unwrap(),
        json!(7)
    );
    assert_eq!(
        call(
            &settings,
            "echo",
            vec![node_api::rpc::amount(10_000_000), json!("x")]
        )
        .await
        .unwrap()
        .to_string(),
        r#"[0.10000000,"x"]"#
    );
    match call(&settings, "nope", vec![]).await.unwrap_err() {
        ClientError::Rpc { code, message } => {
            assert_eq!(code, -32601);
            assert!(message.contains("nope"), "{message}");
        }
        other => panic!("{other}"),
    }
    match call(&settings, "fail", vec![]).await.unwrap_err() {
        ClientError::Rpc { code, .. } => assert_eq!(code, -8),
        other => panic!("{other}"),
    }
    // A cookie from an earlier run is refused.
    Cookie::generate(dir.path()).unwrap();
    assert!(matches!(
        call(&settings, "getblockcount", vec![]).await.unwrap_err(),
        ClientError::Unauthorized { .. }
    ));
    cancel.cancel();
}

async fn ask(sender: &mut SendRequest<Full<Bytes>>, body: &str) -> Reply {
    send_with(sender, Method::POST, "/", good_auth(), body).await
}

#[tokio::test]
async fn statuses_and_shapes_follow_the_protocol_version() {
    let server = start(fast_limits()).await;
    let mut s = connect(server.addr).await;

    let r = ask(&mut s, r#"{"jsonrpc":"1.0","method":"nope","id":"a"}"#).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"result":null,"error":{"code":-32601,"message":"Method not found: nope"},"id":"a"})
    );
    assert!(r.body.ends_with('\n'));

    let r = ask(&mut s, r#"{"method":"fail","id":1}"#).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], -8);

    let r = ask(&mut s, r#"{"method":"echo","params":{},"id":1}"#).await;
    assert_eq!(r.status, 500, "missing required parameter");
    assert_eq!(r.json()["error"]["code"], -1, "Core's wrong-count error");

    let r = ask(&mut s, r#"{"id":1}"#).await;
    assert_eq!(r.status, 400);

    let r = ask(&mut s, "{not json").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], -32700);

    let r = ask(&mut s, r#"{"jsonrpc":"2.0","method":"nope","id":2}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found: nope"},"id":2})
    );

    let r = ask(
        &mut s,
        r#"{"jsonrpc":"2.0","method":"echo","params":{"b":[true],"a":"x"},"id":null}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"jsonrpc":"2.0","result":["x",[true]],"id":null})
    );

    let r = ask(&mut s, r#"{"jsonrpc":"2.0","method":"getblockcount"}"#).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, "");
    assert_eq!(r.content_type, None);

    let r = ask(&mut s, r#"[{"jsonrpc":"2.0","method":"getblockcount","id":1},{"method":"nope","id":2},{"jsonrpc":"2.0","method":"getblockcount"}]"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!([
            {"jsonrpc":"2.0","result":7,"id":1},
            {"result":null,"error":{"code":-32601,"message":"Method not found: nope"},"id":2}
        ])
    );

    let r = send_with(&mut s, Method::GET, "/", good_auth(), "").await;
    assert_eq!(r.status, 405);
    let r = send_with(&mut s, Method::POST, "/elsewhere", good_auth(), "{}").await;
    assert_eq!(r.status, 404);
    let r = send_with(
        &mut s,
        Method::POST,
        "/wallet/main",
        good_auth(),
        r#"{"method":"getblockcount","id":1}"#,
    )
    .await;
    assert_eq!(r.status, 200);
}

/// Sends `head` on a raw connection and returns the status line of the answer.
async fn raw_status(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("answer in time")
            .unwrap_or(0);
        answer.extend_from_slice(&buf[..n]);
        if n == 0 || answer.windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_being_read() {
    let server = start(Limits {
        max_body_bytes: 4096,
        ..fast_limits()
    })
    .await;
    let auth = basic_authorization(USER, PASSWORD);

    // A declared length over the limit is refused at once: the body never comes.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        100 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    assert!(raw_status(&mut stream).await.contains("413"));

    // Without a length, the limit is checked while the body streams in.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let feeder = tokio::spawn(async move {
        let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
        // Far more than the limit; the server stops reading long before the end, so
        // writes may fail once it has answered and closed.
        for _ in 0..4096 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(DEADLINE, reader.read(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).contains("413"));
    feeder.abort();

    // A body of exactly the limit is served.
    let call = r#"{"method":"getblockcount","id":1}"#;
    let body = format!("{call}{}", " ".repeat(4096 - call.len()));
    let r = post(server.addr, &body).await;
    assert_eq!(r.status, 200);
    let body = format!("{body} ");
    assert_eq!(post(server.addr, &body).await.status, 413);
}

#[tokio::test]
async fn many_clients_are_served_and_a_slow_call_blocks_only_its_own() {
    let server = start(fast_limits()).await;
    let addr = server.addr;
    let slow = tokio::spawn(async move { post(addr, r#"{"method":"wait","id":1}"#).await });

    let mut clients = Vec::new();
    for client in 0..64 {
        clients.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            for call in 0..10 {
                let body = format!(
                    r#"{{"jsonrpc":"2.0","method":"echo","params":[{client},{call}],"id":{call}}}"#
                );
                let r = send_with(&mut sender, Method::POST, "/", good_auth(), &body).await;
                assert_eq!(r.status, 200);
                assert_eq!(r.json()["result"], json!([client, call]));
            }
        }));
    }
    for client in clients {
        tokio::time::timeout(DEADLINE, client)
            .await
            .expect("clients served in time")
            .unwrap();
    }
    assert!(!slow.is_finished());
    server.release.notify_one();
    let r = tokio::time::timeout(DEADLINE, slow).await.unwrap().unwrap();
    assert_eq!(r.json()["result"], "released");
}

#[tokio::test]
async fn a_new_client_closes_the_connection_idle_the_longest() {
    let server = start(Limits {
        max_connections: 2,
        ..fast_limits()
    })
    .await;
    let body = r#"{"method":"getblockcount","id":1}"#;
    // Two sockets that send nothing hold both slots.
    let mut oldest = TcpStream::connect(server.addr).await.unwrap();
    let mut newer = TcpStream::connect(server.addr).await.unwrap();
    // A third client is served at once: the oldest idle connection makes room.
    let r = tokio::time::timeout(DEADLINE, post(server.addr, body))
        .await
        .expect("served while idle sockets hold every slot");
    assert_eq!(r.status, 200);
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, oldest.read(&mut byte))
        .await
        .expect("the oldest idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The newer one was left open: the client's own connection made room for itself
    // by closing nothing else.
    let still = tokio::time::timeout(Duration::from_millis(200), newer.read(&mut byte)).await;
    assert!(
        still.is_err(),
        "the newer idle connection was closed too: {still:?}"
    );
}

#[tokio::test]
async fn clients_wait_only_while_every_slot_answers_a_request() {
    let server = start(Limits {
        max_connections: 1,
        ..fast_limits()
    })
    .await;
    let addr = server.addr;
    let slow = tokio::spawn(async move { post(addr, r#"{"method":"wait","id":1}"#).await });
    tokio::time::timeout(DEADLINE, server.waiting.notified())
        .await
        .expect("the slow call starts");
    let second =
        tokio::spawn(async move { post(addr, r#"{"method":"getblockcount","id":1}"#).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "a busy connection was closed, or served beyond max_connections"
    );
    server.release.notify_one();
    let r = tokio::time::timeout(DEADLINE, slow).await.unwrap().unwrap();
    assert_eq!(r.json()["result"], "released");
    let r = tokio::time::timeout(DEADLINE, second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn failed_logins_share_one_bound_across_connections() {
    // Two failures a second, in a burst of two: the fifth of five parallel failures
    // cannot be answered before 1.5 s, whatever the number of connections.
    let server = start(Limits {
        auth_failure_delay: Duration::ZERO,
        max_failed_logins_per_second: 2,
        ..Limits::default()
    })
    .await;
    let started = Instant::now();
    let mut guesses = Vec::new();
    for guess in 0..5 {
        let addr = server.addr;
        guesses.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let auth = Some(basic_authorization(USER, &format!("guess{guess}")));
            send_with(&mut sender, Method::POST, "/", auth, "{}")
                .await
                .status
        }));
    }
    for guess in guesses {
        assert_eq!(guess.await.unwrap(), 401);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1450),
        "5 failures answered in {:?}",
        started.elapsed()
    );
    // A correct login is not charged.
    let ok = post(server.addr, r#"{"method":"getblockcount","id":1}"#).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_and_closes_idle_connections() {
    let server = start(fast_limits()).await;
    let addr = server.addr;
    let mut idle = connect(addr).await;
    assert_eq!(
        send_with(
            &mut idle,
            Method::POST,
            "/",
            good_auth(),
            r#"{"method":"getblockcount","id":1}"#
        )
        .await
        .status,
        200
    );
    let slow = tokio::spawn(async move { post(addr, r#"{"method":"wait","id":1}"#).await });
    tokio::time::timeout(DEADLINE, server.waiting.notified())
        .await
        .expect("the slow call starts");

    server.cancel.cancel();
    tokio::time::timeout(DEADLINE, server.serving)
        .await
        .unwrap()
        .unwrap();
    server.tasks.close();
    // The listener is closed at once.
    assert!(TcpStream::connect(addr).await.is_err());
    // The slow call still holds its connection until it is answered.
    assert!(!server.tasks.is_empty());
    server.release.notify_one();
    let r = tokio::time::timeout(DEADLINE, slow).await.unwrap().unwrap();
    assert_eq!(r.json()["result"], "released");
    tokio::time::timeout(DEADLINE, server.tasks.wait())
        .await
        .expect("every connection task ends");
    drop(idle);
}

fn plan_error(text: &'static str, sets: &[&str]) -> String {
    match plan(text, sets) {
        Ok(_) => panic!("the profile was accepted: {sets:?}"),
        Err(e) => e,
    }
}

fn plan(text: &'static str, sets: &[&str]) -> Result<node_kernel::Plan, String> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let profile = node_kernel::Profile::load(
        &node_kernel::ProfileSource::Embedded {
            name: "t.toml",
            text,
        },
        [],
        &sets,
        Some("/tmp/unused".into()),
    )
    .map_err(|e| e.to_string())?;
    node_kernel::plan(profile).map_err(|e| e.to_string())
}

#[test]
fn the_module_is_registered_and_its_table_checked() {
    let base = "[node]\nmodules = [\"rpc\"]\nchain = \"regtest\"\n";
    let plan_ok = plan(base, &["rpc.user=bob", "rpc.password=pw"]).unwrap();
    let config = &plan_ok.modules[0].config;
    // Unset: derived from the chain's block size when the module is built.
    assert_eq!(config["max_body_bytes"], serde_json::Value::Null);
    assert_eq!(config["password"], "********");
    // A limit that cannot hold the chain's largest block in hex is refused at start.
    let err = plan_error(base, &["rpc.max_body_bytes=1048576"]);
    assert!(
        err.contains("max_body_bytes") && err.contains("submitblock") && err.contains("2001024"),
        "{err}"
    );
    plan(base, &["rpc.max_body_bytes=2001024"]).unwrap();

    let err = plan_error(base, &["rpc.lisen=1"]);
    // The value came from the --set, which the error names.
    assert!(
        err.contains("--set rpc.lisen=1") && err.contains("lisen"),
        "{err}"
    );
    let err = plan_error(base, &["rpc.user=bob"]);
    assert!(err.contains("[rpc]") && err.contains("user"), "{err}");
    let err = plan_error(base, &["rpc.listen=nowhere"]);
    assert!(err.contains("listen") && err.contains("nowhere"), "{err}");
    let err = plan_error("[node]\nmodules = [\"rpc\"]\nchain = \"mainnet\"\n", &[]);
    assert!(err.contains("mainnet"), "{err}");
}

/// What the `web` test module hands the test once it serves: its address, and the node's
/// shutdown token.
type Serving = (SocketAddr, CancellationToken);
static WEB: Mutex<Option<oneshot::Sender<Serving>>> = Mutex::new(None);

/// A module serving one authenticated route, as an exporter or a dashboard would.
struct Web;

#[async_trait]
impl Module for Web {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let route = Route::new("/private", Access::Authenticated, |_| async {
            response(hyper::StatusCode::OK, "text/plain", "private\n")
        });
        let addr = ctx.serve_http("127.0.0.1:0".parse()?, vec![route]).await?;
        if let Some(serving) = WEB.lock().unwrap().take() {
            let _ = serving.send((addr, ctx.shutdown_token()));
        }
        Ok(())
    }
}

inventory::submit! {
    ModuleFactory {
        name: "web",
        description: "serves an authenticated route (test)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[],
        uses: &[],
        methods: &[],
        build: |_| Ok(Box::new(Web)),
    }
}

#[tokio::test]
async fn in_a_node_the_cookie_guards_module_routes_and_goes_with_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, serving) = oneshot::channel();
    *WEB.lock().unwrap() = Some(tx);
    // rpc first: its credentials are in place before `web` answers.
    let text = "[node]\nmodules = [\"rpc\", \"web\"]\nchain = \"regtest\"\n\
                [rpc]\nlisten = \"127.0.0.1:0\"\nauth_failure_delay_ms = 300\n\
                max_failed_logins_per_second = 1\n";
    let profile = node_kernel::Profile::load(
        &node_kernel::ProfileSource::Embedded {
            name: "t.toml",
            text,
        },
        [],
        &[],
        Some(dir.path().to_path_buf()),
    )
    .unwrap();
    let node = tokio::spawn(node_kernel::run(node_kernel::plan(profile).unwrap()));
    let (addr, shutdown) = tokio::time::timeout(DEADLINE, serving)
        .await
        .expect("the node starts in time")
        .unwrap();

    let cookie = dir.path().join(COOKIE_FILE);
    let (user, password) = read_cookie(&cookie).unwrap();
    let mut sender = connect(addr).await;
    let auth = Some(basic_authorization(&user, &password));
    let r = send_with(&mut sender, Method::GET, "/private", auth, "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "private\n"));
    for auth in [None, Some(basic_authorization(&user, "wrong"))] {
        let started = Instant::now();
        let r = send_with(&mut sender, Method::GET, "/private", auth.clone(), "").await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{auth:?} answered before rpc.auth_failure_delay_ms"
        );
    }
    // The one failed login a second is spent: the route's next failure waits for it.
    let started = Instant::now();
    let wrong = Some(basic_authorization(&user, "wrong again"));
    let r = send_with(&mut sender, Method::GET, "/private", wrong, "").await;
    assert_eq!(r.status, 401);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the route's failures are not bounded with JSON-RPC's"
    );

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, node)
        .await
        .expect("the node stops in time")
        .unwrap()
        .unwrap();
    assert!(!cookie.exists(), "the cookie outlived the node");
}
