//! One connection: a reader task (handshake, then every inbound message) and a writer task
//! (the send queue and the pings), both tracked on the module's task tracker and both
//! ending when the connection's cancellation token fires, which the module's own token,
//! a disconnect, a misbehaviour or either task's failure triggers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use node_api::PeerService;
use node_p2p::{
    ConnectionType, Message, MessageCodec, PayloadError, Received, MIN_PEER_VERSION,
    SENDHEADERS_VERSION,
};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;

use crate::addrbook::canonical;
use crate::peer::{Outgoing, Peer, Remote};
use crate::peers::Peers;

/// Undecodable messages (bad checksum, bad command, malformed payload) tolerated per
/// connection; the next one is misbehaviour.
const MAX_GARBAGE: u32 = 10;
/// How often the writer checks whether a ping is due or overdue.
const PING_CHECK: Duration = Duration::from_secs(1);

type Frames = FramedRead<OwnedReadHalf, MessageCodec>;

/// Takes over a TCP stream: registers the connection and spawns its two tasks. An inbound
/// connection over `max_inbound` is closed at once.
pub(crate) fn start(
    peers: &Arc<Peers>,
    stream: TcpStream,
    kind: ConnectionType,
    target: Option<String>,
) {
    let Ok(addr) = stream.peer_addr().map(canonical) else {
        return;
    };
    let local_addr = stream
        .local_addr()
        .map(canonical)
        .unwrap_or(peers.local_addr());
    // Small messages (pings, inv) should leave at once, not wait for more to batch with.
    let _ = stream.set_nodelay(true);
    let Some((peer, rx)) = peers.register(addr, local_addr, kind, target) else {
        return;
    };
    tracing::debug!(peer = %peer.id, %addr, kind = kind.as_str(), "connection opened");
    let (read, write) = stream.into_split();
    peers.spawner.spawn(
        "connection writer",
        write_loop(Arc::clone(peers), Arc::clone(&peer), write, rx),
    );
    peers.spawner.spawn(
        "connection reader",
        read_loop(Arc::clone(peers), peer, read),
    );
}

async fn write_loop(
    peers: Arc<Peers>,
    peer: Arc<Peer>,
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut tick = tokio::time::interval(PING_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = peer.cancel.cancelled() => break,
            out = rx.recv() => {
                let Some(out) = out else { break };
                let written = tokio::select! {
                    () = peer.cancel.cancelled() => break,
                    written = write.write_all(&out.frame) => written,
                };
                if let Err(e) = written {
                    peer.close(format!("write failed: {e}"));
                    break;
                }
                peer.record_sent(out.frame.len(), &out.command);
            }
            _ = tick.tick() => check_ping(&peers, &peer, false),
            () = peer.ping_now.notified() => check_ping(&peers, &peer, true),
        }
    }
}

/// Sends a ping when one is due (or `forced` by the `ping` RPC); disconnects a peer whose
/// ping went unanswered for `ping_timeout`.
fn check_ping(peers: &Peers, peer: &Peer, forced: bool) {
    if !peer.is_ready() {
        return;
    }
    let now = Instant::now();
    let settings = &peers.settings;
    if peer.ping_overdue(now, settings.ping_timeout) {
        peer.close(format!(
            "ping timeout: no pong within {}s",
            settings.ping_timeout.as_secs()
        ));
    } else if let Some(nonce) = peer.ping_due(now, settings.ping_interval, forced) {
        let _ = peers.send_to(peer, &Message::Ping(nonce));
    }
}

async fn read_loop(peers: Arc<Peers>, peer: Arc<Peer>, read: OwnedReadHalf) {
    let codec = MessageCodec::new(peers.settings.magic, peers.settings.max_message_bytes);
    let mut frames = FramedRead::new(read, codec);
    let timeout = peers.settings.handshake_timeout;
    match tokio::time::timeout(timeout, handshake(&peers, &peer, &mut frames)).await {
        Err(_) => peer.close(format!(
            "handshake not completed within {}s",
            timeout.as_secs()
        )),
        Ok(None) => {}
        Ok(Some(remote)) => {
            peer.set_remote(remote);
            peers.on_ready(&peer);
            after_handshake(&peers, &peer);
            while let Some(received) = next(&peer, &mut frames).await {
                match received.message {
                    Ok(message) => handle(&peers, &peer, message).await,
                    Err(error) => {
                        garbage(&peers, &peer, &error);
                    }
                }
            }
        }
    }
    if peers.cancel.is_cancelled() {
        peer.close("node stopping");
    } else {
        peer.close("connection closed");
    }
    peers.unregister(&peer);
}

/// The next frame, or `None` when the connection ended (the reason is recorded).
async fn next(peer: &Peer, frames: &mut Frames) -> Option<Received> {
    let item = tokio::select! {
        biased;
        () = peer.cancel.cancelled() => return None,
        item = frames.next() => item,
    };
    match item {
        None => {
            peer.close("connection closed by the peer");
            None
        }
        Some(Err(error)) => {
            tracing::debug!(peer = %peer.id, addr = %peer.addr, %error, "dropping connection");
            peer.close(error.to_string());
            None
        }
        Some(Ok(received)) => {
            peer.record_received(received.bytes, &received.command);
            Some(received)
        }
    }
}

/// Counts a message we could not use; a protocol violation, or one too many, is
/// misbehaviour. Returns whether the connection goes on.
fn garbage(peers: &Peers, peer: &Peer, error: &PayloadError) -> bool {
    if error.is_misbehaviour() {
        peers.punish(peer, &error.to_string());
        return false;
    }
    let count = peer.garbage.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::debug!(peer = %peer.id, addr = %peer.addr, %error, count, "dropping message");
    if count > MAX_GARBAGE {
        peers.punish(
            peer,
            &format!("{count} undecodable messages, the last: {error}"),
        );
        return false;
    }
    true
}

/// version/verack. The outbound side speaks first; each side answers `version` with its
/// own (inbound) and a `verack`. Unknown commands are ignored throughout; any other
/// message before `version` is misbehaviour; between `version` and `verack` other
/// messages are ignored, as Bitcoin Core does. Returns the peer's `version`, or `None`
/// with the connection closed.
async fn handshake(peers: &Peers, peer: &Peer, frames: &mut Frames) -> Option<Remote> {
    let inbound = peer.kind == ConnectionType::Inbound;
    if !inbound {
        let _ = peers.send_to(peer, &peers.version_for(peer));
    }
    let mut remote: Option<Remote> = None;
    loop {
        let received = next(peer, frames).await?;
        let message = match received.message {
            Ok(message) => message,
            Err(error) => {
                if garbage(peers, peer, &error) {
                    continue;
                }
                return None;
            }
        };
        match message {
            Message::Version(version) => {
                if remote.is_some() {
                    peers.punish(peer, "duplicate version message");
                    return None;
                }
                if version.version < MIN_PEER_VERSION {
                    peer.close(format!(
                        "obsolete protocol version {} (at least {MIN_PEER_VERSION})",
                        version.version
                    ));
                    return None;
                }
                if inbound && peers.is_own_nonce(version.nonce) {
                    peer.close("connected to ourselves");
                    return None;
                }
                if inbound {
                    let _ = peers.send_to(peer, &peers.version_for(peer));
                }
                let _ = peers.send_to(peer, &Message::Verack);
                remote = Some(Remote::from_version(&version, peer.addr));
            }
            Message::Verack => match remote {
                Some(remote) => return Some(remote),
                None => {
                    peers.punish(peer, "verack before version");
                    return None;
                }
            },
            Message::Unknown { command, .. } => {
                tracing::trace!(peer = %peer.id, %command, "ignoring unknown command");
            }
            other if remote.is_none() => {
                peers.punish(peer, &format!("{} before version", other.command()));
                return None;
            }
            other => {
                tracing::debug!(peer = %peer.id, command = other.command(), "ignoring a message before verack");
            }
        }
    }
}

/// What we tell a peer once it is ready: that we prefer headers announcements, that we
/// want addresses (outbound only, as Bitcoin Core), and where we can be reached.
fn after_handshake(peers: &Peers, peer: &Peer) {
    let Some(remote) = peer.remote() else { return };
    if remote.version >= SENDHEADERS_VERSION {
        let _ = peers.send_to(peer, &Message::SendHeaders);
    }
    if peer.kind != ConnectionType::Inbound {
        let _ = peers.send_to(peer, &Message::GetAddr);
    }
    if let Some(entry) = peers.self_advertisement(peer, remote) {
        let _ = peers.send_to(peer, &Message::Addr(vec![entry]));
    }
}

/// Acts on one message after the handshake, then hands it to the subscribers.
async fn handle(peers: &Peers, peer: &Peer, message: Message) {
    match &message {
        Message::Version(_) => {
            peers.punish(peer, "duplicate version message");
            return;
        }
        Message::Verack => return,
        Message::Unknown { command, .. } => {
            tracing::trace!(peer = %peer.id, %command, "ignoring unknown command");
            return;
        }
        Message::Ping(nonce) => {
            peers.queue_wait(peer, &Message::Pong(*nonce)).await;
        }
        Message::Pong(nonce) => peer.pong(*nonce, Instant::now()),
        Message::SendHeaders => peer.sendheaders.store(true, Ordering::Relaxed),
        Message::GetAddr => peers.serve_getaddr(peer).await,
        Message::Addr(entries) => peers.learn_addresses(peer, entries),
        Message::GetHeaders(request) => peers.serve_getheaders(peer, request).await,
        Message::GetData(items) => peers.serve_getdata(peer, items).await,
        Message::Inv(_) | Message::Tx(_) | Message::Block(_) | Message::Headers(_) => {
            for hash in message.inventory_hashes() {
                peers.note_known(peer, &hash);
            }
        }
        Message::NotFound(_) => {}
    }
    peers.deliver(peer, message).await;
}
