//! The serving side against a hand-driven peer socket: ping before insertion, the fixed
//! procedure list, store bounds, rate limits and shutdown.

use std::time::Duration;

use rmpv::Value;

use super::*;
use crate::wire::{MsgId, StoredValue};

const DEADLINE: Duration = Duration::from_secs(5);

/// A peer driven by hand over a plain UDP socket.
struct RawPeer {
    socket: UdpSocket,
    id: NodeId,
}

impl RawPeer {
    async fn bind(ip: &str, id: u8) -> RawPeer {
        let socket = UdpSocket::bind((ip, 0)).await.expect("bind raw peer");
        RawPeer {
            socket,
            id: NodeId([id; 20]),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("raw peer address")
    }

    async fn send(&self, to: SocketAddr, kind: Kind, id: MsgId, payload: Value) {
        let bytes = wire::encode(kind, &id, &payload).expect("encode");
        self.socket.send_to(&bytes, to).await.expect("send");
    }

    async fn request(&self, to: SocketAddr, msg: u8, request: Request) {
        self.send(to, Kind::Request, [msg; 20], request.to_value())
            .await;
    }

    /// The next datagram, decoded.
    async fn recv(&self) -> (Kind, MsgId, Value) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let (len, _) = tokio::time::timeout(DEADLINE, self.socket.recv_from(&mut buf))
            .await
            .expect("a datagram within the deadline")
            .expect("recv");
        let frame = wire::split(&buf[..len]).expect("frame");
        (
            frame.kind,
            frame.id,
            wire::decode_payload(frame.payload).expect("payload"),
        )
    }

    /// The next response, answering (or ignoring) the node's pings on the way.
    async fn response(&self, from: SocketAddr, answer_pings: bool) -> (MsgId, Value) {
        loop {
            match self.recv().await {
                (Kind::Response, id, body) => return (id, body),
                (Kind::Request, id, _) if answer_pings => {
                    self.send(from, Kind::Response, id, Response::Id(self.id).to_value())
                        .await;
                }
                (Kind::Request, ..) => {}
            }
        }
    }
}

fn config() -> DiscoveryConfig {
    DiscoveryConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        // Long enough for a loaded CI machine; tests that need a timeout set a short one.
        request_timeout: Duration::from_secs(2),
        ..DiscoveryConfig::default()
    }
}

async fn start(config: DiscoveryConfig) -> (Discovery, JoinHandle<()>, CancellationToken) {
    let cancel = CancellationToken::new();
    let (discovery, task) = Discovery::start(config, cancel.clone())
        .await
        .expect("start");
    (discovery, task, cancel)
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn stop(task: JoinHandle<()>, cancel: CancellationToken) {
    cancel.cancel();
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("stops in time")
        .expect("no panic");
}

#[tokio::test]
async fn a_caller_enters_the_table_only_after_answering_our_ping() {
    let (node, task, cancel) = start(config()).await;
    let mut announced = node.subscribe();
    let peer = RawPeer::bind("127.0.0.1", 0x42).await;
    let to = node.local_addr();
    peer.request(
        to,
        1,
        Request::FindNode {
            sender: NodeId([0x99; 20]),
            key: peer.id,
        },
    )
    .await;
    let mut ping_id = None;
    let mut answered = false;
    while ping_id.is_none() || !answered {
        match peer.recv().await {
            (Kind::Response, id, body) => {
                assert_eq!(id, [1; 20]);
                assert_eq!(
                    body,
                    Value::Array(vec![]),
                    "no contacts yet, and never the asker"
                );
                answered = true;
            }
            (Kind::Request, id, body) => {
                assert_eq!(
                    Request::from_value(body).expect("request").rpc(),
                    wire::Rpc::Ping
                );
                ping_id = Some(id);
            }
        }
    }
    assert!(
        node.contacts().is_empty(),
        "not inserted before answering the ping"
    );
    let ping_id = ping_id.expect("pinged");
    // It claimed 0x99.. but answers 0x42..: the answer is what counts.
    peer.send(
        to,
        Kind::Response,
        ping_id,
        Response::Id(peer.id).to_value(),
    )
    .await;
    wait_until("insertion", || !node.contacts().is_empty()).await;
    assert_eq!(
        node.contacts(),
        vec![Contact {
            id: peer.id,
            addr: peer.addr()
        }]
    );
    let addr = tokio::time::timeout(DEADLINE, announced.recv())
        .await
        .expect("announced");
    assert_eq!(addr.expect("announcement"), peer.addr());
    stop(task, cancel).await;
}

#[tokio::test]
async fn a_silent_caller_never_enters_the_table() {
    let mut config = config();
    config.request_timeout = Duration::from_millis(300);
    let (node, task, cancel) = start(config).await;
    let peer = RawPeer::bind("127.0.0.1", 0x42).await;
    peer.request(node.local_addr(), 1, Request::Ping { sender: peer.id })
        .await;
    let (_, body) = peer.response(node.local_addr(), false).await;
    assert_eq!(body, Response::Id(node.id()).to_value());
    let shared = &node.shared;
    wait_until("verification to give up", || {
        lock(&shared.verifying).is_empty() && shared.rpc.in_flight() == 0
    })
    .await;
    assert!(node.contacts().is_empty());
    stop(task, cancel).await;
}

#[tokio::test]
async fn only_listed_procedures_are_answered() {
    let (node, task, cancel) = start(config()).await;
    let peer = RawPeer::bind("127.0.0.1", 0x42).await;
    let to = node.local_addr();
    let id = Value::Binary(vec![0x42; 20]);
    for (msg, name) in [
        (1u8, "welcome_if_new"),
        (2, "__getattr__"),
        (3, "get_refresh_ids"),
    ] {
        let payload = Value::Array(vec![Value::from(name), Value::Array(vec![id.clone()])]);
        peer.send(to, Kind::Request, [msg; 20], payload).await;
    }
    // Oversized and garbage datagrams are dropped too.
    peer.socket
        .send_to(&vec![0u8; MAX_DATAGRAM + 1], to)
        .await
        .expect("send");
    peer.socket.send_to(&[0u8; 30], to).await.expect("send");
    peer.request(to, 9, Request::Stun).await;
    let (msg, body) = peer.response(to, false).await;
    assert_eq!(msg, [9; 20], "the first answer is the stun's");
    assert_eq!(body, Response::Address(peer.addr()).to_value());
    stop(task, cancel).await;
}

#[tokio::test]
async fn stored_values_are_bounded_and_served() {
    let mut config = config();
    config.limits.max_value_bytes = 8;
    let (node, task, cancel) = start(config).await;
    let peer = RawPeer::bind("127.0.0.1", 0x42).await;
    let to = node.local_addr();
    let key = NodeId([0x33; 20]);
    let value = |s: &str| StoredValue::new(Value::from(s)).expect("scalar");
    let sender = peer.id;
    peer.request(
        to,
        1,
        Request::Store {
            sender,
            key,
            value: value("too long a value"),
        },
    )
    .await;
    assert_eq!(
        peer.response(to, true).await,
        ([1; 20], Value::Boolean(false))
    );
    peer.request(to, 2, Request::FindValue { sender, key })
        .await;
    let (_, miss) = peer.response(to, true).await;
    assert!(miss.is_array(), "a miss answers with contacts: {miss}");
    peer.request(
        to,
        3,
        Request::Store {
            sender,
            key,
            value: value("short"),
        },
    )
    .await;
    assert_eq!(
        peer.response(to, true).await,
        ([3; 20], Value::Boolean(true))
    );
    peer.request(to, 4, Request::FindValue { sender, key })
        .await;
    let (_, hit) = peer.response(to, true).await;
    assert_eq!(hit, Response::Value(value("short")).to_value());
    stop(task, cancel).await;
}

#[tokio::test]
async fn requests_are_rate_limited_per_source_ip() {
    let mut config = config();
    config.limits.requests_per_second = 0;
    config.limits.request_burst = 3;
    let (node, task, cancel) = start(config).await;
    let to = node.local_addr();
    let noisy = RawPeer::bind("127.0.0.1", 0x42).await;
    let other = RawPeer::bind("127.0.0.2", 0x43).await;
    for msg in 1..=5 {
        noisy.request(to, msg, Request::Stun).await;
    }
    // The node handles datagrams in order, so once the other source is answered every
    // answer to the noisy one has been sent.
    other.request(to, 9, Request::Stun).await;
    assert_eq!(other.response(to, false).await.0, [9; 20]);
    let mut answered = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while let Ok((len, _)) = noisy.socket.try_recv_from(&mut buf) {
        let frame = wire::split(&buf[..len]).expect("frame");
        if frame.kind == Kind::Response {
            answered.push(frame.id[0]);
        }
    }
    assert_eq!(answered, vec![1, 2, 3]);
    stop(task, cancel).await;
}

#[tokio::test]
async fn cancellation_ends_every_task() {
    let mut config = config();
    config.request_timeout = Duration::from_secs(60);
    // A bootstrap node that never answers keeps a task waiting.
    let silent = RawPeer::bind("127.0.0.1", 0x42).await;
    config.bootstrap = vec![silent.addr()];
    let (node, task, cancel) = start(config).await;
    let (kind, ..) = silent.recv().await;
    assert_eq!(kind, Kind::Request);
    let pending = node.clone();
    let ping = tokio::spawn(async move { pending.ping(silent.addr()).await });
    stop(task, cancel).await;
    let result = tokio::time::timeout(DEADLINE, ping)
        .await
        .expect("ping ends")
        .expect("no panic");
    assert!(matches!(result, Err(DiscoveryError::ShutDown)));
    assert!(node.lookup(NodeId([1; 20])).await.is_empty());
}

/// Answers the node's pings until it sends a `find_node`; returns that request's key.
async fn answer_pings_until_find_node(peer: &RawPeer, to: SocketAddr) -> NodeId {
    loop {
        let (kind, id, body) = peer.recv().await;
        if kind == Kind::Response {
            continue;
        }
        match Request::from_value(body).expect("request") {
            Request::Ping { .. } => {
                peer.send(to, Kind::Response, id, Response::Id(peer.id).to_value())
                    .await;
            }
            Request::FindNode { key, .. } => {
                peer.send(
                    to,
                    Kind::Response,
                    id,
                    Response::Contacts(vec![]).to_value(),
                )
                .await;
                return key;
            }
            other => panic!("unexpected request {other:?}"),
        }
    }
}

#[tokio::test]
async fn stale_buckets_are_refreshed_by_a_lookup_in_their_range() {
    let mut config = config();
    config.refresh_interval = Duration::from_millis(200);
    let (node, task, cancel) = start(config).await;
    let peer = RawPeer::bind("127.0.0.1", 0x42).await;
    let to = node.local_addr();
    peer.request(to, 1, Request::Ping { sender: peer.id }).await;
    let key = answer_pings_until_find_node(&peer, to).await;
    assert_ne!(key, node.id(), "a random id, not our own");
    assert_eq!(
        node.id().bucket_index(&key),
        node.id().bucket_index(&peer.id)
    );
    assert!(node.contacts().iter().any(|c| c.id == peer.id));
    stop(task, cancel).await;
}

#[tokio::test]
async fn an_empty_table_bootstraps_again_on_refresh() {
    let mut config = config();
    config.refresh_interval = Duration::from_millis(200);
    let late = RawPeer::bind("127.0.0.1", 0x42).await;
    config.bootstrap = vec![late.addr()];
    let (node, task, cancel) = start(config).await;
    // The bootstrap node misses the first ping, as if not yet up.
    let (kind, ..) = late.recv().await;
    assert_eq!(kind, Kind::Request);
    // The refresh pings it again; then the node looks itself up through it.
    let key = answer_pings_until_find_node(&late, node.local_addr()).await;
    assert_eq!(key, node.id());
    assert_eq!(
        node.contacts(),
        vec![Contact {
            id: late.id,
            addr: late.addr()
        }]
    );
    stop(task, cancel).await;
}
