//! The driver with each strategy against one fake peer that serves a source chain: the
//! whole download path (headers, `getdata`, blocks into the chain) without sockets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_api::chain::{ChainEvent, ChainSpec, Hash256};
use node_api::p2p::{ConnectionType, Message, PeerId, PeerInfo, Topic, MAX_HEADERS, NODE_NETWORK};
use node_api::{
    ChainView, ChainWriter, EventBus, MakeAnnouncement, PeerAdmin, PeerInventory, PeerMessaging,
};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, LocalChain};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::driver::{Driver, Inbox};
use crate::headers_first::{HeadersFirst, HeadersFirstConfig};
use node_api::{SyncStrategy, STRATEGY};

const PEER: PeerId = PeerId(7);
const BLOCKS: u32 = 40;
const DEADLINE: Duration = Duration::from_secs(30);

/// Where the driver hears one topic.
type Inbound = mpsc::Sender<(PeerId, Arc<Message>)>;

/// One connected peer: what the driver sends it is queued for the test, and the test
/// delivers its answers to the driver's subscriptions.
struct FakePeers {
    info: PeerInfo,
    inboxes: Mutex<HashMap<Topic, Inbound>>,
    sent: mpsc::UnboundedSender<Message>,
}

impl FakePeers {
    fn deliver(&self, topic: Topic, message: Message) -> Option<()> {
        let inbox = self.inboxes.lock().unwrap().get(&topic).cloned()?;
        inbox.try_send((PEER, Arc::new(message))).ok()
    }
}

impl PeerMessaging for FakePeers {
    fn subscribe(&self, topic: Topic) -> mpsc::Receiver<(PeerId, Arc<Message>)> {
        let (tx, rx) = mpsc::channel(1024);
        self.inboxes.lock().unwrap().insert(topic, tx);
        rx
    }
    fn has_subscribers(&self, topic: Topic) -> bool {
        self.inboxes.lock().unwrap().contains_key(&topic)
    }
    fn send(&self, peer: PeerId, message: Message) -> Result<(), String> {
        assert_eq!(peer, PEER);
        self.sent.send(message).map_err(|e| e.to_string())
    }
    fn broadcast(&self, _message: Message) -> usize {
        unimplemented!("sync never broadcasts")
    }
    fn peers(&self) -> Vec<PeerInfo> {
        vec![self.info.clone()]
    }
    fn peer(&self, id: PeerId) -> Option<PeerInfo> {
        (id == PEER).then(|| self.info.clone())
    }
}

impl PeerInventory for FakePeers {
    fn announce(&self, _hashes: &[Hash256], _make: &mut MakeAnnouncement<'_>) -> usize {
        unimplemented!("sync never announces")
    }
    fn knows(&self, _peer: PeerId, _hash: &Hash256) -> bool {
        false
    }
    fn mark_known(&self, _peer: PeerId, _hashes: &[Hash256]) {}
}

impl PeerAdmin for FakePeers {
    fn connection_count(&self) -> usize {
        1
    }
    fn misbehaving(&self, peer: PeerId, reason: &str) {
        panic!("peer {peer} judged misbehaving: {reason}");
    }
    fn disconnect(&self, _peer: PeerId) -> bool {
        false
    }
    fn add_candidate(&self, _addr: SocketAddr) -> bool {
        false
    }
    fn local_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }
}

fn peer_info(height: u32) -> PeerInfo {
    let addr = SocketAddr::from(([127, 0, 0, 1], 18444));
    PeerInfo {
        id: PEER,
        addr,
        local_addr: addr,
        connection_type: ConnectionType::Outbound,
        inbound: false,
        version: node_api::p2p::PROTOCOL_VERSION,
        services: NODE_NETWORK,
        user_agent: "/fake/".to_string(),
        start_height: height as i32,
        relay: true,
        sendheaders: true,
        connected_at: 0,
        time_offset: 0,
        bytes_sent: 0,
        bytes_received: 0,
        messages_sent: 0,
        messages_received: 0,
        last_send: 0,
        last_recv: 0,
        ping_time: None,
        min_ping: None,
        ping_wait: None,
    }
}

/// Answers `getheaders` and `getdata` from `source`, as a peer would; with `stall_once`,
/// except the first `getdata`, which it leaves unanswered as a slow peer would.
async fn serve(
    source: Arc<LocalChain>,
    peers: Arc<FakePeers>,
    mut sent: mpsc::UnboundedReceiver<Message>,
    mut stall_once: bool,
) {
    while let Some(message) = sent.recv().await {
        match message {
            Message::GetData(_) if stall_once => stall_once = false,
            Message::GetHeaders(request) => {
                let headers = source.headers_after(&request.locator, &request.stop, MAX_HEADERS);
                peers.deliver(Topic::Headers, Message::Headers(headers));
            }
            Message::GetData(items) => {
                for item in items {
                    let block = source
                        .block(&item.hash)
                        .unwrap()
                        .expect("a block of the source");
                    peers.deliver(Topic::Block, Message::Block(block.into()));
                }
            }
            other => panic!("unexpected message to the peer: {other:?}"),
        }
    }
}

async fn syncs_with(strategy: &str) {
    let built = STRATEGY.build_default(strategy).unwrap();
    syncs_from_one_peer(strategy, built, false).await;
}

async fn syncs_from_one_peer(strategy: &str, built: Box<dyn SyncStrategy>, stall_once: bool) {
    let dir = tempfile::tempdir().unwrap();
    let spec = ChainSpec::by_name("regtest").unwrap();
    let source = LocalChain::open(
        &dir.path().join("source"),
        spec.clone(),
        ChainOptions::default(),
        |_| {},
    )
    .unwrap();
    let mut builder = Builder::new(source.state());
    let miner = Wallet::new(1);
    for _ in 0..BLOCKS {
        source
            .accept_block(&builder.next_block(&miner, vec![]))
            .unwrap();
    }
    let (height_tx, mut height) = watch::channel(0);
    let sink = LocalChain::open(
        &dir.path().join("sink"),
        spec,
        ChainOptions::default(),
        move |e| {
            if let ChainEvent::TipChanged { height, .. } = e {
                height_tx.send_replace(height);
            }
        },
    )
    .unwrap();

    let (sent_tx, sent_rx) = mpsc::unbounded_channel();
    let peers = Arc::new(FakePeers {
        info: peer_info(BLOCKS),
        inboxes: Mutex::default(),
        sent: sent_tx,
    });
    // Kept to the end: the driver treats a closed bus as a failure.
    let bus = EventBus::default();
    let inbox = Inbox::subscribe(&*peers, &bus);
    let driver = Driver::new(sink.clone(), sink.clone(), peers.clone(), built, None);
    let cancel = CancellationToken::new();
    let running = tokio::spawn(driver.run(inbox, cancel.clone()));
    let server = tokio::spawn(serve(source.clone(), peers.clone(), sent_rx, stall_once));

    tokio::time::timeout(DEADLINE, height.wait_for(|h| *h == BLOCKS))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{strategy}: sink at height {} after {DEADLINE:?}",
                sink.tip().height
            )
        })
        .unwrap();
    assert_eq!(sink.tip().hash, source.tip().hash);
    cancel.cancel();
    assert_eq!(running.await.unwrap(), Ok(()));
    server.abort();
    drop(bus);
}

#[tokio::test]
async fn headers_first_downloads_the_peers_chain() {
    syncs_with("headers-first").await;
}

#[tokio::test]
async fn poll_downloads_the_peers_chain() {
    syncs_with("poll").await;
}

/// A block request the only peer leaves unanswered is asked of it again after the stall
/// timeout: with no other peer to ask, avoiding it for good stopped the sync.
#[tokio::test]
async fn headers_first_asks_its_only_peer_again_after_a_stall() {
    let config = HeadersFirstConfig {
        stall_timeout_secs: 1,
        ..HeadersFirstConfig::default()
    };
    syncs_from_one_peer("headers-first", Box::new(HeadersFirst::new(config)), true).await;
}
