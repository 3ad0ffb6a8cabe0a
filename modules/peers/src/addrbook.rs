//! Addresses of nodes to connect to, learned from `addr` messages, discovery and the
//! profile: at most [`MAX_ADDRESSES`], each with its failed attempts and a backoff before
//! the next one. An address that keeps failing without ever working is forgotten; the
//! worst one makes room when the book is full.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::seq::IteratorRandom;

use node_p2p::AddrEntry;

/// Addresses kept. Each costs under 100 bytes; 4,096 is plenty for a small network, and
/// bounds what `addr` floods can make us hold.
pub(crate) const MAX_ADDRESSES: usize = 4096;
/// Failed attempts, without a success ever, after which an address is forgotten.
const MAX_FAILURES: u32 = 5;
/// Addresses we found to be ourselves, remembered so discovery cannot re-add them.
const MAX_OWN: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    services: u64,
    time: u32,
    attempts: u32,
    last_try: Option<Instant>,
    worked: bool,
}

#[derive(Debug, Default)]
pub(crate) struct AddrBook {
    entries: HashMap<SocketAddr, Entry>,
    own: HashSet<SocketAddr>,
}

/// Whether an address can be a node at all.
pub(crate) fn usable(addr: &SocketAddr) -> bool {
    let ip = addr.ip();
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast() && !broadcast
}

/// Wait before the next attempt after `attempts` failures: a minute, doubling, at most an
/// hour.
fn backoff(attempts: u32) -> Duration {
    match attempts {
        0 => Duration::ZERO,
        n => Duration::from_secs(60 << (n - 1).min(6)).min(Duration::from_secs(3600)),
    }
}

impl AddrBook {
    /// Adds or refreshes an address; returns whether it is new.
    pub(crate) fn add(&mut self, addr: SocketAddr, services: u64, time: u32) -> bool {
        let addr = canonical(addr);
        if !usable(&addr) || self.own.contains(&addr) {
            return false;
        }
        if let Some(entry) = self.entries.get_mut(&addr) {
            entry.time = entry.time.max(time);
            entry.services |= services;
            return false;
        }
        if self.entries.len() >= MAX_ADDRESSES {
            self.evict();
        }
        self.entries.insert(
            addr,
            Entry {
                services,
                time,
                attempts: 0,
                last_try: None,
                worked: false,
            },
        );
        true
    }

    /// Drops the entry least worth keeping: most failures, then heard of longest ago.
    fn evict(&mut self) {
        let worst = self
            .entries
            .iter()
            .min_by_key(|(_, e)| (e.worked, u32::MAX - e.attempts, e.time))
            .map(|(addr, _)| *addr);
        if let Some(addr) = worst {
            self.entries.remove(&addr);
        }
    }

    /// `addr` turned out to be this node.
    pub(crate) fn mark_own(&mut self, addr: SocketAddr) {
        let addr = canonical(addr);
        self.entries.remove(&addr);
        if self.own.len() < MAX_OWN {
            self.own.insert(addr);
        }
    }

    pub(crate) fn attempt(&mut self, addr: &SocketAddr, now: Instant) {
        if let Some(entry) = self.entries.get_mut(addr) {
            entry.last_try = Some(now);
        }
    }

    pub(crate) fn success(&mut self, addr: &SocketAddr, time: u32) {
        if let Some(entry) = self.entries.get_mut(addr) {
            entry.attempts = 0;
            entry.worked = true;
            entry.time = entry.time.max(time);
        }
    }

    pub(crate) fn failure(&mut self, addr: &SocketAddr) {
        let Some(entry) = self.entries.get_mut(addr) else {
            return;
        };
        entry.attempts += 1;
        if entry.attempts >= MAX_FAILURES && !entry.worked {
            self.entries.remove(addr);
        }
    }

    /// Up to `n` random addresses due for an attempt that `exclude` does not reject.
    pub(crate) fn pick(
        &self,
        n: usize,
        now: Instant,
        exclude: impl Fn(&SocketAddr) -> bool,
    ) -> Vec<SocketAddr> {
        self.entries
            .iter()
            .filter(|(addr, e)| {
                e.last_try
                    .is_none_or(|last| now.duration_since(last) >= backoff(e.attempts))
                    && !exclude(addr)
            })
            .map(|(addr, _)| *addr)
            .choose_multiple(&mut rand::thread_rng(), n)
    }

    /// Up to `n` random addresses that are not failing, for a `getaddr` answer.
    pub(crate) fn sample(&self, n: usize) -> Vec<AddrEntry> {
        self.entries
            .iter()
            .filter(|(_, e)| e.attempts == 0)
            .map(|(addr, e)| AddrEntry {
                time: e.time,
                services: e.services,
                addr: *addr,
            })
            .choose_multiple(&mut rand::thread_rng(), n)
    }

    #[cfg(test)]
    pub(crate) fn is_own(&self, addr: &SocketAddr) -> bool {
        self.own.contains(addr)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// IPv4-mapped IPv6 as plain IPv4, so one node has one address everywhere.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn unusable_and_own_addresses_are_refused() {
        let mut book = AddrBook::default();
        assert!(!book.add(addr("0.0.0.0:18444"), 1, 0));
        assert!(!book.add(addr("10.0.0.1:0"), 1, 0));
        assert!(!book.add(addr("224.0.0.1:18444"), 1, 0));
        assert!(book.add(addr("[::ffff:10.0.0.1]:18444"), 1, 0));
        assert!(
            !book.add(addr("10.0.0.1:18444"), 1, 5),
            "same node, mapped or not"
        );
        book.mark_own(addr("10.0.0.1:18444"));
        assert_eq!(book.len(), 0);
        assert!(!book.add(addr("10.0.0.1:18444"), 1, 0));
    }

    #[test]
    fn failing_addresses_back_off_then_go() {
        let mut book = AddrBook::default();
        let a = addr("10.0.0.1:1");
        book.add(a, 1, 0);
        let now = Instant::now();
        assert_eq!(book.pick(8, now, |_| false), [a]);
        assert!(book.pick(8, now, |x| *x == a).is_empty());
        book.attempt(&a, now);
        book.failure(&a);
        assert!(book.pick(8, now, |_| false).is_empty(), "backing off");
        assert!(
            book.sample(10).is_empty(),
            "failing addresses are not shared"
        );
        assert_eq!(book.pick(8, now + backoff(1), |_| false), [a]);
        for _ in 1..MAX_FAILURES {
            book.failure(&a);
        }
        assert_eq!(book.len(), 0, "never worked, failed {MAX_FAILURES} times");
    }

    #[test]
    fn the_book_stays_bounded() {
        let mut book = AddrBook::default();
        for i in 0..MAX_ADDRESSES as u32 + 10 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            book.add(SocketAddr::new(ip.into(), 18444), 1, i);
        }
        assert_eq!(book.len(), MAX_ADDRESSES);
        assert_eq!(book.sample(1000).len(), 1000);
    }
}
