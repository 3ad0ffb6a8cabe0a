//! The running module in-process: a [`Peers`] on 127.0.0.1 with a fresh regtest chain,
//! and peers played over sockets by the tests.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use node_api::chain::{ChainSpec, Hash256};
use node_api::{ChainView, EventBus, TaskSpawner};
use node_api::{PeerAdmin, PeerInventory, PeerMessaging};
use node_chain_state::{ChainOptions, LocalChain};
use node_p2p::{
    encode_frame, AddrEntry, Inventory, Message, MessageCodec, NetAddress, PeerEvent, PeerInfo,
    Topic, VersionMessage, PROTOCOL_VERSION,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::PeersConfig;
use crate::peers::{Peers, SUBSCRIPTION_CAPACITY};
use crate::util::lock;

const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    peers: Arc<Peers>,
    events: EventBus,
    cancel: CancellationToken,
    tasks: TaskTracker,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(tweak: impl FnOnce(&mut PeersConfig)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let spec = ChainSpec::by_name("regtest").unwrap();
        let chain: Arc<dyn ChainView> = LocalChain::open(
            &dir.path().join("chain"),
            spec.clone(),
            ChainOptions::default(),
            |_| {},
        )
        .unwrap();
        Harness::start_on(chain, dir, tweak).await
    }

    /// A harness on a chain the test opened in `dir`.
    async fn start_on(
        chain: Arc<dyn ChainView>,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut PeersConfig),
    ) -> Harness {
        let spec = chain.spec();
        let mut config = PeersConfig {
            listen: Some("127.0.0.1:0".into()),
            ..PeersConfig::default()
        };
        tweak(&mut config);
        let settings = config.resolve(Some(&spec)).unwrap();
        let listener = TcpListener::bind(settings.listen).await.unwrap();
        let local = listener.local_addr().unwrap();
        let events = EventBus::default();
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let spawner = TaskSpawner::detached("peers", tasks.clone(), cancel.clone());
        let peers = Peers::new(settings, chain, events.clone(), spawner.clone(), local);
        spawner.spawn(
            "accept",
            crate::module::accept_loop(Arc::clone(&peers), listener),
        );
        spawner.spawn("outbound manager", crate::manager::run(Arc::clone(&peers)));
        Harness {
            peers,
            events,
            cancel,
            tasks,
            _dir: dir,
        }
    }

    async fn raw(&self) -> Raw {
        Raw::connect(self.peers.local_addr(), self.peers.magic()).await
    }

    /// Stops everything and checks that every task ended.
    async fn stop(self) {
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout(WAIT, self.tasks.wait())
            .await
            .expect("every task ends on cancel");
    }
}

/// A peer played by the test.
struct Raw {
    frames: FramedRead<OwnedReadHalf, MessageCodec>,
    write: OwnedWriteHalf,
    magic: [u8; 4],
}

impl Raw {
    async fn connect(addr: std::net::SocketAddr, magic: [u8; 4]) -> Raw {
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        Raw {
            frames: FramedRead::new(read, MessageCodec::new(magic, 4_000_000)),
            write,
            magic,
        }
    }

    async fn send(&mut self, message: &Message) {
        self.write
            .write_all(&encode_frame(self.magic, message))
            .await
            .unwrap();
    }

    /// The next message; `None` when the node closed the connection.
    async fn recv(&mut self) -> Option<Message> {
        let next = tokio::time::timeout(WAIT, self.frames.next())
            .await
            .expect("the node sends something in time");
        next.and_then(Result::ok).map(|r| r.message.unwrap())
    }

    /// The first message `wanted` accepts, skipping others.
    async fn recv_until(&mut self, wanted: impl Fn(&Message) -> bool) -> Message {
        loop {
            let message = self.recv().await.expect("connection open");
            if wanted(&message) {
                return message;
            }
        }
    }

    /// Everything received before the pong of a ping sent now: what the node queued for
    /// us before this call (its writer keeps queue order).
    async fn drain(&mut self, nonce: u64) -> Vec<Message> {
        self.send(&Message::Ping(nonce)).await;
        let mut before = Vec::new();
        loop {
            match self.recv().await.expect("connection open") {
                Message::Pong(n) if n == nonce => return before,
                Message::Ping(_) => {}
                other => before.push(other),
            }
        }
    }

    async fn handshake(&mut self) {
        self.handshake_as("0.0.0.0:0".parse().unwrap()).await;
    }

    /// The handshake, claiming to listen on `listen`.
    async fn handshake_as(&mut self, listen: std::net::SocketAddr) {
        let unspecified = NetAddress {
            services: 0,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        self.send(&Message::Version(VersionMessage {
            version: PROTOCOL_VERSION,
            services: 0,
            timestamp: 0,
            receiver: unspecified,
            sender: NetAddress {
                services: 0,
                addr: listen,
            },
            nonce: rand::random(),
            user_agent: "/test/".into(),
            start_height: 0,
            relay: true,
        }))
        .await;
        self.recv_until(|m| *m == Message::Verack).await;
        self.send(&Message::Verack).await;
    }

    /// Whether the node closes the connection in time, whatever it sends first.
    async fn closed(&mut self) -> bool {
        let wait = async { while let Some(Ok(_)) = self.frames.next().await {} };
        tokio::time::timeout(WAIT, wait).await.is_ok()
    }
}

async fn connected(events: &mut tokio::sync::broadcast::Receiver<PeerEvent>) -> PeerInfo {
    loop {
        match tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            PeerEvent::Connected(info) => return info,
            PeerEvent::Disconnected { .. } => {}
        }
    }
}

fn tx_inv(byte: u8) -> Inventory {
    Inventory::tx(Hash256([byte; 32]))
}

#[tokio::test]
async fn announcements_skip_peers_that_have_the_object_and_inv_is_split() {
    let h = Harness::start(|_| {}).await;
    let mut events = h.events.subscribe::<PeerEvent>();
    let mut txs = h.peers.subscribe(Topic::InvTx);
    let mut blocks = h.peers.subscribe(Topic::InvBlock);
    let mut x = h.raw().await;
    x.handshake().await;
    let x_id = connected(&mut events).await.id;
    let mut y = h.raw().await;
    y.handshake().await;
    let y_id = connected(&mut events).await.id;

    let block = Inventory::block(Hash256([9; 32]));
    x.send(&Message::Inv(vec![tx_inv(1), block])).await;
    let (from, message) = txs.recv().await.unwrap();
    assert_eq!((from, &*message), (x_id, &Message::Inv(vec![tx_inv(1)])));
    let (_, message) = blocks.recv().await.unwrap();
    assert_eq!(*message, Message::Inv(vec![block]));
    assert!(h.peers.knows(x_id, &tx_inv(1).hash));
    assert!(!h.peers.knows(y_id, &tx_inv(1).hash));

    let inv = |missing: &[Hash256]| {
        Some(Arc::new(Message::Inv(
            missing.iter().map(|h| Inventory::tx(*h)).collect(),
        )))
    };
    let hashes = [tx_inv(1).hash, tx_inv(2).hash];
    assert_eq!(h.peers.announce(&hashes, &mut |_, missing| inv(missing)), 2);
    // x sent us tx 1, so it only hears of tx 2; y hears of both.
    let to_x = x.drain(1).await;
    assert!(to_x.contains(&Message::Inv(vec![tx_inv(2)])), "{to_x:?}");
    let echoed = |m: &Message| matches!(m, Message::Inv(items) if items.contains(&tx_inv(1)));
    assert!(!to_x.iter().any(echoed), "echoed back: {to_x:?}");
    let to_y = y.drain(1).await;
    assert!(
        to_y.contains(&Message::Inv(vec![tx_inv(1), tx_inv(2)])),
        "{to_y:?}"
    );
    // Nobody lacks them any more: nothing is sent twice.
    assert_eq!(h.peers.announce(&hashes, &mut |_, missing| inv(missing)), 0);
    assert_eq!(h.peers.broadcast(Message::Inv(vec![tx_inv(3)])), 2);
    assert_eq!(h.peers.announce(&[tx_inv(3).hash], &mut |_, m| inv(m)), 0);

    drop(x);
    match tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        PeerEvent::Disconnected { id, reason, .. } => {
            assert_eq!(id, x_id);
            // Whichever of the node's tasks notices first says why.
            let noticed = ["closed by the peer", "write failed", "reset"];
            assert!(noticed.iter().any(|n| reason.contains(n)), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.peers.peers().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_slow_subscriber_loses_nothing_and_each_subscriber_gets_a_copy() {
    let h = Harness::start(|_| {}).await;
    let mut slow = h.peers.subscribe(Topic::Ping);
    let mut other = h.peers.subscribe(Topic::Ping);
    let mut x = h.raw().await;
    x.handshake().await;
    let count = SUBSCRIPTION_CAPACITY as u64 * 3;
    for nonce in 0..count {
        x.send(&Message::Ping(nonce)).await;
    }
    // Both channels fill up; the peer's reader waits instead of dropping.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for nonce in 0..count {
        let (_, message) = slow.recv().await.unwrap();
        assert_eq!(*message, Message::Ping(nonce));
        let (_, message) = other.recv().await.unwrap();
        assert_eq!(*message, Message::Ping(nonce));
    }
    // A dropped subscriber stops getting copies without blocking anyone.
    drop(other);
    x.send(&Message::Ping(count)).await;
    assert_eq!(*slow.recv().await.unwrap().1, Message::Ping(count));
    h.stop().await;
}

#[tokio::test]
async fn silent_peers_time_out() {
    let h = Harness::start(|c| {
        c.handshake_timeout_secs = 1;
        c.ping_interval_secs = 1;
        c.ping_timeout_secs = 1;
    })
    .await;
    let mut events = h.events.subscribe::<PeerEvent>();
    let mut mute = h.raw().await;
    assert!(mute.closed().await, "no handshake, yet still connected");

    let mut deaf = h.raw().await;
    deaf.handshake().await;
    // Never answers the node's pings.
    assert!(deaf.closed().await, "no pong, yet still connected");
    connected(&mut events).await;
    match tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        PeerEvent::Disconnected { reason, .. } => {
            assert!(reason.contains("ping timeout"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    h.stop().await;
}

#[tokio::test]
async fn a_connection_to_ourselves_is_dropped_and_remembered() {
    // Listening on every interface, the node cannot tell 127.0.0.1 is itself but by nonce.
    let h = Harness::start(|c| c.listen = Some("0.0.0.0:0".into())).await;
    let own = std::net::SocketAddr::from(([127, 0, 0, 1], h.peers.local_addr().port()));
    h.peers.connect(own);
    tokio::time::timeout(WAIT, async {
        while !lock(&h.peers.state).book.is_own(&own) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the self-connection is detected");
    assert!(!h.peers.add_candidate(own), "never offered again");
    assert!(h.peers.peers().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn with_connect_set_no_other_address_is_dialled() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let candidate = listener.local_addr().unwrap();
    let h = Harness::start(|c| c.connect = vec!["127.0.0.1:9".into()]).await;
    assert!(h.peers.add_candidate(candidate));
    crate::manager::fill(&h.peers);
    assert!(lock(&h.peers.state).dialing.is_empty());
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "dialled an address outside `connect`");
    h.stop().await;

    let h = Harness::start(|_| {}).await;
    assert!(h.peers.add_candidate(candidate));
    crate::manager::fill(&h.peers);
    let accepted = tokio::time::timeout(WAIT, listener.accept()).await;
    assert!(
        accepted.is_ok(),
        "free outbound slots are filled from the book"
    );
    h.stop().await;
}

#[tokio::test]
async fn too_many_garbage_messages_are_misbehaviour() {
    let h = Harness::start(|_| {}).await;
    let mut x = h.raw().await;
    x.handshake().await;
    let mut corrupt = encode_frame(h.peers.magic(), &Message::Ping(1)).to_vec();
    corrupt[20] ^= 0xff;
    for _ in 0..10 {
        x.write.write_all(&corrupt).await.unwrap();
    }
    assert!(x
        .drain(2)
        .await
        .iter()
        .all(|m| !matches!(m, Message::Pong(1))));
    x.write.write_all(&corrupt).await.unwrap();
    assert!(x.closed().await, "the 11th bad message is one too many");
    h.stop().await;
}

#[tokio::test]
async fn a_node_connected_inbound_is_not_dialled_again() {
    let h = Harness::start(|_| {}).await;
    let mut events = h.events.subscribe::<PeerEvent>();
    let listen: std::net::SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let mut x = h.raw().await;
    x.handshake_as(listen).await;
    connected(&mut events).await;
    // Its own advertisement, as a node sends after the handshake.
    x.send(&Message::Addr(vec![AddrEntry {
        time: 0,
        services: 1,
        addr: listen,
    }]))
    .await;
    x.drain(1).await;
    assert_eq!(h.peers.known_addresses(), 1);
    crate::manager::fill(&h.peers);
    assert!(
        lock(&h.peers.state).dialing.is_empty(),
        "dialled a connected node"
    );
    h.stop().await;
}

/// A block of about `bytes` bytes (one transaction with a large output script) on an
/// unknown parent: decodable, never valid.
fn fat_block(bytes: usize, tag: u8) -> node_api::chain::Block {
    use node_api::chain::{Block, BlockHeader, OutPoint, Transaction, TxIn, TxOut};
    let tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::null(),
            script_sig: vec![tag; 4],
            sequence: 0,
        }],
        outputs: vec![TxOut {
            value: 0,
            script_pubkey: vec![tag; bytes - 150],
        }],
        lock_time: 0,
    };
    Block {
        header: BlockHeader {
            version: 1,
            prev_block: Hash256([tag; 32]),
            merkle_root: Hash256([tag; 32]),
            time: 1,
            bits: 0x207f_ffff,
            nonce: 0,
        },
        txs: vec![tx],
    }
}

#[tokio::test]
async fn a_peer_is_not_read_while_its_messages_are_held_over_the_receive_buffer() {
    let h = Harness::start(|c| c.receive_buffer_bytes = 1_000_000).await;
    let mut blocks = h.peers.subscribe(Topic::Block);
    let mut x = h.raw().await;
    x.handshake().await;
    let count = 40;
    // Frames of a little over 190,000 bytes: five stay under 1,000,000, six cross it.
    let size = 190_000;
    // Sent from a task of its own: once the node stops reading, the writes block.
    let magic = h.peers.magic();
    let sender = tokio::spawn(async move {
        for tag in 0..count {
            let frame = encode_frame(magic, &Message::Block(fat_block(size, tag).into()));
            if x.write.write_all(&frame).await.is_err() {
                break;
            }
        }
        x
    });
    // Five blocks fit under the buffer and the sixth crosses it: the reader then waits,
    // though the subscription channel has room for 64.
    let held = |rx: &tokio::sync::mpsc::Receiver<_>| rx.len();
    tokio::time::timeout(WAIT, async {
        while held(&blocks) < 6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first blocks arrive");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(held(&blocks), 6, "read past the receive buffer");
    // Letting go of them resumes reading; nothing is lost.
    for tag in 0..count {
        let (_, message) = tokio::time::timeout(WAIT, blocks.recv())
            .await
            .unwrap()
            .unwrap();
        let Message::Block(block) = &*message else {
            panic!("{message:?}")
        };
        assert_eq!(block.header.prev_block, Hash256([tag; 32]));
    }
    drop(sender.await.unwrap());

    // A block over the chain's size limit ends the connection on its header.
    let mut y = h.raw().await;
    y.handshake().await;
    let limit = ChainSpec::by_name("regtest").unwrap().max_block_size as u32;
    let mut header = h.peers.magic().to_vec();
    header.extend_from_slice(b"block\0\0\0\0\0\0\0");
    header.extend_from_slice(&(limit + 1).to_le_bytes());
    header.extend_from_slice(&[0; 4]);
    y.write.write_all(&header).await.unwrap();
    assert!(y.closed().await, "an oversized block was read");
    h.stop().await;
}

#[tokio::test]
async fn getdata_is_served_only_while_little_is_queued() {
    let h = Harness::start(|_| {}).await;
    let pause = PeersConfig::default().getdata_pause_bytes;
    let mut x = h.raw().await;
    x.handshake().await;
    let genesis = ChainSpec::by_name("regtest").unwrap().genesis_hash();
    // 150,000 genesis blocks asked for (about 43 MB) and none read: more than the
    // kernel's socket buffers take, so the rest waits in the node.
    for _ in 0..3 {
        x.send(&Message::GetData(vec![
            Inventory::block(genesis);
            node_p2p::MAX_INV
        ]))
        .await;
    }
    let peer = tokio::time::timeout(WAIT, async {
        loop {
            let found = h.peers.all_peers().into_iter().next();
            if let Some(peer) = found.filter(|p| p.queued_bytes() >= pause) {
                return peer;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the queue fills up to the pause");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let block = 24 + 300;
    assert!(
        peer.queued_bytes() <= pause + block,
        "{} bytes queued",
        peer.queued_bytes()
    );
    assert!(!peer.cancel.is_cancelled(), "a slow reader is not dropped");
    h.stop().await;
}

#[tokio::test]
async fn filter_requests_before_the_index_has_caught_up_get_no_answer_as_in_core() {
    use node_chain_state::testing::{Builder, Wallet};
    use node_p2p::{FilterReply, FilterRequest, NODE_COMPACT_FILTERS};

    let dir = tempfile::tempdir().unwrap();
    let spec = ChainSpec::by_name("regtest").unwrap();
    let path = dir.path().join("chain");
    {
        let chain = LocalChain::open(&path, spec.clone(), ChainOptions::default(), |_| {}).unwrap();
        let mut builder = Builder::new(chain.state());
        for _ in 0..3 {
            let block = builder.next_block(&Wallet::new(1), vec![]);
            chain.state().accept_block(&block).unwrap();
        }
    }
    let options = ChainOptions {
        block_filter_index: true,
        ..ChainOptions::default()
    };
    let chain = LocalChain::open(&path, spec, options, |_| {}).unwrap();
    let state = chain.state().clone();
    assert!(!chain.filter_index_info().unwrap().synced);
    let tip = chain.tip().hash;
    let harness = Harness::start_on(chain, dir, |_| {}).await;
    assert_ne!(harness.peers.local_services() & NODE_COMPACT_FILTERS, 0);
    let mut raw = harness.raw().await;
    raw.handshake().await;
    let request = FilterRequest::GetCFilters {
        filter_type: 0,
        start_height: 0,
        stop_hash: tip,
    };
    raw.send(&request.message()).await;
    let before = raw.drain(1).await;
    assert!(
        !before.iter().any(|m| m.command() == "cfilter"),
        "no filter before the index has them: {before:?}"
    );
    // Built: the same request is answered, on the same connection.
    while !state.build_filter_index_batch().unwrap().unwrap().synced {}
    raw.send(&request.message()).await;
    let answers: Vec<FilterReply> = raw
        .drain(2)
        .await
        .into_iter()
        .filter_map(|m| match m {
            Message::Unknown { command, payload } => {
                FilterReply::decode(command.as_str(), &payload).map(Result::unwrap)
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 4, "genesis and three blocks");
    harness.stop().await;
}
