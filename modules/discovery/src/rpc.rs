//! Our side of a call: a random message id, the request sent, the answer matched by id and
//! source address, and a timeout after which the node is dropped from the table (as the
//! Python package does).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use rmpv::Value;
use tokio::sync::oneshot;

use crate::config::K;
use crate::error::DiscoveryError;
use crate::node_id::{Contact, NodeId};
use crate::service::{canonical, lock, Shared};
use crate::wire::{self, Kind, MsgId, Request, Response, Rpc, WireError};

type Answer = Result<Value, WireError>;

struct Pending {
    addr: SocketAddr,
    tx: oneshot::Sender<Answer>,
}

/// Requests awaiting answers, bounded.
pub(crate) struct Calls {
    pending: Mutex<HashMap<MsgId, Pending>>,
    max: usize,
}

/// Forgets a call however its future ends (answer, timeout or cancellation).
struct Forget<'a> {
    calls: &'a Calls,
    id: MsgId,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.calls.pending).remove(&self.id);
    }
}

impl Calls {
    pub(crate) fn new(max: usize) -> Self {
        Calls {
            pending: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn register(
        &self,
        addr: SocketAddr,
    ) -> Result<(MsgId, oneshot::Receiver<Answer>), DiscoveryError> {
        let mut pending = lock(&self.pending);
        if pending.len() >= self.max {
            return Err(DiscoveryError::Busy { limit: self.max });
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
}

impl Shared {
    /// Sends `request` to `addr` and waits for the answer, typed by the request.
    pub(crate) async fn call(
        &self,
        addr: SocketAddr,
        request: Request,
    ) -> Result<Response, DiscoveryError> {
        let addr = canonical(addr);
        let rpc = request.rpc();
        let target = self.outbound(addr)?;
        let (id, rx) = self.calls.register(addr)?;
        let _forget = Forget {
            calls: &self.calls,
            id,
        };
        let bytes = wire::encode(Kind::Request, &id, &request.to_value())
            .map_err(DiscoveryError::Encode)?;
        self.socket
            .send_to(&bytes, target)
            .await
            .map_err(|source| DiscoveryError::Send { addr, source })?;
        let timeout = self.config.request_timeout;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(body))) => Response::parse(rpc, body, K)
                .map_err(|source| DiscoveryError::BadAnswer { addr, source }),
            Ok(Ok(Err(source))) => Err(DiscoveryError::BadAnswer { addr, source }),
            Ok(Err(_)) => Err(DiscoveryError::ShutDown),
            Err(_) => {
                if lock(&self.table).remove_addr(addr) > 0 {
                    tracing::debug!(%addr, "dropping a silent node from the routing table");
                }
                Err(DiscoveryError::Timeout { addr, timeout })
            }
        }
    }

    /// Pings `addr`; its answer is its id.
    pub(crate) async fn call_ping(&self, addr: SocketAddr) -> Result<NodeId, DiscoveryError> {
        match self.call(addr, Request::Ping { sender: self.id }).await? {
            Response::Id(id) => Ok(id),
            _ => Err(unexpected(addr, Rpc::Ping)),
        }
    }

    /// Asks `addr` for the contacts it knows nearest `key`.
    pub(crate) async fn call_find_node(
        &self,
        addr: SocketAddr,
        key: NodeId,
    ) -> Result<Vec<Contact>, DiscoveryError> {
        match self
            .call(
                addr,
                Request::FindNode {
                    sender: self.id,
                    key,
                },
            )
            .await?
        {
            Response::Contacts(contacts) => Ok(contacts),
            _ => Err(unexpected(addr, Rpc::FindNode)),
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
