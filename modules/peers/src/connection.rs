//! One connection: a reader task (handshake, then every inbound message) and a writer task
//! (the send queue and the pings), both tracked on the module's task tracker and both
//! ending when the connection's cancellation token fires, which the module's own token,
//! a disconnect, a misbehaviour or either task's failure triggers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use node_api::PeerAdmin;
use node_p2p::{
    ConnectionType, FilterRequest, Message, MessageCodec, PayloadError, Received, BLOCKTXN_COMMAND,
    BLOCK_COMMAND, CMPCTBLOCK_COMMAND, MIN_PEER_VERSION, SENDHEADERS_VERSION, TX_COMMAND,
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
/// How often a paused reader looks whether subscribers have let go of enough.
const RECEIVE_PAUSE_POLL: Duration = Duration::from_millis(10);
/// How often the writer checks whether a ping is due or overdue.
const PING_CHECK: Duration = Duration::from_secs(1);
/// Frames up to this size leave the read buffer as it is; after a larger one, the room
/// made for it is given back.
const READ_BUFFER_KEEP: usize = 64 * 1024;
/// The room a fresh read buffer starts with (the framing's own default).
const READ_BUFFER_START: usize = 8 * 1024;

type Frames = FramedRead<CountingReader, MessageCodec>;

/// The read half of a connection, counting bytes as they arrive rather than per decoded
/// message (as Bitcoin Core's `bytesrecv` does): a large block shows progress before its
/// last byte, which is how the sync tells a slow peer from a stalled one.
struct CountingReader {
    inner: OwnedReadHalf,
    peer: Arc<Peer>,
}

impl tokio::io::AsyncRead for CountingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            self.peer.record_arrived(buf.filled().len() - before);
        }
        polled
    }
}

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
                peers.metrics.sent(&out.command, out.frame.len());
                // The frame's budget is returned: wake a `getdata` waiting for room.
                drop(out);
                peer.drained.notify_waiters();
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
    let settings = &peers.settings;
    // Neither a block nor a transaction can be larger than the chain's block size limit:
    // a frame claiming more is refused on its header.
    let codec = MessageCodec::new(settings.magic, settings.max_message_bytes)
        .limit_command(BLOCK_COMMAND, settings.max_block_bytes)
        .limit_command(TX_COMMAND, settings.max_block_bytes)
        // A compact block is smaller than its block, and a `blocktxn` carries part of
        // one: neither can be valid past the block size limit.
        .limit_command(CMPCTBLOCK_COMMAND, settings.max_block_bytes)
        .limit_command(BLOCKTXN_COMMAND, settings.max_block_bytes);
    let counted = CountingReader {
        inner: read,
        peer: Arc::clone(&peer),
    };
    let mut frames = FramedRead::new(counted, codec);
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
            while receive_room(&peers, &peer).await {
                let Some(received) = next(&peers, &peer, &mut frames).await else {
                    break;
                };
                release_read_room(&mut frames, received.bytes);
                match received.message {
                    Ok(message) => handle(&peers, &peer, message, received.bytes).await,
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

/// Waits while the peer's messages that subscribers still hold are over
/// `receive_buffer_bytes` (Bitcoin Core pauses reading a peer the same way): the socket
/// is not read, so the peer's sends back up in TCP instead of in our memory. False once
/// the connection ended.
async fn receive_room(peers: &Peers, peer: &Peer) -> bool {
    while peer.held_bytes() > peers.settings.receive_buffer_bytes {
        // Subscribers drop messages without telling anyone: look again shortly.
        tokio::select! {
            () = peer.cancel.cancelled() => return false,
            () = tokio::time::sleep(RECEIVE_PAUSE_POLL) => {}
        }
    }
    !peer.cancel.is_cancelled()
}

/// Gives back the room a large frame made in the read buffer. The codec reserves a whole
/// frame before reading it (up to `max_message_bytes`), and the buffer keeps that
/// allocation for the rest of the connection, even once the frame is split off and its
/// capacity reads 0: beside the decoded message, a peer whose `getdata` of 50,000 items
/// waits on its own unread answers would hold its request twice (1.8 MB on the wire,
/// 2 MB decoded). What was read past the frame is kept, in a buffer of its own.
fn release_read_room(frames: &mut Frames, frame_bytes: usize) {
    if frame_bytes <= READ_BUFFER_KEEP {
        return;
    }
    let buffer = frames.read_buffer_mut();
    let mut fresh = bytes::BytesMut::with_capacity(buffer.len().max(READ_BUFFER_START));
    fresh.extend_from_slice(buffer);
    *buffer = fresh;
}

/// The next frame, or `None` when the connection ended (the reason is recorded).
async fn next(peers: &Peers, peer: &Peer, frames: &mut Frames) -> Option<Received> {
    let item = tokio::select! {
        biased;
        () = peer.cancel.cancelled() => return None,
        item = frames.next() => item,
    };
    match item {
        None => {
            if !peer.is_ready() && peer.kind != ConnectionType::Inbound {
                // A node of another chain drops us at our version's magic, so this is the
                // one sign of it on the dialling side.
                tracing::info!(
                    peer = %peer.id,
                    addr = %peer.addr,
                    "peer {} closed the connection during the handshake: it may be on \
                     another chain (another magic) or refuse us",
                    peer.addr
                );
            }
            peer.close("connection closed by the peer");
            None
        }
        Some(Err(error)) => {
            // A node of another chain dialling in is most often a setup mistake the
            // operator should see; at most one such line per interval, so a stranger
            // reconnecting in a loop cannot flood the log.
            let other_chain = matches!(error, node_p2p::CodecError::BadMagic { .. });
            let oversized = matches!(error, node_p2p::CodecError::Oversized { .. });
            if other_chain && other_chain_log_due() {
                tracing::info!(
                    peer = %peer.id,
                    addr = %peer.addr,
                    "peer {} is on another chain ({error}); dropping it",
                    peer.addr
                );
            } else if oversized && other_chain_log_due() {
                // A block over our chain's limit is refused unread, with the reason a
                // checked one would get: the operator of a node whose spec differs sees why.
                tracing::info!(peer = %peer.id, addr = %peer.addr, "peer sent invalid data ({error}); dropping it");
            } else {
                tracing::debug!(peer = %peer.id, addr = %peer.addr, %error, "dropping connection");
            }
            peer.close(error.to_string());
            None
        }
        Some(Ok(received)) => {
            peer.record_received(received.bytes, &received.command);
            peers.metrics.received(&received.command, received.bytes);
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
        let received = next(peers, peer, frames).await?;
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

/// Acts on one message after the handshake (`bytes` on the wire), then hands it to the
/// subscribers.
async fn handle(peers: &Peers, peer: &Peer, message: Message, bytes: usize) {
    // A `getdata` is served first and handed on as what is left of it for others.
    let message = match message {
        Message::GetData(items) => match peers.serve_getdata(peer, items).await {
            Some(rest) => rest,
            None => return,
        },
        other => other,
    };
    match &message {
        Message::Version(_) => {
            peers.punish(peer, "duplicate version message");
            return;
        }
        Message::Verack => return,
        Message::Unknown { command, payload } => {
            // Decoded whether or not we serve filters: Core answers a request for a
            // service it does not offer by disconnecting, not by ignoring it.
            match FilterRequest::decode(command.as_str(), payload) {
                Some(Ok(request)) => peers.serve_filter_request(peer, request).await,
                Some(Err(source)) => {
                    let error = PayloadError::Malformed {
                        command: "BIP157 request",
                        source,
                    };
                    garbage(peers, peer, &error);
                }
                None => {
                    tracing::trace!(peer = %peer.id, %command, "ignoring unknown command")
                }
            }
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
        Message::Inv(_)
        | Message::Tx(_)
        | Message::Block(_)
        | Message::CmpctBlock(_)
        | Message::Headers(_) => {
            for hash in message.inventory_hashes() {
                peers.note_known(peer, &hash);
            }
            let now = crate::util::unix_now();
            match &message {
                Message::Block(_) | Message::CmpctBlock(_) => {
                    peer.last_block.store(now, Ordering::Relaxed)
                }
                Message::Tx(_) => peer.last_tx.store(now, Ordering::Relaxed),
                _ => {}
            }
        }
        Message::GetData(_)
        | Message::NotFound(_)
        | Message::SendCmpct(_)
        | Message::GetBlockTxn(_)
        | Message::BlockTxn(_) => {}
    }
    peers.deliver(peer, message, bytes).await;
}

/// Whether a line about a peer dropped for what its frames claim (another chain's magic,
/// a block over our size limit) may be logged now: at most one per
/// [`OTHER_CHAIN_LOG_INTERVAL`], so a peer reconnecting in a loop cannot flood the log.
fn other_chain_log_due() -> bool {
    use std::sync::atomic::AtomicU64;
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    (last == 0 || now >= last + OTHER_CHAIN_LOG_INTERVAL.as_secs())
        && LAST
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// The shortest interval between two info lines about nodes of another chain.
const OTHER_CHAIN_LOG_INTERVAL: Duration = Duration::from_secs(10);
