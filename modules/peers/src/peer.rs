//! One connection's shared state: who the peer is (after the handshake), its send queue and
//! byte budget, its traffic counters, its ping, and the inventory it is known to have.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use node_p2p::{ConnectionType, Message, PeerId, PeerInfo, VersionMessage};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio_util::sync::CancellationToken;

use crate::error::PeersError;
use crate::inventory::KnownInventory;
use crate::util::{lock, unix_now};

/// What the peer told us in its `version`.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    pub(crate) version: i32,
    pub(crate) services: u64,
    pub(crate) user_agent: String,
    pub(crate) start_height: i32,
    pub(crate) relay: bool,
    pub(crate) time_offset: i64,
    /// Our address as the peer sees it.
    pub(crate) seen_as: SocketAddr,
    /// Where the peer accepts connections, from its `version` sender address: its port,
    /// at the IP it connects from (a claim of another IP is ignored).
    pub(crate) listen: Option<SocketAddr>,
}

impl Remote {
    pub(crate) fn from_version(v: &VersionMessage, from: SocketAddr) -> Remote {
        let sender = v.sender.addr;
        let same_host = sender.ip().is_unspecified() || sender.ip().to_canonical() == from.ip();
        let listen =
            (sender.port() != 0 && same_host).then(|| SocketAddr::new(from.ip(), sender.port()));
        Remote {
            listen,
            version: v.version,
            services: v.services,
            user_agent: v.user_agent.clone(),
            start_height: v.start_height,
            relay: v.relay,
            time_offset: v.timestamp.saturating_sub(unix_now() as i64),
            seen_as: v.receiver.addr,
        }
    }
}

/// A frame waiting in a peer's send queue, holding its share of the byte budget.
pub(crate) struct Outgoing {
    pub(crate) frame: Bytes,
    pub(crate) command: String,
    _budget: OwnedSemaphorePermit,
}

#[derive(Debug, Default)]
struct PingState {
    in_flight: Option<(u64, Instant)>,
    last_sent: Option<Instant>,
    last: Option<Duration>,
    min: Option<Duration>,
}

#[derive(Debug, Default)]
struct Counters {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    last_send: AtomicU64,
    last_recv: AtomicU64,
}

/// Bytes per command, sent and received, for `getpeerinfo`.
#[derive(Debug, Default, Clone)]
pub(crate) struct PerCommand {
    pub(crate) sent: BTreeMap<String, u64>,
    pub(crate) received: BTreeMap<String, u64>,
}

/// At most this many distinct commands are counted per direction; others go under
/// Bitcoin Core's `*other*`, so a peer cannot grow the map with made-up commands.
const MAX_COUNTED_COMMANDS: usize = 32;

pub(crate) struct Peer {
    pub(crate) id: PeerId,
    pub(crate) addr: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    pub(crate) kind: ConnectionType,
    /// The `connect`/`addnode` entry this connection serves, if any.
    pub(crate) target: Option<String>,
    pub(crate) connected_at: u64,
    pub(crate) cancel: CancellationToken,
    /// Our `version` nonce on this connection.
    pub(crate) nonce: u64,
    queue: mpsc::UnboundedSender<Outgoing>,
    budget: Arc<Semaphore>,
    budget_max: u32,
    remote: OnceLock<Remote>,
    pub(crate) sendheaders: AtomicBool,
    pub(crate) answered_getaddr: AtomicBool,
    pub(crate) garbage: AtomicU32,
    pub(crate) ping_now: Notify,
    counters: Counters,
    per_command: Mutex<PerCommand>,
    ping: Mutex<PingState>,
    known: Mutex<KnownInventory>,
    reason: Mutex<Option<String>>,
    /// Messages of this peer handed to subscribers, with their size on the wire, until
    /// every subscriber has dropped them (see [`Peer::held_bytes`]).
    held: Mutex<VecDeque<(Arc<Message>, usize)>>,
    /// Fired when the writer has written a frame (queued bytes went down).
    pub(crate) drained: Notify,
    /// When the peer last sent a block and a transaction (unix seconds, 0: never), for
    /// eviction.
    pub(crate) last_block: AtomicU64,
    pub(crate) last_tx: AtomicU64,
}

/// How a new connection is set up.
pub(crate) struct PeerSetup {
    pub(crate) id: PeerId,
    pub(crate) addr: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    pub(crate) kind: ConnectionType,
    pub(crate) target: Option<String>,
    pub(crate) cancel: CancellationToken,
    pub(crate) send_buffer_bytes: usize,
    pub(crate) known_inventory: usize,
}

impl Peer {
    pub(crate) fn new(setup: PeerSetup) -> (Arc<Peer>, mpsc::UnboundedReceiver<Outgoing>) {
        let (queue, rx) = mpsc::unbounded_channel();
        let budget_max = u32::try_from(setup.send_buffer_bytes).unwrap_or(u32::MAX);
        let peer = Peer {
            id: setup.id,
            addr: setup.addr,
            local_addr: setup.local_addr,
            kind: setup.kind,
            target: setup.target,
            connected_at: unix_now(),
            cancel: setup.cancel,
            nonce: rand::random(),
            queue,
            budget: Arc::new(Semaphore::new(budget_max as usize)),
            budget_max,
            remote: OnceLock::new(),
            sendheaders: AtomicBool::new(false),
            answered_getaddr: AtomicBool::new(false),
            garbage: AtomicU32::new(0),
            ping_now: Notify::new(),
            counters: Counters::default(),
            per_command: Mutex::new(PerCommand::default()),
            ping: Mutex::new(PingState::default()),
            known: Mutex::new(KnownInventory::new(setup.known_inventory)),
            reason: Mutex::new(None),
            held: Mutex::new(VecDeque::new()),
            drained: Notify::new(),
            last_block: AtomicU64::new(0),
            last_tx: AtomicU64::new(0),
        };
        (Arc::new(peer), rx)
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.remote.get().is_some()
    }

    pub(crate) fn remote(&self) -> Option<&Remote> {
        self.remote.get()
    }

    pub(crate) fn set_remote(&self, remote: Remote) {
        // Set once, by the reader, when the handshake completes.
        let _ = self.remote.set(remote);
    }

    /// Ends the connection; the first reason given is the one reported.
    pub(crate) fn close(&self, reason: impl Into<String>) {
        lock(&self.reason).get_or_insert_with(|| reason.into());
        self.cancel.cancel();
    }

    pub(crate) fn reason(&self) -> String {
        lock(&self.reason)
            .clone()
            .unwrap_or_else(|| "node stopping".to_string())
    }

    fn permits(&self, frame: &Bytes) -> u32 {
        // A frame larger than the whole budget (not possible with checked settings)
        // takes all of it rather than waiting forever.
        u32::try_from(frame.len())
            .unwrap_or(u32::MAX)
            .min(self.budget_max)
    }

    /// Queues a frame without waiting. A peer whose budget is spent is not reading: it is
    /// disconnected.
    pub(crate) fn try_send(&self, frame: Bytes, command: &str) -> Result<(), PeersError> {
        let permit = match Arc::clone(&self.budget).try_acquire_many_owned(self.permits(&frame)) {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                self.close("send buffer full: the peer does not read");
                return Err(PeersError::SendBufferFull(self.id));
            }
            Err(TryAcquireError::Closed) => return Err(PeersError::NotConnected(self.id)),
        };
        self.push(frame, command, permit)
    }

    /// Queues a frame, waiting for room in the budget (back-pressure on whoever serves
    /// this peer). False if the connection ended first.
    pub(crate) async fn send_wait(&self, frame: Bytes, command: &str) -> bool {
        let acquire = Arc::clone(&self.budget).acquire_many_owned(self.permits(&frame));
        let permit = tokio::select! {
            _ = self.cancel.cancelled() => return false,
            permit = acquire => match permit {
                Ok(permit) => permit,
                Err(_) => return false,
            },
        };
        self.push(frame, command, permit).is_ok()
    }

    fn push(
        &self,
        frame: Bytes,
        command: &str,
        permit: OwnedSemaphorePermit,
    ) -> Result<(), PeersError> {
        self.queue
            .send(Outgoing {
                frame,
                command: command.to_string(),
                _budget: permit,
            })
            .map_err(|_| PeersError::NotConnected(self.id))
    }

    /// Bytes queued for this peer and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        (self.budget_max as usize).saturating_sub(self.budget.available_permits())
    }

    /// Waits until at most `limit` bytes are queued for this peer (Bitcoin Core stops
    /// serving `getdata` while its send buffer is over 1 MB). False if the connection
    /// ended first.
    pub(crate) async fn wait_queued_below(&self, limit: usize) -> bool {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.queued_bytes() <= limit {
                return true;
            }
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = drained => {}
            }
        }
    }

    /// Records a message handed to subscribers: it counts against the peer's receive
    /// buffer until every copy is dropped.
    pub(crate) fn hold(&self, message: Arc<Message>, bytes: usize) {
        lock(&self.held).push_back((message, bytes));
    }

    /// Bytes (as sent on the wire) of this peer's messages that a subscriber still holds,
    /// in its channel or at work. Messages no one holds any more are forgotten here; the
    /// scan is over a few entries at most, since the reader stops once the sum is over
    /// its limit.
    pub(crate) fn held_bytes(&self) -> usize {
        let mut held = lock(&self.held);
        held.retain(|(message, _)| Arc::strong_count(message) > 1);
        held.iter().map(|(_, bytes)| bytes).sum()
    }

    /// Bytes (sent, received) so far.
    pub(crate) fn bytes(&self) -> (u64, u64) {
        (
            self.counters.bytes_sent.load(Ordering::Relaxed),
            self.counters.bytes_received.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn record_sent(&self, bytes: usize, command: &str) {
        let c = &self.counters;
        c.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
        c.messages_sent.fetch_add(1, Ordering::Relaxed);
        c.last_send.store(unix_now(), Ordering::Relaxed);
        count(&mut lock(&self.per_command).sent, command, bytes);
    }

    /// Bytes read from the socket, counted as they arrive (a message's bytes are all
    /// counted here before [`Peer::record_received`] sees the message).
    pub(crate) fn record_arrived(&self, bytes: usize) {
        self.counters
            .bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A whole message arrived: counted per command.
    pub(crate) fn record_received(&self, bytes: usize, command: &str) {
        let c = &self.counters;
        c.messages_received.fetch_add(1, Ordering::Relaxed);
        c.last_recv.store(unix_now(), Ordering::Relaxed);
        count(&mut lock(&self.per_command).received, command, bytes);
    }

    pub(crate) fn per_command(&self) -> PerCommand {
        lock(&self.per_command).clone()
    }

    pub(crate) fn knows(&self, key: u64) -> bool {
        lock(&self.known).contains(key)
    }

    pub(crate) fn learn(&self, keys: impl IntoIterator<Item = u64>) {
        let mut known = lock(&self.known);
        for key in keys {
            known.insert(key);
        }
    }

    /// The nonce of a ping to send now, if one is due (or `forced`) and none is in flight.
    pub(crate) fn ping_due(&self, now: Instant, interval: Duration, forced: bool) -> Option<u64> {
        let mut ping = lock(&self.ping);
        if ping.in_flight.is_some() {
            return None;
        }
        let due = forced
            || ping
                .last_sent
                .is_none_or(|t| now.duration_since(t) >= interval);
        if !due {
            return None;
        }
        let nonce = rand::random();
        ping.in_flight = Some((nonce, now));
        ping.last_sent = Some(now);
        Some(nonce)
    }

    /// Whether the ping in flight has waited longer than `timeout`.
    pub(crate) fn ping_overdue(&self, now: Instant, timeout: Duration) -> bool {
        lock(&self.ping)
            .in_flight
            .is_some_and(|(_, sent)| now.duration_since(sent) > timeout)
    }

    /// Records a `pong`; one that matches no ping in flight is ignored, as Bitcoin Core
    /// does.
    pub(crate) fn pong(&self, nonce: u64, now: Instant) {
        let mut ping = lock(&self.ping);
        match ping.in_flight {
            Some((expected, sent)) if expected == nonce => {
                let rtt = now.duration_since(sent);
                ping.in_flight = None;
                ping.last = Some(rtt);
                ping.min = Some(ping.min.map_or(rtt, |m| m.min(rtt)));
            }
            _ => {}
        }
    }

    /// The fastest round trip measured, if any (for eviction).
    pub(crate) fn min_ping(&self) -> Option<Duration> {
        lock(&self.ping).min
    }

    /// The peer as `getpeerinfo` shows it; `None` before the handshake completes.
    pub(crate) fn info(&self) -> Option<PeerInfo> {
        let remote = self.remote.get()?;
        let c = &self.counters;
        let ping = lock(&self.ping);
        Some(PeerInfo {
            id: self.id,
            addr: self.addr,
            local_addr: self.local_addr,
            connection_type: self.kind,
            inbound: self.kind == ConnectionType::Inbound,
            version: remote.version,
            services: remote.services,
            user_agent: remote.user_agent.clone(),
            start_height: remote.start_height,
            relay: remote.relay,
            sendheaders: self.sendheaders.load(Ordering::Relaxed),
            connected_at: self.connected_at,
            time_offset: remote.time_offset,
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
            messages_sent: c.messages_sent.load(Ordering::Relaxed),
            messages_received: c.messages_received.load(Ordering::Relaxed),
            last_send: c.last_send.load(Ordering::Relaxed),
            last_recv: c.last_recv.load(Ordering::Relaxed),
            ping_time: ping.last,
            min_ping: ping.min,
            ping_wait: ping.in_flight.map(|(_, sent)| sent.elapsed()),
        })
    }
}

fn count(map: &mut BTreeMap<String, u64>, command: &str, bytes: usize) {
    let key = if map.contains_key(command) || map.len() < MAX_COUNTED_COMMANDS {
        command
    } else {
        "*other*"
    };
    *map.entry(key.to_string()).or_default() += bytes as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(budget: usize) -> (Arc<Peer>, mpsc::UnboundedReceiver<Outgoing>) {
        Peer::new(PeerSetup {
            id: PeerId(1),
            addr: "10.0.0.1:1".parse().unwrap(),
            local_addr: "10.0.0.2:2".parse().unwrap(),
            kind: ConnectionType::Inbound,
            target: None,
            cancel: CancellationToken::new(),
            send_buffer_bytes: budget,
            known_inventory: 10,
        })
    }

    #[test]
    fn a_peer_that_does_not_read_is_disconnected() {
        let (peer, mut rx) = peer(100);
        peer.try_send(Bytes::from(vec![0; 60]), "a").unwrap();
        let err = peer.try_send(Bytes::from(vec![0; 60]), "b").unwrap_err();
        assert!(matches!(err, PeersError::SendBufferFull(PeerId(1))));
        assert!(peer.cancel.is_cancelled());
        assert!(peer.reason().contains("send buffer full"));
        // Written frames give their budget back.
        drop(rx.try_recv().unwrap());
        assert_eq!(peer.budget.available_permits(), 100);
    }

    #[tokio::test]
    async fn serving_waits_for_room_instead() {
        let (peer, mut rx) = peer(100);
        assert!(peer.send_wait(Bytes::from(vec![0; 60]), "a").await);
        let waiting = {
            let peer = Arc::clone(&peer);
            tokio::spawn(async move { peer.send_wait(Bytes::from(vec![0; 60]), "b").await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(rx.recv().await.unwrap());
        assert!(waiting.await.unwrap());
        assert_eq!(rx.recv().await.unwrap().command, "b");
    }

    #[test]
    fn pings_are_timed_and_overdue_ones_noticed() {
        let (peer, _rx) = peer(100);
        let start = Instant::now();
        let interval = Duration::from_secs(60);
        let nonce = peer.ping_due(start, interval, false).unwrap();
        assert!(
            peer.ping_due(start, interval, true).is_none(),
            "one in flight"
        );
        assert!(!peer.ping_overdue(start + Duration::from_secs(30), Duration::from_secs(30)));
        assert!(peer.ping_overdue(start + Duration::from_secs(31), Duration::from_secs(30)));
        peer.pong(nonce ^ 1, start + Duration::from_millis(5));
        assert!(peer.ping_overdue(start + Duration::from_secs(31), Duration::from_secs(30)));
        peer.pong(nonce, start + Duration::from_millis(7));
        assert!(!peer.ping_overdue(start + Duration::from_secs(31), Duration::from_secs(30)));
        assert!(peer
            .ping_due(start + Duration::from_secs(1), interval, false)
            .is_none());
        assert!(peer.ping_due(start + interval, interval, false).is_some());
    }

    #[test]
    fn command_counts_are_bounded() {
        let (peer, _rx) = peer(100);
        for i in 0..100 {
            peer.record_received(10, &format!("c{i}"));
        }
        let counts = peer.per_command();
        assert_eq!(counts.received.len(), MAX_COUNTED_COMMANDS + 1);
        assert_eq!(
            counts.received["*other*"],
            10 * (100 - MAX_COUNTED_COMMANDS as u64)
        );
    }
}
