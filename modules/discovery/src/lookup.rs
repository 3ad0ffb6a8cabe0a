//! Iterative lookup (alpha requests in flight, k results), bootstrap and bucket refresh.
//!
//! Like the Python package's `NodeSpiderCrawl`, a lookup asks the nearest not yet asked
//! nodes until the k nearest known have all answered or failed. Unlike it, each address is
//! asked at most once per lookup and the number of requests is capped, so a node answering
//! with made-up contacts cannot make us flood an address or crawl forever.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::config::{ALPHA, K};
use crate::node_id::{Contact, Distance, NodeId};
use crate::service::Shared;
use crate::util::{canonical, lock, usable};

/// Requests one lookup may send; a lookup among honest nodes needs far fewer.
const MAX_QUERIES: usize = 5 * K;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Asked,
    Answered,
    Failed,
}

struct Candidate {
    contact: Contact,
    state: State,
}

impl Shared {
    /// The up to k answering nodes nearest `target`, starting from `seeds` and the table.
    pub(crate) async fn lookup(
        self: &Arc<Self>,
        target: NodeId,
        seeds: Vec<Contact>,
    ) -> Vec<Contact> {
        let mut shortlist: BTreeMap<Distance, Candidate> = BTreeMap::new();
        let known = {
            let mut table = lock(&self.table);
            table.touch(&target, Instant::now());
            table.closest(&target, K, None)
        };
        for contact in seeds.into_iter().chain(known) {
            if contact.id != self.id {
                let candidate = Candidate {
                    contact,
                    state: State::Waiting,
                };
                shortlist
                    .entry(contact.id.distance(&target))
                    .or_insert(candidate);
            }
        }
        let mut asked: HashSet<SocketAddr> = HashSet::new();
        let mut in_flight = JoinSet::new();
        loop {
            let next: Vec<Distance> = shortlist
                .iter()
                .filter(|(_, c)| c.state != State::Failed)
                .take(K)
                .filter(|(_, c)| c.state == State::Waiting)
                .map(|(d, _)| *d)
                .collect();
            for distance in next {
                if in_flight.len() >= ALPHA || asked.len() >= MAX_QUERIES {
                    break;
                }
                let Some(candidate) = shortlist.get_mut(&distance) else {
                    continue;
                };
                if !asked.insert(candidate.contact.addr) {
                    candidate.state = State::Failed;
                    continue;
                }
                candidate.state = State::Asked;
                let (shared, contact) = (Arc::clone(self), candidate.contact);
                in_flight.spawn(async move {
                    (
                        distance,
                        contact,
                        shared.call_find_node(contact.addr, target).await,
                    )
                });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            let Ok((distance, asked_node, result)) = joined else {
                continue;
            };
            let answered = result.is_ok();
            if let Some(candidate) = shortlist.get_mut(&distance) {
                candidate.state = if answered {
                    State::Answered
                } else {
                    State::Failed
                };
            }
            let Ok(found) = result else { continue };
            self.consider(asked_node.id, asked_node.addr);
            for contact in found {
                let contact = Contact {
                    addr: canonical(contact.addr),
                    ..contact
                };
                if contact.id == self.id || !plausible(contact.addr, asked_node.addr) {
                    continue;
                }
                let candidate = Candidate {
                    contact,
                    state: State::Waiting,
                };
                shortlist
                    .entry(contact.id.distance(&target))
                    .or_insert(candidate);
            }
        }
        shortlist
            .into_values()
            .filter(|c| c.state == State::Answered)
            .take(K)
            .map(|c| c.contact)
            .collect()
    }

    /// Pings each address, admits those that answer, then looks up our own id through them
    /// (which fills the buckets near us). Returns how many answered.
    pub(crate) async fn bootstrap(self: &Arc<Self>, addrs: &[SocketAddr]) -> usize {
        let mut pings = JoinSet::new();
        for &addr in addrs {
            let addr = canonical(addr);
            if addr == self.local_addr || !usable(addr) {
                continue;
            }
            let shared = Arc::clone(self);
            pings.spawn(async move { (addr, shared.call_ping(addr).await) });
        }
        let mut seeds = Vec::new();
        while let Some(joined) = pings.join_next().await {
            match joined {
                Ok((addr, Ok(id))) => {
                    let contact = Contact { id, addr };
                    self.admit(contact).await;
                    seeds.push(contact);
                }
                Ok((addr, Err(error))) => tracing::debug!(%addr, %error, "bootstrap node silent"),
                Err(_) => {}
            }
        }
        if seeds.is_empty() {
            if !addrs.is_empty() {
                tracing::debug!("no bootstrap node answered");
            }
            return 0;
        }
        let reached = seeds.len();
        self.lookup(self.id, seeds).await;
        reached
    }

    /// Looks up a random id in each stale bucket; with an empty table, bootstraps again.
    pub(crate) async fn refresh(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (empty, stale) = {
            let table = lock(&self.table);
            (
                table.len() == 0,
                table.stale_buckets(Instant::now(), self.config.refresh_interval),
            )
        };
        if empty {
            let addrs = self.config.bootstrap.clone();
            self.bootstrap(&addrs).await;
        } else {
            for index in stale {
                self.lookup(self.id.random_in_bucket(index), Vec::new())
                    .await;
            }
        }
        self.refreshing.store(false, Ordering::Release);
    }
}

/// Whether a contact someone handed us is worth asking: a real address, and loopback only
/// when the node naming it is itself on loopback (a remote node has no business pointing
/// us at our own machine).
fn plausible(addr: SocketAddr, told_by: SocketAddr) -> bool {
    usable(addr) && (!addr.ip().is_loopback() || told_by.ip().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_contacts_only_from_loopback() {
        let local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let remote: SocketAddr = "203.0.113.9:5000".parse().expect("addr");
        assert!(plausible(local, local));
        assert!(!plausible(local, remote));
        assert!(plausible(remote, local));
        assert!(!plausible("0.0.0.0:1".parse().expect("addr"), local));
        assert!(!plausible("203.0.113.9:0".parse().expect("addr"), local));
        assert!(!plausible("224.0.0.1:1".parse().expect("addr"), local));
    }
}
