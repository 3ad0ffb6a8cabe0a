//! The routing table: 160 k-buckets indexed by the highest differing bit of the XOR distance
//! (the standard Kademlia layout; the Python package splits buckets lazily, which gives the
//! same contacts for the same inputs at these sizes).
//!
//! Hardening over the Python package: the caller inserts only contacts that have just
//! answered a ping (so an id is bound to an address that answered), and at most
//! `per_subnet` contacts share an IPv4 /24 or IPv6 /48, loopback excepted.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::node_id::{Contact, NodeId, ID_BITS};

/// What [`RoutingTable::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// A new contact; announce it.
    Added,
    /// Already present at that address; moved to most recently seen.
    Refreshed,
    /// The bucket is full, or the id is held at another address: ping `incumbent`, and only
    /// if it fails remove it and insert again (old live contacts are kept, per the paper).
    Contested { incumbent: Contact },
    /// Too many contacts in the same subnet.
    SubnetFull,
    /// Our own id.
    Own,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subnet {
    V4([u8; 3]),
    V6([u8; 6]),
}

/// The group an address counts against; `None` for loopback, which is exempt so that many
/// nodes on one machine (tests, local networks) can know each other.
fn subnet(ip: IpAddr) -> Option<Subnet> {
    let ip = ip.to_canonical();
    if ip.is_loopback() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Subnet::V4([a, b, c])
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            Subnet::V6([o[0], o[1], o[2], o[3], o[4], o[5]])
        }
    })
}

struct Bucket {
    /// Least recently seen first.
    entries: Vec<Contact>,
    /// Last insertion or lookup in this bucket's range; stale buckets get refreshed.
    touched: Instant,
}

pub(crate) struct RoutingTable {
    own: NodeId,
    k: usize,
    per_subnet: usize,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    pub(crate) fn new(own: NodeId, k: usize, per_subnet: usize, now: Instant) -> Self {
        let buckets = (0..ID_BITS)
            .map(|_| Bucket {
                entries: Vec::new(),
                touched: now,
            })
            .collect();
        RoutingTable {
            own,
            k,
            per_subnet,
            buckets,
        }
    }

    /// Adds a contact. Call only with an (id, address) pair that has just answered a ping
    /// from that address with that id.
    pub(crate) fn insert(&mut self, contact: Contact, now: Instant) -> Insert {
        let Some(index) = self.own.bucket_index(&contact.id) else {
            return Insert::Own;
        };
        // The address now answers with this id, so an entry giving it another id is stale.
        self.remove_where(|c| c.addr == contact.addr && c.id != contact.id);
        let bucket = &mut self.buckets[index];
        if let Some(pos) = bucket.entries.iter().position(|c| c.id == contact.id) {
            let existing = bucket.entries[pos];
            if existing.addr != contact.addr {
                return Insert::Contested {
                    incumbent: existing,
                };
            }
            bucket.entries.remove(pos);
            bucket.entries.push(contact);
            bucket.touched = now;
            return Insert::Refreshed;
        }
        if let Some(group) = subnet(contact.addr.ip()) {
            let same = self
                .iter()
                .filter(|c| subnet(c.addr.ip()) == Some(group))
                .count();
            if same >= self.per_subnet {
                return Insert::SubnetFull;
            }
        }
        let bucket = &mut self.buckets[index];
        if bucket.entries.len() >= self.k {
            return Insert::Contested {
                incumbent: bucket.entries[0],
            };
        }
        bucket.entries.push(contact);
        bucket.touched = now;
        Insert::Added
    }

    /// Removes exactly this (id, address) pair; returns whether it was present.
    pub(crate) fn remove(&mut self, contact: &Contact) -> bool {
        self.remove_where(|c| c == contact) > 0
    }

    /// Removes every contact at `addr` (it stopped answering).
    pub(crate) fn remove_addr(&mut self, addr: SocketAddr) -> usize {
        self.remove_where(|c| c.addr == addr)
    }

    fn remove_where(&mut self, mut doomed: impl FnMut(&Contact) -> bool) -> usize {
        let mut removed = 0;
        for bucket in &mut self.buckets {
            let before = bucket.entries.len();
            bucket.entries.retain(|c| !doomed(c));
            removed += before - bucket.entries.len();
        }
        removed
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, contact: &Contact) -> bool {
        self.own
            .bucket_index(&contact.id)
            .is_some_and(|i| self.buckets[i].entries.contains(contact))
    }

    /// Moves a present contact to most recently seen; returns whether it was present.
    pub(crate) fn mark_seen(&mut self, contact: &Contact) -> bool {
        let Some(index) = self.own.bucket_index(&contact.id) else {
            return false;
        };
        let entries = &mut self.buckets[index].entries;
        match entries.iter().position(|c| c == contact) {
            Some(pos) => {
                let seen = entries.remove(pos);
                entries.push(seen);
                true
            }
            None => false,
        }
    }

    /// Up to `count` contacts closest to `target`, nearest first, leaving out any at
    /// `exclude` (the Python package leaves out the asker).
    pub(crate) fn closest(
        &self,
        target: &NodeId,
        count: usize,
        exclude: Option<SocketAddr>,
    ) -> Vec<Contact> {
        let mut all: Vec<Contact> = self.iter().filter(|c| Some(c.addr) != exclude).collect();
        all.sort_by_key(|c| c.id.distance(target));
        all.truncate(count);
        all
    }

    pub(crate) fn contacts(&self) -> Vec<Contact> {
        self.iter().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    fn iter(&self) -> impl Iterator<Item = Contact> + '_ {
        self.buckets.iter().flat_map(|b| b.entries.iter().copied())
    }

    /// Records a lookup of `target`, so its bucket is not refreshed again soon.
    pub(crate) fn touch(&mut self, target: &NodeId, now: Instant) {
        if let Some(index) = self.own.bucket_index(target) {
            self.buckets[index].touched = now;
        }
    }

    /// Non-empty buckets with no insertion or lookup for `max_age`. Empty buckets are left
    /// alone: far more of them exist than a network of this size can fill.
    pub(crate) fn stale_buckets(&self, now: Instant, max_age: Duration) -> Vec<usize> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.entries.is_empty() && now.duration_since(b.touched) >= max_age)
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(first: u8, last: u8, addr: &str) -> Contact {
        let mut id = [0u8; 20];
        id[0] = first;
        id[19] = last;
        Contact {
            id: NodeId(id),
            addr: addr.parse().expect("addr"),
        }
    }

    fn table(k: usize) -> (RoutingTable, Instant) {
        let now = Instant::now();
        (RoutingTable::new(NodeId([0; 20]), k, 2, now), now)
    }

    #[test]
    fn at_most_two_per_slash_24_except_loopback() {
        let (mut t, now) = table(20);
        assert_eq!(t.insert(contact(0x80, 1, "10.0.0.1:1"), now), Insert::Added);
        assert_eq!(t.insert(contact(0x40, 2, "10.0.0.2:1"), now), Insert::Added);
        assert_eq!(
            t.insert(contact(0x20, 3, "10.0.0.3:1"), now),
            Insert::SubnetFull
        );
        assert_eq!(t.insert(contact(0x20, 4, "10.0.1.3:1"), now), Insert::Added);
        for n in 0..10 {
            let c = contact(0x80, 10 + n, &format!("127.0.0.1:{}", 1000 + u16::from(n)));
            assert_eq!(t.insert(c, now), Insert::Added);
        }
        // IPv4-mapped IPv6 counts against the IPv4 /24.
        assert_eq!(
            t.insert(contact(0x10, 5, "[::ffff:10.0.0.9]:1"), now),
            Insert::SubnetFull
        );
        assert_eq!(
            t.insert(contact(0x10, 6, "[2001:db8::1]:1"), now),
            Insert::Added
        );
        assert_eq!(
            t.insert(contact(0x10, 7, "[2001:db8:0:1::1]:1"), now),
            Insert::Added
        );
        assert_eq!(
            t.insert(contact(0x10, 8, "[2001:db8:0:2::1]:1"), now),
            Insert::SubnetFull
        );
        assert_eq!(t.len(), 15);
    }

    #[test]
    fn full_bucket_is_contested_by_least_recently_seen() {
        let (mut t, now) = table(2);
        let a = contact(0x80, 1, "127.0.0.1:1");
        let b = contact(0x80, 2, "127.0.0.1:2");
        let c = contact(0x80, 3, "127.0.0.1:3");
        assert_eq!(t.insert(a, now), Insert::Added);
        assert_eq!(t.insert(b, now), Insert::Added);
        assert_eq!(t.insert(c, now), Insert::Contested { incumbent: a });
        assert!(t.mark_seen(&a));
        assert_eq!(t.insert(c, now), Insert::Contested { incumbent: b });
        assert!(t.remove(&b));
        assert_eq!(t.insert(c, now), Insert::Added);
        // Another bucket is unaffected.
        assert_eq!(
            t.insert(contact(0x01, 1, "127.0.0.1:9"), now),
            Insert::Added
        );
    }

    #[test]
    fn id_moves_are_contested_and_address_reuse_replaces() {
        let (mut t, now) = table(20);
        let a = contact(0x80, 1, "127.0.0.1:1");
        assert_eq!(t.insert(a, now), Insert::Added);
        assert_eq!(t.insert(a, now), Insert::Refreshed);
        let moved = Contact {
            addr: "127.0.0.1:2".parse().expect("addr"),
            ..a
        };
        assert_eq!(t.insert(moved, now), Insert::Contested { incumbent: a });
        let renamed = contact(0x40, 9, "127.0.0.1:1");
        assert_eq!(t.insert(renamed, now), Insert::Added);
        assert_eq!(t.contacts(), vec![renamed]);
        assert_eq!(
            t.insert(
                Contact {
                    id: NodeId([0; 20]),
                    ..a
                },
                now
            ),
            Insert::Own
        );
    }

    #[test]
    fn closest_orders_by_xor_distance_and_excludes_asker() {
        let (mut t, now) = table(20);
        let far = contact(0x80, 0, "127.0.0.1:1");
        let mid = contact(0x40, 0, "127.0.0.1:2");
        let near = contact(0x01, 0, "127.0.0.1:3");
        for c in [far, mid, near] {
            t.insert(c, now);
        }
        let target = NodeId([0; 20]);
        assert_eq!(t.closest(&target, 20, None), vec![near, mid, far]);
        assert_eq!(t.closest(&target, 2, Some(near.addr)), vec![mid, far]);
        assert_eq!(t.remove_addr(mid.addr), 1);
        assert!(!t.contains(&mid));
    }

    #[test]
    fn only_old_non_empty_buckets_are_stale() {
        let (mut t, now) = table(20);
        t.insert(contact(0x80, 0, "127.0.0.1:1"), now);
        t.insert(contact(0x01, 0, "127.0.0.1:2"), now);
        let later = now + Duration::from_secs(10);
        assert!(t.stale_buckets(later, Duration::from_secs(20)).is_empty());
        t.touch(&contact(0x80, 5, "127.0.0.1:1").id, later);
        assert_eq!(t.stale_buckets(later, Duration::from_secs(5)), vec![152]);
    }
}
