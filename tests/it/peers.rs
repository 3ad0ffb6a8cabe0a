//! The peers module in real `node` processes: two nodes handshake over `connect`, and raw
//! sockets play peers that send garbage, another chain's magic, an oversized frame, a bad
//! checksum, unknown commands or an invalid block. Bad peers are dropped; a well-behaved
//! peer stays connected and is still served. Checks go through `node rpc` (getpeerinfo and
//! friends).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use node_chain::{check_proof_of_work, Block, ChainSpec, Hash256};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, ChainState};
use node_p2p::{
    encode_frame, Command, GetHeaders, Inventory, Message, NetAddress, VersionMessage, HEADER_LEN,
    PROTOCOL_VERSION,
};
use serde_json::Value;

use crate::common::{modules_profile, node_output, regtest, wait_for, write_profile, TestNode};
use crate::network::same_tip;

const START: Duration = Duration::from_secs(20);
const DEADLINE: Duration = Duration::from_secs(8);

/// A node of `modules` on regtest with `tables` in its profile, once its log says
/// `listening` on its P2P address.
fn listening_node(modules: &[&str], tables: &str, listening: &str) -> TestNode {
    let mut node = TestNode::start_text(&modules_profile(modules, tables), &[]);
    let line = format!("{listening} {}", node.p2p_addr());
    node.process.wait_log(&line, START);
    node
}

/// A `chain, peers, rpc` node with `peers` (lines of its `[peers]` table), once it
/// listens for peers.
fn peer_node(peers: &str) -> TestNode {
    listening_node(
        &["chain", "peers", "rpc"],
        &format!("[peers]\n{peers}\n"),
        "listening for peers on",
    )
}

/// Waits until getpeerinfo lists a peer that `matches`, and returns it.
fn wait_peer(node: &TestNode, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, DEADLINE, || {
        node.peer_info().into_iter().find(|p| matches(p))
    })
}

/// The bans listbanned lists.
fn bans(node: &TestNode) -> Vec<Value> {
    node.rpc("listbanned", &[])
        .as_array()
        .expect("listbanned answers an array")
        .clone()
}

/// A peer played by the test over a plain socket.
pub(crate) struct RawPeer {
    stream: TcpStream,
    magic: [u8; 4],
}

fn nonce() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

impl RawPeer {
    pub(crate) fn connect(port: u16) -> RawPeer {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the node");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        RawPeer {
            stream,
            magic: regtest().magic,
        }
    }

    pub(crate) fn send(&mut self, message: &Message) {
        let frame = encode_frame(self.magic, message);
        self.send_raw(&frame);
    }

    /// A second handle on the socket, to write from another thread.
    pub(crate) fn writer(&self) -> TcpStream {
        self.stream.try_clone().expect("clone the socket")
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the node");
    }

    /// The next message, `None` once the node closed the connection.
    pub(crate) fn recv(&mut self) -> Option<Message> {
        let mut header = [0u8; HEADER_LEN];
        if !read_exact_or_closed(&mut self.stream, &mut header) {
            return None;
        }
        assert_eq!(header[..4], self.magic, "the node speaks our chain's magic");
        let mut raw = [0u8; 12];
        raw.copy_from_slice(&header[4..16]);
        let length = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
        let mut payload = vec![0u8; length as usize];
        if !read_exact_or_closed(&mut self.stream, &mut payload) {
            return None;
        }
        let command = Command::from_raw(raw).expect("the node sends valid commands");
        Some(Message::decode(command, &payload).expect("the node sends valid payloads"))
    }

    /// The first message `wanted` accepts; the node's own pings are skipped, anything else
    /// is returned in `skipped`.
    pub(crate) fn recv_until(
        &mut self,
        what: &str,
        wanted: impl Fn(&Message) -> bool,
    ) -> (Message, Vec<Message>) {
        let mut skipped = Vec::new();
        loop {
            match self.recv() {
                Some(message) if wanted(&message) => return (message, skipped),
                Some(Message::Ping(_)) => {}
                Some(other) => skipped.push(other),
                None => panic!("the node closed the connection while we waited for {what}"),
            }
        }
    }

    pub(crate) fn version() -> Message {
        let unspecified = NetAddress {
            services: 0,
            addr: "0.0.0.0:0".parse().expect("address"),
        };
        Message::Version(VersionMessage {
            version: PROTOCOL_VERSION,
            services: 0,
            timestamp: (nonce() / 1_000_000_000) as i64,
            receiver: unspecified,
            sender: unspecified,
            nonce: nonce(),
            user_agent: "/raw-test-peer/".into(),
            start_height: 0,
            relay: false,
        })
    }

    /// version/verack as an outbound Bitcoin node does it, with the extra messages Bitcoin
    /// Core sends between `version` and `verack` (unknown to us, to be ignored). Returns
    /// the node's `version`.
    pub(crate) fn handshake(&mut self) -> VersionMessage {
        self.send(&Self::version());
        for extra in ["wtxidrelay", "sendaddrv2"] {
            self.send(&Message::Unknown {
                command: Command::new(extra).expect("command"),
                payload: Vec::new(),
            });
        }
        let (version, _) = self.recv_until("version", |m| matches!(m, Message::Version(_)));
        let Message::Version(version) = version else {
            unreachable!()
        };
        assert_eq!(version.version, PROTOCOL_VERSION);
        assert!(
            version.user_agent.starts_with("/node:"),
            "{}",
            version.user_agent
        );
        self.recv_until("verack", |m| *m == Message::Verack);
        self.send(&Message::Verack);
        version
    }

    /// Sends a ping and waits for its pong; fails if a pong of `never` shows up first.
    fn ping(&mut self, nonce: u64, never: Option<u64>) {
        self.send(&Message::Ping(nonce));
        let (_, skipped) = self.recv_until("pong", |m| *m == Message::Pong(nonce));
        if let Some(never) = never {
            assert!(
                !skipped.contains(&Message::Pong(never)),
                "the node answered a ping it should have dropped"
            );
        }
    }

    /// Whether the node closes the connection within the deadline (whatever it sends
    /// first is read and ignored).
    pub(crate) fn closed_by_node(&mut self) -> bool {
        let deadline = Instant::now() + DEADLINE;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return false
                }
                Err(e) => panic!("reading from the node: {e}"),
            }
        }
        false
    }
}

fn read_exact_or_closed(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
    match stream.read_exact(buf) {
        Ok(()) => true,
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            false
        }
        Err(e) => panic!("reading from the node: {e}"),
    }
}

#[test]
fn two_nodes_handshake_over_connect_and_reconnect() {
    // `a` only listens: no automatic outbound connection back to `b`.
    let a = peer_node("max_outbound = 0");
    let b = peer_node(&format!("connect = [\"{}\"]", a.p2p_addr()));
    let a_addr = a.p2p_addr();

    let seen_by_b = wait_peer(&b, "b to list a", |p| p["addr"] == a_addr.as_str());
    assert_eq!(seen_by_b["inbound"], false);
    assert_eq!(seen_by_b["connection_type"], "manual");
    assert_eq!(seen_by_b["version"], PROTOCOL_VERSION);
    assert_eq!(
        seen_by_b["subver"],
        format!("/node:{}/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(seen_by_b["startingheight"], 0);
    assert_eq!(seen_by_b["services"], "0000000000000001");
    let seen_by_a = wait_peer(&a, "a to list b", |p| p["inbound"] == true);
    assert_eq!(seen_by_a["addrbind"], a_addr.as_str());
    assert_eq!(a.rpc("getconnectioncount", &[]), 1);
    let info = a.rpc("getnetworkinfo", &[]);
    assert_eq!(info["protocolversion"], PROTOCOL_VERSION);
    assert_eq!(info["connections_in"], 1);
    assert_eq!(info["connections_out"], 0);
    // Pings are answered: a round trip shows up once `ping` asked for one.
    a.rpc("ping", &[]);
    wait_peer(&a, "a to time a ping", |p| p["pingtime"].is_number());

    // `a` drops `b`; `b` keeps its `connect` peer and comes back on a new connection.
    let id = seen_by_a["id"].to_string();
    assert_eq!(a.rpc("disconnectnode", &["", &id]), Value::Null);
    wait_peer(&a, "b to reconnect", |p| {
        p["inbound"] == true && p["id"] != seen_by_a["id"]
    });
    assert_eq!(a.fail("disconnectnode", &["", &id]).code, -29);
    assert_eq!(a.fail("disconnectnode", &[]).code, -32602);
    assert!(b.process.log().contains("peer connected"));
}

#[test]
fn bad_peers_are_dropped_and_a_good_one_stays_served() {
    let node = peer_node("");
    let mut good = RawPeer::connect(node.p2p_port);
    good.handshake();
    wait_peer(&node, "the good peer", |p| p["subver"] == "/raw-test-peer/");

    // Not a node at all: the first byte is not our magic.
    let mut garbage = RawPeer::connect(node.p2p_port);
    garbage.send_raw(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n");
    assert!(garbage.closed_by_node(), "garbage was not dropped");

    // A node of another chain: fails at its first message.
    let mut other_chain = RawPeer::connect(node.p2p_port);
    other_chain.magic = ChainSpec::by_name("dev").expect("dev spec").magic;
    other_chain.send(&RawPeer::version());
    assert!(
        other_chain.closed_by_node(),
        "another chain's magic was not dropped"
    );

    // A header claiming 4 GiB: dropped on the header alone.
    let mut oversized = RawPeer::connect(node.p2p_port);
    let mut header = Vec::new();
    header.extend_from_slice(&regtest().magic);
    header.extend_from_slice(b"block\0\0\0\0\0\0\0");
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    oversized.send_raw(&header);
    assert!(
        oversized.closed_by_node(),
        "an oversized frame was not dropped"
    );

    // Anything but `version` first is misbehaviour (loopback: disconnected, not banned).
    let mut rude = RawPeer::connect(node.p2p_port);
    rude.send(&Message::Ping(1));
    assert!(
        rude.closed_by_node(),
        "a ping before version was not punished"
    );

    // A bad checksum drops that message only; an unknown command is ignored.
    let mut sloppy = RawPeer::connect(node.p2p_port);
    sloppy.handshake();
    let mut corrupt = encode_frame(regtest().magic, &Message::Ping(11)).to_vec();
    corrupt[20] ^= 0xff;
    sloppy.send_raw(&corrupt);
    sloppy.send(&Message::Unknown {
        command: Command::new("myextension").expect("command"),
        payload: vec![1, 2, 3],
    });
    sloppy.ping(12, Some(11));

    // The good peer is still connected and served: pings, headers, blocks, notfound.
    good.ping(7, None);
    let genesis = regtest().genesis_hash();
    good.send(&Message::GetHeaders(GetHeaders {
        version: PROTOCOL_VERSION as u32,
        locator: vec![genesis],
        stop: Hash256::ZERO,
    }));
    good.recv_until("headers", |m| *m == Message::Headers(Vec::new()));
    let unknown = Hash256([7; 32]);
    good.send(&Message::GetData(vec![
        Inventory::block(genesis),
        Inventory::block(unknown),
        Inventory::tx(unknown),
    ]));
    let (block, _) = good.recv_until("the genesis block", |m| matches!(m, Message::Block(_)));
    assert!(matches!(block, Message::Block(b) if b.hash() == genesis));
    let (notfound, _) = good.recv_until("notfound", |m| matches!(m, Message::NotFound(_)));
    assert_eq!(
        notfound,
        Message::NotFound(vec![Inventory::block(unknown), Inventory::tx(unknown)])
    );

    let peers = node.peer_info();
    assert_eq!(
        peers.len(),
        2,
        "only the good and the sloppy peer remain: {peers:?}"
    );
    assert!(
        bans(&node).is_empty(),
        "loopback peers are never banned automatically"
    );
    let log = node.process.log();
    assert!(log.contains("peer misbehaved"), "{log}");
}

#[test]
fn bans_refuse_connections_until_lifted() {
    let node = peer_node("max_inbound = 1");
    let mut first = RawPeer::connect(node.p2p_port);
    first.handshake();
    wait_peer(&node, "the first peer", |p| p["inbound"] == true);

    // Inbound beyond max_inbound is refused.
    let mut second = RawPeer::connect(node.p2p_port);
    second.send(&RawPeer::version());
    assert!(
        second.closed_by_node(),
        "a connection over max_inbound was accepted"
    );

    // A manual ban disconnects the peers in the subnet and refuses new connections.
    assert_eq!(
        node.rpc("setban", &["127.0.0.0/8", "add", "600"]),
        Value::Null
    );
    assert!(first.closed_by_node(), "a banned peer stayed connected");
    assert_eq!(node.fail("setban", &["127.0.0.0/8", "add"]).code, -23);
    assert_eq!(node.fail("setban", &["not-an-ip", "add"]).code, -30);
    let listed = bans(&node);
    assert_eq!(listed[0]["address"], "127.0.0.0/8");
    assert_eq!(listed[0]["ban_duration"], 600);
    let mut refused = RawPeer::connect(node.p2p_port);
    refused.send(&RawPeer::version());
    assert!(refused.closed_by_node(), "a banned address was accepted");

    assert_eq!(node.rpc("setban", &["127.0.0.0/8", "remove"]), Value::Null);
    assert_eq!(node.fail("setban", &["127.0.0.0/8", "remove"]).code, -30);
    // The banned peer's slot is free once the node has let go of it.
    wait_for("the banned peer to be gone", DEADLINE, || {
        (node.rpc("getconnectioncount", &[]) == 0).then_some(())
    });
    let mut welcome = RawPeer::connect(node.p2p_port);
    welcome.handshake();
    welcome.ping(1, None);
    node.rpc("setban", &["10.0.0.1", "add"]);
    assert_eq!(node.rpc("clearbanned", &[]), Value::Null);
    assert!(bans(&node).is_empty(), "clearbanned left bans");
}

#[test]
fn addnode_rpc_keeps_a_node_connected() {
    let a = peer_node("max_outbound = 0");
    let b = peer_node("max_outbound = 0");
    let a_addr = a.p2p_addr();
    assert_eq!(b.rpc("addnode", &[&a_addr, "add"]), Value::Null);
    let seen = wait_peer(&b, "b to connect to a", |p| p["addr"] == a_addr.as_str());
    assert_eq!(seen["connection_type"], "manual");
    assert_eq!(b.fail("addnode", &[&a_addr, "add"]).code, -23);
    assert_eq!(b.rpc("addnode", &[&a_addr, "remove"]), Value::Null);
    assert_eq!(b.fail("addnode", &[&a_addr, "remove"]).code, -24);
    assert_eq!(b.fail("addnode", &[&a_addr, "sideways"]).code, -1);
}

#[test]
fn discovery_finds_nodes_that_peers_then_connect_to() {
    let discovery_node = |discovery: &str| {
        listening_node(
            &["chain", "peers", "discovery", "rpc"],
            &format!("[discovery]\n{discovery}\n"),
            "discovery listening on",
        )
    };
    let a = discovery_node("");
    let a_addr = a.p2p_addr();
    let b = discovery_node(&format!("bootstrap = [\"{a_addr}\"]"));
    // Neither profile names the other in [peers]: the connection comes from discovery.
    // Discovery takes a bootstrap round trip and a lookup before the dial: a loaded
    // machine gets the start-up deadline.
    let seen = wait_for("b to connect to the node it discovered", START, || {
        b.peer_info()
            .into_iter()
            .find(|p| p["addr"] == a_addr.as_str())
    });
    assert_eq!(seen["connection_type"], "outbound-full-relay");
    // `a` found `b` too, unless `b`'s connection came first: `b` said in its `version`
    // where it listens, and a node is not dialled twice.
    let b_addr = b.p2p_addr();
    wait_for("a to list b", START, || {
        a.peer_info()
            .into_iter()
            .find(|p| p["addr"] == b_addr.as_str() || p["inbound"] == true)
    });
}

/// Regtest blocks on genesis built by the test, independent of any node: one that pays
/// its coinbase more than the subsidy and one whose merkle root does not match its
/// transactions. Both have valid headers (proof of work, bits, time).
fn invalid_blocks_on_genesis() -> Vec<(&'static str, Block)> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = ChainState::open(
        &tmp.path().join("chain"),
        regtest(),
        ChainOptions::default(),
        |_| {},
    )
    .expect("a scratch chain state");
    let base = Builder::new(&state);
    let wallet = Wallet::new(7);
    let overpaying = base
        .clone()
        .next_block_paying(&wallet, Vec::new(), regtest().subsidy(1) + 1);
    let mut bad_merkle = base.clone().next_block(&wallet, Vec::new());
    bad_merkle.header.merkle_root = Hash256([9; 32]);
    let limit = regtest().pow_limit();
    while check_proof_of_work(&bad_merkle.header.hash(), bad_merkle.header.bits, &limit).is_err() {
        bad_merkle.header.nonce += 1;
    }
    vec![
        ("a coinbase paying more than the subsidy", overpaying),
        ("a bad merkle root", bad_merkle),
    ]
}

#[test]
fn a_peer_sending_an_invalid_block_is_dropped_while_other_peers_keep_syncing() {
    let node = TestNode::start(&[]);
    let other = TestNode::start(&[format!("peers.connect=[\"{}\"]", node.p2p_addr())]);
    let link = |n: &TestNode| n.peer_info().first().map(|p| p["id"].clone());
    let link_before = wait_for("the other node to connect", DEADLINE, || link(&other));

    for (what, block) in invalid_blocks_on_genesis() {
        let mut raw = RawPeer::connect(node.p2p_port);
        raw.handshake();
        raw.send(&Message::Block(block.into()));
        assert!(
            raw.closed_by_node(),
            "a peer sending {what} stayed connected"
        );
    }
    assert_eq!(node.height(), 0, "an invalid block became the tip");
    assert!(
        bans(&node).is_empty(),
        "a loopback peer is disconnected, not banned"
    );
    let log = node.process.log();
    assert!(log.contains("peer sent invalid data"), "{log}");

    // The node and its other peer keep working: blocks mined on either side after that
    // reach the other one over the same connection.
    let address = node.text("getnewaddress", &[]);
    node.generate(1, &address);
    same_tip(&[&node, &other], 1);
    other.generate(1, &address);
    same_tip(&[&node, &other], 2);
    assert_eq!(
        link(&other),
        Some(link_before),
        "the good peer was disconnected"
    );
}

#[test]
fn taken_peer_and_discovery_ports_stop_the_node_with_an_error_naming_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Held by the test for the whole run: a TCP port, and a UDP port whose TCP number is
    // free (the node must get past its TCP bind to fail at the UDP one).
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let tcp_port = tcp.local_addr().expect("tcp addr").port();
    let udp = std::iter::repeat_with(|| {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("udp addr").port();
        std::net::TcpListener::bind(("127.0.0.1", port))
            .is_ok()
            .then_some(udp)
    })
    .flatten()
    .next()
    .expect("a UDP port with its TCP number free");
    let udp_port = udp.local_addr().expect("udp addr").port();
    for (port, module, message) in [
        (tcp_port, "peers", "cannot listen for peers on"),
        (
            udp_port,
            "discovery",
            "cannot bind the discovery UDP socket on",
        ),
    ] {
        let profile = write_profile(
            tmp.path(),
            &format!("{module}.toml"),
            &modules_profile(
                &["chain", "peers", "discovery"],
                &format!("[peers]\nlisten = \"127.0.0.1:{port}\"\n"),
            ),
        );
        let datadir = tmp.path().join(module);
        let out = node_output(
            &[
                "--profile",
                profile.to_str().expect("utf-8 path"),
                "--datadir",
                datadir.to_str().expect("utf-8 path"),
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started on a taken port: {stderr}");
        let expected = format!("module \"{module}\" failed to start: {message} 127.0.0.1:{port}: ");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(stderr.contains("in use"), "{stderr}");
    }
}
