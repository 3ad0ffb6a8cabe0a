//! Which peers announced each transaction we want, and which of them it was asked of, as
//! Bitcoin Core's `TxRequestTracker` keeps it (simplified: no preference between inbound
//! and outbound peers, no delay before the first request).
//!
//! A wanted transaction is asked of its first announcer at once. Every later announcer
//! is remembered (at most [`MAX_ANNOUNCERS`]); when the peer asked answers `notfound`,
//! or has not delivered within `answer_timeout`, the next announcer is asked. A peer that
//! announces and never answers (a slow, broken or hostile one) so delays a transaction by
//! `answer_timeout` instead of hiding it from every honest announcer. A transaction is
//! forgotten when it arrives, when no announcer is left, or `give_up` after its first
//! announcement; announced again after that, it is wanted afresh.
//!
//! Costs: an entry per wanted transaction (at most [`MAX_WANTED`]; announcements past it
//! are ignored until entries go), holding a few peer ids.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use node_api::chain::Hash256;
use node_api::p2p::PeerId;

/// Announcers remembered per transaction beside the one asked.
pub(crate) const MAX_ANNOUNCERS: usize = 8;
/// Transactions wanted at once.
pub(crate) const MAX_WANTED: usize = 50_000;

struct Wanted {
    /// Announcers not asked yet, oldest first.
    waiting: VecDeque<PeerId>,
    /// The peer asked, and until when it may answer.
    asked: (PeerId, Instant),
    /// When the transaction was first announced.
    since: Instant,
}

/// The transactions wanted from peers.
pub(crate) struct TxRequests {
    wanted: HashMap<Hash256, Wanted>,
    answer_timeout: Duration,
    give_up: Duration,
}

impl TxRequests {
    pub(crate) fn new(answer_timeout: Duration, give_up: Duration) -> Self {
        TxRequests {
            wanted: HashMap::new(),
            answer_timeout,
            give_up,
        }
    }

    /// Whether `txid` is asked of some peer now.
    pub(crate) fn is_wanted(&self, txid: &Hash256) -> bool {
        self.wanted.contains_key(txid)
    }

    /// `peer` announced `txid`, which we do not hold: true when it is to be asked of
    /// `peer` now (no one else was asked).
    pub(crate) fn announced(&mut self, peer: PeerId, txid: Hash256, now: Instant) -> bool {
        if let Some(wanted) = self.wanted.get_mut(&txid) {
            let known = wanted.asked.0 == peer || wanted.waiting.contains(&peer);
            if !known && wanted.waiting.len() < MAX_ANNOUNCERS {
                wanted.waiting.push_back(peer);
            }
            return false;
        }
        if self.wanted.len() >= MAX_WANTED {
            return false;
        }
        self.wanted.insert(
            txid,
            Wanted {
                waiting: VecDeque::new(),
                asked: (peer, now + self.answer_timeout),
                since: now,
            },
        );
        true
    }

    /// `txid` arrived (from whichever peer): no one is asked for it any more.
    pub(crate) fn received(&mut self, txid: &Hash256) {
        self.wanted.remove(txid);
    }

    /// `peer` answered that it does not have `txid`: the next announcer to ask now, if
    /// the request was `peer`'s and another peer announced it.
    pub(crate) fn not_found(
        &mut self,
        peer: PeerId,
        txid: &Hash256,
        now: Instant,
    ) -> Option<PeerId> {
        let wanted = self.wanted.get_mut(txid)?;
        if wanted.asked.0 != peer {
            wanted.waiting.retain(|p| *p != peer);
            return None;
        }
        self.next(txid, now)
    }

    /// Requests not answered in time move on to the next announcer: each `(peer, txid)`
    /// to ask now. Transactions with no announcer left, or wanted longer than `give_up`,
    /// are forgotten.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(PeerId, Hash256)> {
        let late: Vec<Hash256> = self
            .wanted
            .iter()
            .filter(|(_, w)| w.asked.1 <= now)
            .map(|(txid, _)| *txid)
            .collect();
        late.into_iter()
            .filter_map(|txid| self.next(&txid, now).map(|peer| (peer, txid)))
            .collect()
    }

    /// Asks the next announcer of `txid`, or forgets it.
    fn next(&mut self, txid: &Hash256, now: Instant) -> Option<PeerId> {
        let wanted = self.wanted.get_mut(txid)?;
        let next = wanted.waiting.pop_front();
        match next {
            Some(peer) if now.duration_since(wanted.since) < self.give_up => {
                wanted.asked = (peer, now + self.answer_timeout);
                Some(peer)
            }
            _ => {
                self.wanted.remove(txid);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TX: Hash256 = Hash256([1; 32]);

    fn requests() -> TxRequests {
        TxRequests::new(Duration::from_secs(2), Duration::from_secs(60))
    }

    #[test]
    fn a_silent_first_announcer_gives_way_to_the_next_after_the_timeout() {
        let mut r = requests();
        let t0 = Instant::now();
        assert!(r.announced(PeerId(1), TX, t0));
        assert!(!r.announced(PeerId(2), TX, t0));
        assert!(!r.announced(PeerId(2), TX, t0), "counted once");
        assert!(r.expire(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(r.expire(t0 + Duration::from_secs(2)), [(PeerId(2), TX)]);
        // The last announcer did not answer either: forgotten, wanted afresh if announced.
        assert!(r.expire(t0 + Duration::from_secs(4)).is_empty());
        assert!(!r.is_wanted(&TX));
        assert!(r.announced(PeerId(3), TX, t0 + Duration::from_secs(5)));
    }

    #[test]
    fn notfound_moves_on_at_once_and_arrival_ends_the_search() {
        let mut r = requests();
        let t0 = Instant::now();
        assert!(r.announced(PeerId(1), TX, t0));
        r.announced(PeerId(2), TX, t0);
        r.announced(PeerId(3), TX, t0);
        assert_eq!(r.not_found(PeerId(3), &TX, t0), None, "3 was not asked");
        assert_eq!(r.not_found(PeerId(1), &TX, t0), Some(PeerId(2)));
        r.received(&TX);
        assert!(!r.is_wanted(&TX));
        assert!(r.expire(t0 + Duration::from_secs(10)).is_empty());
    }

    #[test]
    fn announcers_and_wanted_transactions_are_bounded() {
        let mut r = requests();
        let t0 = Instant::now();
        for peer in 0..100 {
            r.announced(PeerId(peer), TX, t0);
        }
        assert_eq!(r.wanted[&TX].waiting.len(), MAX_ANNOUNCERS);
        for i in 0..MAX_WANTED as u32 + 10 {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_le_bytes());
            hash[31] = 9;
            r.announced(PeerId(1), Hash256(hash), t0);
        }
        assert_eq!(r.wanted.len(), MAX_WANTED);
        // Past `give_up`, a request that times out is not passed on.
        let late = t0 + Duration::from_secs(61);
        assert!(r.expire(late).is_empty());
        assert!(r.wanted.is_empty());
    }
}
