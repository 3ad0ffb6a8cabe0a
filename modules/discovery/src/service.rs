//! The running node: the public [`Discovery`] handle, the receive loop that answers the five
//! procedures, and the rule that a node enters the table only after answering our ping.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{DiscoveryConfig, K};
use crate::error::DiscoveryError;
use crate::kademlia_rpc::KademliaRpc;
use crate::node_id::{Contact, NodeId};
use crate::rate_limit::RateLimiter;
use crate::routing::{Insert, RoutingTable};
use crate::store::ValueStore;
use crate::util::{canonical, lock, usable};
use crate::wire::{self, Kind, Request, Response, MAX_DATAGRAM};

/// Announcements kept for a slow subscriber before it starts missing some.
const ANNOUNCE_CAPACITY: usize = 256;

/// State shared by the receive loop, spawned tasks and every [`Discovery`] clone.
pub(crate) struct Shared {
    pub(crate) id: NodeId,
    pub(crate) local_addr: SocketAddr,
    pub(crate) config: DiscoveryConfig,
    pub(crate) table: Mutex<RoutingTable>,
    /// The socket: our calls and our answers.
    pub(crate) rpc: KademliaRpc,
    pub(crate) refreshing: AtomicBool,
    store: Mutex<ValueStore>,
    limiter: Mutex<RateLimiter>,
    verifying: Mutex<HashSet<SocketAddr>>,
    announce: broadcast::Sender<SocketAddr>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// A running discovery node. Clones share it; it stops when the cancellation token given
/// to [`Discovery::start`] fires.
#[derive(Clone)]
pub struct Discovery {
    shared: Arc<Shared>,
}

impl Discovery {
    /// Binds the UDP socket and spawns the node: the receive loop, the bootstrap from
    /// `config.bootstrap`, and the bucket refresh every `config.refresh_interval`. The
    /// returned task ends, after every task it spawned, once `cancel` fires.
    pub async fn start(
        config: DiscoveryConfig,
        cancel: CancellationToken,
    ) -> Result<(Discovery, JoinHandle<()>), DiscoveryError> {
        let socket =
            UdpSocket::bind(config.listen)
                .await
                .map_err(|source| DiscoveryError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let id = config.node_id.unwrap_or_else(NodeId::random);
        let limits = &config.limits;
        let rpc = KademliaRpc::new(id, socket, config.request_timeout, limits.max_in_flight)
            .map_err(DiscoveryError::LocalAddr)?;
        let local_addr = rpc.local_addr();
        let now = Instant::now();
        let shared = Arc::new(Shared {
            id,
            local_addr,
            rpc,
            table: Mutex::new(RoutingTable::new(id, K, limits.per_subnet, now)),
            refreshing: AtomicBool::new(false),
            store: Mutex::new(ValueStore::new(
                limits.max_values,
                limits.max_value_bytes,
                limits.value_ttl,
            )),
            limiter: Mutex::new(RateLimiter::new(
                limits.requests_per_second,
                limits.request_burst,
                limits.max_rate_sources,
            )),
            verifying: Mutex::new(HashSet::new()),
            announce: broadcast::channel(ANNOUNCE_CAPACITY).0,
            cancel,
            tracker: TaskTracker::new(),
            config,
        });
        tracing::debug!(%id, %local_addr, "discovery listening");
        let task = tokio::spawn(Arc::clone(&shared).run());
        Ok((Discovery { shared }, task))
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.shared.id
    }

    /// The bound UDP address (with the port picked when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Every contact in the routing table. Each has answered a ping.
    pub fn contacts(&self) -> Vec<Contact> {
        lock(&self.shared.table).contacts()
    }

    /// The address of each contact newly added to the table from now on; the node accepts
    /// TCP data connections on the same address. Call [`Discovery::contacts`] after
    /// subscribing for the ones added before.
    pub fn subscribe(&self) -> broadcast::Receiver<SocketAddr> {
        self.shared.announce.subscribe()
    }

    /// An iterative lookup (alpha = 3): the up to k = 20 answering nodes nearest `target`.
    /// Empty once discovery has shut down.
    pub async fn lookup(&self, target: NodeId) -> Vec<Contact> {
        let lookup = self.shared.lookup(target, Vec::new());
        self.shared
            .cancel
            .run_until_cancelled(lookup)
            .await
            .unwrap_or_default()
    }

    /// Pings each address, adds those that answer, then looks up our own id through them.
    /// Returns how many answered.
    pub async fn bootstrap(&self, addrs: &[SocketAddr]) -> usize {
        let bootstrap = self.shared.bootstrap(addrs);
        self.shared
            .cancel
            .run_until_cancelled(bootstrap)
            .await
            .unwrap_or(0)
    }

    /// Pings `addr` and returns its id; a node that answers is offered to the table.
    pub async fn ping(&self, addr: SocketAddr) -> Result<NodeId, DiscoveryError> {
        let ping = async {
            let id = self.shared.call_ping(addr).await?;
            self.shared
                .admit(Contact {
                    id,
                    addr: canonical(addr),
                })
                .await;
            Ok(id)
        };
        self.shared
            .cancel
            .run_until_cancelled(ping)
            .await
            .unwrap_or(Err(DiscoveryError::ShutDown))
    }
}

impl Shared {
    async fn run(self: Arc<Self>) {
        if !self.config.bootstrap.is_empty() {
            let shared = Arc::clone(&self);
            self.spawn(async move {
                let addrs = shared.config.bootstrap.clone();
                shared.bootstrap(&addrs).await;
            });
        }
        // tokio's interval panics on zero, and a tiny one would only spin.
        let interval = self.config.refresh_interval.max(Duration::from_millis(100));
        let mut refresh =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One byte over the limit, so an oversized datagram is seen as such, not truncated.
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => break,
                received = self.rpc.recv(&mut buf) => match received {
                    Ok((len, from)) => self.on_datagram(&buf[..len], from).await,
                    Err(error) => tracing::debug!(%error, "discovery receive failed"),
                },
                _ = refresh.tick() => {
                    let shared = Arc::clone(&self);
                    self.spawn(async move { shared.refresh().await });
                }
            }
        }
        self.tracker.close();
        self.tracker.wait().await;
        tracing::debug!(id = %self.id, "discovery stopped");
    }

    /// Spawns a task that ends when discovery is cancelled, and is waited for on shutdown.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            cancel.run_until_cancelled(task).await;
        });
    }

    async fn on_datagram(self: &Arc<Self>, datagram: &[u8], from: SocketAddr) {
        let frame = match wire::split(datagram) {
            Ok(frame) => frame,
            Err(error) => return tracing::trace!(%from, %error, "dropping datagram"),
        };
        if frame.kind == Kind::Response {
            return self.rpc.complete(frame.id, from, frame.payload);
        }
        if !lock(&self.limiter).allow(from.ip(), Instant::now()) {
            return tracing::trace!(%from, "request over the rate limit");
        }
        let request = match wire::decode_payload(frame.payload).and_then(Request::from_value) {
            Ok(request) => request,
            Err(error) => return tracing::debug!(%from, %error, "refusing request"),
        };
        let response = self.serve(request, from);
        self.rpc.answer(&frame.id, from, &response).await;
    }

    /// Answers a request the way the Python package does, with our bounds.
    fn serve(self: &Arc<Self>, request: Request, from: SocketAddr) -> Response {
        let now = Instant::now();
        match request {
            Request::Ping { sender } => {
                self.consider(sender, from);
                Response::Id(self.id)
            }
            Request::Stun => Response::Address(from),
            Request::FindNode { sender, key } => {
                self.consider(sender, from);
                Response::Contacts(lock(&self.table).closest(&key, K, Some(from)))
            }
            Request::FindValue { sender, key } => {
                self.consider(sender, from);
                match lock(&self.store).get(&key, now) {
                    Some(value) => Response::Value(value),
                    None => Response::Contacts(lock(&self.table).closest(&key, K, Some(from))),
                }
            }
            Request::Store { sender, key, value } => {
                self.consider(sender, from);
                Response::Stored(lock(&self.store).put(key, value, now))
            }
        }
    }

    /// A node claiming `claimed` spoke to us, or answered a lookup, from `addr`. Known
    /// contacts count as seen; others are pinged first (the Python package inserts them at
    /// once, so anyone could fill its table with forged ids and addresses).
    pub(crate) fn consider(self: &Arc<Self>, claimed: NodeId, addr: SocketAddr) {
        if claimed == self.id || addr == self.local_addr {
            return;
        }
        if lock(&self.table).mark_seen(&Contact { id: claimed, addr }) {
            return;
        }
        if !usable(addr) {
            return;
        }
        {
            let mut verifying = lock(&self.verifying);
            if verifying.len() >= self.config.limits.max_verifying || !verifying.insert(addr) {
                return;
            }
        }
        let shared = Arc::clone(self);
        self.spawn(async move {
            // The id the node answers with, not the one claimed, is what enters the table.
            if let Ok(id) = shared.call_ping(addr).await {
                shared.admit(Contact { id, addr }).await;
            }
            lock(&shared.verifying).remove(&addr);
        });
    }

    /// Inserts a contact that has just answered our ping. If its bucket is full, the least
    /// recently seen contact keeps its place unless it fails a ping.
    pub(crate) async fn admit(&self, contact: Contact) {
        let outcome = lock(&self.table).insert(contact, Instant::now());
        let incumbent = match outcome {
            Insert::Added => return self.announce(contact),
            Insert::Contested { incumbent } => incumbent,
            Insert::Refreshed | Insert::SubnetFull | Insert::Own => return,
        };
        if matches!(self.call_ping(incumbent.addr).await, Ok(id) if id == incumbent.id) {
            lock(&self.table).mark_seen(&incumbent);
            return;
        }
        let added = {
            let mut table = lock(&self.table);
            table.remove(&incumbent);
            table.insert(contact, Instant::now()) == Insert::Added
        };
        if added {
            self.announce(contact);
        }
    }

    fn announce(&self, contact: Contact) {
        tracing::debug!(id = %contact.id, addr = %contact.addr, "new discovery contact");
        // No subscribers is fine: contacts() still lists it.
        let _ = self.announce.send(contact.addr);
    }

    /// Pings `addr`; its answer is its id. A node that stays silent leaves the table.
    pub(crate) async fn call_ping(&self, addr: SocketAddr) -> Result<NodeId, DiscoveryError> {
        let answer = self.rpc.ping(addr).await;
        self.forget_if_silent(answer)
    }

    /// Asks `addr` for the contacts it knows nearest `key`. A node that stays silent
    /// leaves the table.
    pub(crate) async fn call_find_node(
        &self,
        addr: SocketAddr,
        key: NodeId,
    ) -> Result<Vec<Contact>, DiscoveryError> {
        let answer = self.rpc.find_node(addr, key).await;
        self.forget_if_silent(answer)
    }

    /// Drops a node that did not answer in time from the table, as the Python package
    /// does.
    fn forget_if_silent<T>(&self, answer: Result<T, DiscoveryError>) -> Result<T, DiscoveryError> {
        if let Err(DiscoveryError::Timeout { addr, .. }) = &answer {
            if lock(&self.table).remove_addr(*addr) > 0 {
                tracing::debug!(%addr, "dropping a silent node from the routing table");
            }
        }
        answer
    }
}

#[cfg(test)]
mod tests;
