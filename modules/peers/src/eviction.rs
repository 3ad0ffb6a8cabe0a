//! Which inbound peer makes room for a new one when every inbound slot is taken, as
//! Bitcoin Core's `AttemptToEvictConnection` chooses: peers that are hard for an attacker
//! to imitate are protected (distinct network groups, the lowest pings, the last to bring
//! us blocks and transactions, the longest connected), and of the rest, the youngest
//! connection of the most represented network group goes. Idle connections an attacker
//! opened in bulk share its few network groups and are young, so they are the ones
//! evicted; on one host (every peer in one group), the youngest unprotected one is.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::time::Duration;

use node_p2p::PeerId;

/// Peers of distinct network groups protected (Core: 4).
const PROTECT_BY_NETGROUP: usize = 4;
/// Peers with the lowest measured ping protected (Core: 8).
const PROTECT_BY_PING: usize = 8;
/// Peers that most recently sent us a transaction, and a block, protected (Core: 4 each).
const PROTECT_BY_TX: usize = 4;
const PROTECT_BY_BLOCK: usize = 4;

/// What eviction knows of one inbound connection.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Ids grow with each connection: a higher id is a younger connection.
    pub(crate) id: PeerId,
    pub(crate) netgroup: Vec<u8>,
    pub(crate) min_ping: Option<Duration>,
    /// Unix seconds of the last block and transaction it sent; 0 for never.
    pub(crate) last_block: u64,
    pub(crate) last_tx: u64,
}

/// The network group of an address: its IPv4 /16 or IPv6 /32, and one group for every
/// loopback and unspecified address (Core's `GetGroup`, without the ASN map).
pub(crate) fn netgroup(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() => vec![0],
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => vec![0],
        IpAddr::V4(v4) => vec![4, v4.octets()[0], v4.octets()[1]],
        IpAddr::V6(v6) => {
            let o = v6.octets();
            vec![6, o[0], o[1], o[2], o[3]]
        }
    }
}

/// Removes from `candidates` up to `count` of those `key` ranks highest, among those
/// `eligible`.
fn protect<K: Ord>(
    candidates: &mut Vec<Candidate>,
    count: usize,
    eligible: impl Fn(&Candidate) -> bool,
    key: impl Fn(&Candidate) -> K,
) {
    let mut ranked: Vec<(K, PeerId)> = candidates
        .iter()
        .filter(|c| eligible(c))
        .map(|c| (key(c), c.id))
        .collect();
    ranked.sort();
    let protected: Vec<PeerId> = ranked.iter().rev().take(count).map(|(_, id)| *id).collect();
    candidates.retain(|c| !protected.contains(&c.id));
}

/// The peer to disconnect so a new inbound one can be accepted, or `None` when every
/// candidate is protected (the newcomer is then refused). `keyed` orders network groups
/// by a secret key, so an attacker cannot tell which of its groups is protected.
pub(crate) fn select(mut candidates: Vec<Candidate>, keyed: &RandomState) -> Option<PeerId> {
    // One peer (the oldest) in each of the network groups ranked first by the key.
    let mut groups: Vec<(u64, PeerId)> = Vec::new();
    let mut seen: HashMap<&[u8], ()> = HashMap::new();
    let mut by_age = candidates.clone();
    by_age.sort_by_key(|c| c.id);
    for c in &by_age {
        if seen.insert(c.netgroup.as_slice(), ()).is_none() {
            groups.push((keyed.hash_one(&c.netgroup), c.id));
        }
    }
    groups.sort();
    let protected: Vec<PeerId> = groups
        .iter()
        .rev()
        .take(PROTECT_BY_NETGROUP)
        .map(|(_, id)| *id)
        .collect();
    candidates.retain(|c| !protected.contains(&c.id));
    // Lowest ping first: rank by the reverse of the ping.
    protect(
        &mut candidates,
        PROTECT_BY_PING,
        |c| c.min_ping.is_some(),
        |c| std::cmp::Reverse(c.min_ping),
    );
    protect(
        &mut candidates,
        PROTECT_BY_TX,
        |c| c.last_tx > 0,
        |c| c.last_tx,
    );
    protect(
        &mut candidates,
        PROTECT_BY_BLOCK,
        |c| c.last_block > 0,
        |c| c.last_block,
    );
    // Half of the rest, the longest connected.
    let half = candidates.len() / 2;
    protect(&mut candidates, half, |_| true, |c| std::cmp::Reverse(c.id));
    if candidates.is_empty() {
        return None;
    }
    // The most represented group; between equals, the one with the youngest connection.
    let mut members: HashMap<&[u8], (usize, PeerId)> = HashMap::new();
    for c in &candidates {
        let entry = members.entry(c.netgroup.as_slice()).or_insert((0, c.id));
        entry.0 += 1;
        entry.1 = entry.1.max(c.id);
    }
    members
        .values()
        .max_by_key(|(count, youngest)| (*count, *youngest))
        .map(|(_, youngest)| *youngest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: u64, ip: &str) -> Candidate {
        Candidate {
            id: PeerId(id),
            netgroup: netgroup(ip.parse().unwrap()),
            min_ping: None,
            last_block: 0,
            last_tx: 0,
        }
    }

    #[test]
    fn on_one_host_the_youngest_unprotected_idle_peer_goes() {
        let keyed = RandomState::new();
        // Eight idle loopback peers: the oldest is protected for its group, half of the
        // other seven for longevity; the youngest is evicted.
        let all: Vec<Candidate> = (0..8).map(|i| candidate(i, "127.0.0.1")).collect();
        assert_eq!(select(all.clone(), &keyed), Some(PeerId(7)));
        // One peer alone is protected: a newcomer is refused.
        assert_eq!(select(all[..1].to_vec(), &keyed), None);
        // Peers that bring blocks or transactions, or answer pings fastest, are kept.
        let mut useful = all.clone();
        useful[7].last_block = 100;
        useful[6].last_tx = 100;
        useful[5].min_ping = Some(Duration::from_millis(3));
        assert_eq!(select(useful, &keyed), Some(PeerId(4)));
    }

    #[test]
    fn the_largest_network_group_loses_a_peer() {
        let keyed = RandomState::new();
        // Twelve peers of distinct groups, then an attacker's twelve from one /16.
        let mut all: Vec<Candidate> = (0..12)
            .map(|i| candidate(i, &format!("10.{i}.0.1")))
            .collect();
        all.extend((12..24).map(|i| candidate(i, &format!("192.168.0.{i}"))));
        let evicted = select(all, &keyed).unwrap();
        assert!(evicted.0 >= 12, "evicted honest peer {evicted:?}");
        assert_eq!(netgroup("192.168.7.7".parse().unwrap()).len(), 3);
        assert_eq!(
            netgroup("127.0.0.1".parse().unwrap()),
            netgroup("::1".parse().unwrap())
        );
    }
}
