//! The outbound connection manager. Once a second, or when woken (a connection ended,
//! addresses arrived), it dials every persistent target (`connect`, `addnode`, the
//! `addnode` RPC) that is neither connected nor backing off, and, unless `connect` is set,
//! fills up to `max_outbound` automatic connections from the address book.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use node_api::PeerAdmin;
use node_p2p::ConnectionType;

use crate::addrbook::canonical;
use crate::connection;
use crate::peers::{Peers, State};
use crate::util::{lock, unix_now};

/// How often the manager looks for work without being woken.
const TICK: Duration = Duration::from_secs(1);

/// Runs until the module is cancelled.
pub(crate) async fn run(peers: Arc<Peers>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = peers.cancel.cancelled() => return,
            _ = tick.tick() => {}
            () = peers.wake.notified() => {}
        }
        fill(&peers);
    }
}

pub(crate) fn fill(peers: &Arc<Peers>) {
    let now = Instant::now();
    let (targets, addrs) = {
        let mut state = lock(&peers.state);
        let targets: Vec<String> = state
            .targets
            .iter_mut()
            .filter_map(|(text, t)| t.begin(now).then(|| text.clone()))
            .collect();
        let addrs = if peers.settings.connect.is_empty() {
            pick_automatic(peers, &mut state, now)
        } else {
            Vec::new()
        };
        (targets, addrs)
    };
    for target in targets {
        let peers_ = Arc::clone(peers);
        peers.spawner.spawn("dial target", async move {
            let connected = dial(&peers_, &target, Some(target.clone())).await;
            if !connected {
                if let Some(t) = lock(&peers_.state).targets.get_mut(&target) {
                    t.ended(false);
                }
            }
        });
    }
    for addr in addrs {
        let peers_ = Arc::clone(peers);
        peers.spawner.spawn("dial candidate", async move {
            dial_automatic(&peers_, addr).await
        });
    }
}

/// Addresses for the free automatic outbound slots, marked as being dialled.
fn pick_automatic(peers: &Peers, state: &mut State, now: Instant) -> Vec<SocketAddr> {
    let State {
        peers: connections,
        bans,
        book,
        dialing,
        ..
    } = state;
    let open = connections
        .values()
        .filter(|p| p.kind == ConnectionType::Outbound)
        .count();
    let free = peers
        .settings
        .max_outbound
        .saturating_sub(open + dialing.len());
    if free == 0 {
        return Vec::new();
    }
    // Peers we are connected to either way: by the address we dialled, or by the one an
    // inbound peer listens on (no second connection to the same node).
    let connected: HashSet<SocketAddr> = connections
        .values()
        .flat_map(|p| [Some(p.addr), p.remote().and_then(|r| r.listen)])
        .flatten()
        .collect();
    let local = peers.local_addr();
    let unix = unix_now();
    let picked = book.pick(free, now, |addr| {
        connected.contains(addr)
            || dialing.contains(addr)
            || *addr == local
            || bans.is_banned(addr.ip(), unix)
    });
    for addr in &picked {
        book.attempt(addr, now);
        dialing.insert(*addr);
    }
    picked
}

async fn dial_automatic(peers: &Arc<Peers>, addr: SocketAddr) {
    let timeout = peers.settings.handshake_timeout;
    let attempt = tokio::time::timeout(timeout, TcpStream::connect(addr));
    let stream = match peers.cancel.run_until_cancelled(attempt).await {
        Some(Ok(Ok(stream))) => Some(stream),
        Some(Ok(Err(error))) => {
            tracing::debug!(%addr, %error, "outbound connection failed");
            None
        }
        Some(Err(_)) => {
            tracing::debug!(%addr, "outbound connection timed out");
            None
        }
        None => None,
    };
    if let Some(stream) = stream {
        connection::start(peers, stream, ConnectionType::Outbound, None);
    }
    let mut state = lock(&peers.state);
    state.dialing.remove(&addr);
    if !state.peers.values().any(|p| p.addr == addr) {
        state.book.failure(&addr);
    }
}

/// Resolves `target` and connects to the first of its addresses that answers and is not
/// banned, as a manual connection. Returns whether a connection was started.
pub(crate) async fn dial(peers: &Arc<Peers>, target: &str, persistent: Option<String>) -> bool {
    let timeout = peers.settings.handshake_timeout;
    let resolve = tokio::time::timeout(timeout, tokio::net::lookup_host(target.to_string()));
    let addrs: Vec<SocketAddr> = match peers.cancel.run_until_cancelled(resolve).await {
        Some(Ok(Ok(addrs))) => addrs.map(canonical).collect(),
        Some(Ok(Err(error))) => {
            tracing::debug!(target, %error, "cannot resolve peer address");
            return false;
        }
        Some(Err(_)) => {
            tracing::debug!(target, "resolving peer address timed out");
            return false;
        }
        None => return false,
    };
    for addr in addrs {
        if peers.is_banned(addr.ip()) {
            tracing::debug!(target, %addr, "not connecting to a banned address");
            continue;
        }
        let attempt = tokio::time::timeout(timeout, TcpStream::connect(addr));
        match peers.cancel.run_until_cancelled(attempt).await {
            Some(Ok(Ok(stream))) => {
                connection::start(peers, stream, ConnectionType::Manual, persistent);
                return true;
            }
            Some(Ok(Err(error))) => tracing::debug!(target, %addr, %error, "connection failed"),
            Some(Err(_)) => tracing::debug!(target, %addr, "connection timed out"),
            None => return false,
        }
    }
    false
}

impl Peers {
    /// Makes one outbound connection attempt to `addr` (as `addnode ... onetry`).
    pub fn connect(self: &Arc<Self>, addr: SocketAddr) {
        self.onetry(addr.to_string());
    }

    /// One manual connection attempt to `host:port`, not retried.
    pub(crate) fn onetry(self: &Arc<Self>, target: String) {
        let peers = Arc::clone(self);
        self.spawner.spawn("dial once", async move {
            dial(&peers, &target, None).await;
        });
    }
}
