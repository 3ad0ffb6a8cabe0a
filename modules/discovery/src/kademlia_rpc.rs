//! Kademlia RPC over our UDP socket: our calls (a random message id, the request sent, the
//! answer matched by id and source address, a timeout) and our answers to others' calls.
//! It knows datagrams and procedures, not the routing table: what a silent node means for
//! the table is the caller's business.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use rmpv::Value;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::config::K;
use crate::error::DiscoveryError;
use crate::node_id::{Contact, NodeId};
use crate::util::{canonical, lock};
use crate::wire::{self, Kind, MsgId, Request, Response, Rpc, WireError};

type Answer = Result<Value, WireError>;

struct Pending {
    addr: SocketAddr,
    tx: oneshot::Sender<Answer>,
}

/// The socket, and our requests awaiting answers (bounded).
pub(crate) struct KademliaRpc {
    /// Our id, sent as the sender of every request.
    id: NodeId,
    socket: UdpSocket,
    local_addr: SocketAddr,
    timeout: Duration,
    pending: Mutex<HashMap<MsgId, Pending>>,
    max_in_flight: usize,
}

/// Forgets a call however its future ends (answer, timeout or cancellation).
struct Forget<'a> {
    rpc: &'a KademliaRpc,
    id: MsgId,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.rpc.pending).remove(&self.id);
    }
}

impl KademliaRpc {
    /// Takes over a bound socket; a call waits `timeout` for its answer, and at most
    /// `max_in_flight` wait at once.
    pub(crate) fn new(
        id: NodeId,
        socket: UdpSocket,
        timeout: Duration,
        max_in_flight: usize,
    ) -> io::Result<Self> {
        let local_addr = socket.local_addr()?;
        Ok(KademliaRpc {
            id,
            socket,
            local_addr,
            timeout,
            pending: Mutex::new(HashMap::new()),
            max_in_flight,
        })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next datagram and its (canonical) source.
    pub(crate) async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (len, from) = self.socket.recv_from(buf).await?;
        Ok((len, canonical(from)))
    }

    fn register(
        &self,
        addr: SocketAddr,
    ) -> Result<(MsgId, oneshot::Receiver<Answer>), DiscoveryError> {
        let mut pending = lock(&self.pending);
        if pending.len() >= self.max_in_flight {
            return Err(DiscoveryError::Busy {
                limit: self.max_in_flight,
            });
        }
        let mut id: MsgId = rand::random();
        while pending.contains_key(&id) {
            id = rand::random();
        }
        let (tx, rx) = oneshot::channel();
        pending.insert(id, Pending { addr, tx });
        Ok((id, rx))
    }

    /// Hands a response to its caller. Only the address the request went to may answer
    /// it; anything else is dropped before its payload is parsed.
    pub(crate) fn complete(&self, id: MsgId, from: SocketAddr, payload: &[u8]) {
        let pending = {
            let mut pending = lock(&self.pending);
            match pending.get(&id) {
                Some(p) if p.addr == from => pending.remove(&id),
                _ => None,
            }
        };
        match pending {
            Some(p) => {
                // The caller may have just given up; then nobody needs the answer.
                let _ = p.tx.send(wire::decode_payload(payload));
            }
            None => tracing::trace!(%from, "dropping a response to no request of ours"),
        }
    }

    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Sends `request` to `addr` and waits for the answer, typed by the request.
    pub(crate) async fn call(
        &self,
        addr: SocketAddr,
        request: Request,
    ) -> Result<Response, DiscoveryError> {
        let addr = canonical(addr);
        let rpc = request.rpc();
        let target = self.outbound(addr)?;
        let (id, rx) = self.register(addr)?;
        let _forget = Forget { rpc: self, id };
        let bytes = wire::encode(Kind::Request, &id, &request.to_value())
            .map_err(DiscoveryError::Encode)?;
        self.socket
            .send_to(&bytes, target)
            .await
            .map_err(|source| DiscoveryError::Send { addr, source })?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(body))) => Response::parse(rpc, body, K)
                .map_err(|source| DiscoveryError::BadAnswer { addr, source }),
            Ok(Ok(Err(source))) => Err(DiscoveryError::BadAnswer { addr, source }),
            Ok(Err(_)) => Err(DiscoveryError::ShutDown),
            Err(_) => Err(DiscoveryError::Timeout { addr, timeout }),
        }
    }

    /// Pings `addr`; its answer is its id.
    pub(crate) async fn ping(&self, addr: SocketAddr) -> Result<NodeId, DiscoveryError> {
        match self.call(addr, Request::Ping { sender: self.id }).await? {
            Response::Id(id) => Ok(id),
            _ => Err(unexpected(addr, Rpc::Ping)),
        }
    }

    /// Asks `addr` for the contacts it knows nearest `key`.
    pub(crate) async fn find_node(
        &self,
        addr: SocketAddr,
        key: NodeId,
    ) -> Result<Vec<Contact>, DiscoveryError> {
        let request = Request::FindNode {
            sender: self.id,
            key,
        };
        match self.call(addr, request).await? {
            Response::Contacts(contacts) => Ok(contacts),
            _ => Err(unexpected(addr, Rpc::FindNode)),
        }
    }

    /// Answers the request `id` from `to`. An answer that cannot go out is only logged:
    /// the caller will time out, as with a lost datagram.
    pub(crate) async fn answer(&self, id: &MsgId, to: SocketAddr, response: &Response) {
        let bytes = match wire::encode(Kind::Response, id, &response.to_value()) {
            Ok(bytes) => bytes,
            Err(error) => return tracing::debug!(%to, %error, "cannot encode answer"),
        };
        let target = match self.outbound(to) {
            Ok(target) => target,
            Err(error) => return tracing::debug!(%to, %error, "cannot answer"),
        };
        if let Err(error) = self.socket.send_to(&bytes, target).await {
            tracing::debug!(%to, %error, "sending answer failed");
        }
    }

    /// The address to send to from our socket: IPv4 becomes IPv4-mapped on an IPv6 socket.
    fn outbound(&self, addr: SocketAddr) -> Result<SocketAddr, DiscoveryError> {
        match (self.local_addr.ip(), addr.ip()) {
            (IpAddr::V6(_), IpAddr::V4(v4)) => Ok(SocketAddr::new(
                IpAddr::V6(v4.to_ipv6_mapped()),
                addr.port(),
            )),
            (IpAddr::V4(_), IpAddr::V6(_)) => Err(DiscoveryError::AddressFamily { addr }),
            _ => Ok(addr),
        }
    }
}

fn unexpected(addr: SocketAddr, rpc: Rpc) -> DiscoveryError {
    let source = WireError::BadResponse {
        rpc: rpc.name(),
        expected: "its own answer shape",
    };
    DiscoveryError::BadAnswer { addr, source }
}
