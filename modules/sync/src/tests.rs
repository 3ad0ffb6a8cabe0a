//! The driver with each strategy against one recorded peer that serves a source chain: the
//! whole download path (headers, `getdata`, blocks into the chain) without sockets.

use std::sync::Arc;
use std::time::Duration;

use node_api::chain::{ChainEvent, ChainSpec};
use node_api::p2p::{ConnectionType, Message, PeerId, PeerInfo, Topic, MAX_HEADERS};
use node_api::{ChainView, ChainWriter, EventBus};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, LocalChain};
use node_testkit::RecordingPeers;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::driver::{Driver, Inbox};
use crate::headers_first::{HeadersFirst, HeadersFirstConfig};
use node_api::{SyncStrategy, STRATEGY};

const PEER: PeerId = PeerId(7);
const BLOCKS: u32 = 40;
const DEADLINE: Duration = Duration::from_secs(30);

/// The one peer: outbound, at the source's height.
fn peer_info(height: u32) -> PeerInfo {
    PeerInfo {
        connection_type: ConnectionType::Outbound,
        inbound: false,
        start_height: height as i32,
        ..RecordingPeers::peer(PEER.0, true, true)
    }
}

/// Answers `getheaders` and `getdata` from `source`, as a peer would; with `stall_once`,
/// except the first `getdata`, which it leaves unanswered as a slow peer would.
async fn serve(
    source: Arc<LocalChain>,
    peers: Arc<RecordingPeers>,
    mut sent: mpsc::UnboundedReceiver<(PeerId, Arc<Message>)>,
    mut stall_once: bool,
) {
    while let Some((peer, message)) = sent.recv().await {
        assert_eq!(peer, PEER);
        match &*message {
            Message::GetData(_) if stall_once => stall_once = false,
            Message::GetHeaders(request) => {
                let headers = source.headers_after(&request.locator, &request.stop, MAX_HEADERS);
                peers.deliver(PEER, Topic::Headers, Message::Headers(headers));
            }
            Message::GetData(items) => {
                for item in items {
                    let block = source
                        .block(&item.hash)
                        .unwrap()
                        .expect("a block of the source");
                    peers.deliver(PEER, Topic::Block, Message::Block(block.into()));
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

    let peers = Arc::new(RecordingPeers::with_peers(vec![peer_info(BLOCKS)]));
    let sent_rx = peers.outbox();
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
    assert_eq!(peers.misbehaving_reports(), Vec::new(), "{strategy}");
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
