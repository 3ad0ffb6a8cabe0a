//! What each peer's `headers` messages are allowed to cost, as Bitcoin Core bounds them:
//! a low-work chain is checked in memory before any of it is stored (a bounded presync),
//! a peer that keeps sending low-work forks or headers that connect to nothing is
//! disconnected, and headers that do not connect get at most one `getheaders` per
//! interval.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use node_api::chain::BlockHeader;
use node_api::p2p::{PeerId, MAX_HEADERS};

/// Low-work headers held per peer while its chain is checked for enough work (1.6 MB at
/// 80 bytes each, twice that while the chain checks a run). A chain that forks deeper below the anti-DoS threshold than
/// this cannot be followed; one that is not followed costs nothing on disk.
pub(crate) const MAX_PRESYNC_HEADERS: usize = 20_000;
/// Low-work header chains a peer may send before it is disconnected. A peer on a stale
/// fork announces a few; a peer that keeps forking cheap chains off old blocks is
/// attacking.
pub(crate) const MAX_LOW_WORK_CHAINS: u32 = 10;
/// `headers` messages that connect to nothing, in a row, before the peer is disconnected
/// (Bitcoin Core's MAX_NUM_UNCONNECTING_HEADERS_MSGS).
pub(crate) const MAX_UNCONNECTING: u32 = 10;
/// At most one `getheaders` per peer per this interval in answer to headers that do not
/// connect (Bitcoin Core's HEADERS_RESPONSE_TIME).
pub(crate) const UNCONNECTING_REQUEST_INTERVAL: Duration = Duration::from_secs(120);

/// One peer's record.
#[derive(Default)]
struct PeerHeaders {
    /// A low-work run being extended: the peer's chain from where it leaves ours.
    presync: Vec<BlockHeader>,
    low_work_chains: u32,
    unconnecting: u32,
    last_unconnecting_request: Option<Instant>,
}

/// What to do after a headers message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing more.
    Ignore,
    /// Ask the peer for headers after our locator.
    RequestHeaders,
    /// Ask the peer for the headers after this run's last one (it has more).
    ContinuePresync,
    /// Disconnect the peer, for this reason.
    Disconnect(String),
}

#[derive(Default)]
pub(crate) struct HeaderGuard {
    peers: HashMap<PeerId, PeerHeaders>,
}

/// Whether each header of `list` is the parent of the next.
pub(crate) fn is_continuous(list: &[BlockHeader]) -> bool {
    list.windows(2).all(|w| w[1].prev_block == w[0].hash())
}

impl HeaderGuard {
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
    }

    /// The run to hand to the chain for `list`: the peer's presync run followed by
    /// `list` when `list` extends it, or `list` alone (an abandoned presync counts as a
    /// low-work chain).
    pub(crate) fn run(&mut self, peer: PeerId, list: Vec<BlockHeader>) -> Vec<BlockHeader> {
        let state = self.peers.entry(peer).or_default();
        let presync = std::mem::take(&mut state.presync);
        match (presync.last(), list.first()) {
            (Some(last), Some(first)) if first.prev_block == last.hash() => {
                let mut run = presync;
                run.extend(list);
                run
            }
            (Some(_), _) => {
                state.low_work_chains += 1;
                list
            }
            (None, _) => list,
        }
    }

    /// The last header of the peer's presync run, if one is being extended.
    pub(crate) fn presync_tip(&self, peer: PeerId) -> Option<node_api::chain::Hash256> {
        self.peers
            .get(&peer)
            .and_then(|s| s.presync.last())
            .map(BlockHeader::hash)
    }

    /// The chain stored the run: the peer is in good standing for connecting headers.
    pub(crate) fn connected(&mut self, peer: PeerId) {
        let state = self.peers.entry(peer).or_default();
        state.unconnecting = 0;
        state.last_unconnecting_request = None;
    }

    /// The chain refused `run` for low work; `full` when the peer's message was a full
    /// one (it has more headers after it).
    pub(crate) fn low_work(&mut self, peer: PeerId, run: Vec<BlockHeader>, full: bool) -> Verdict {
        let state = self.peers.entry(peer).or_default();
        state.unconnecting = 0;
        if full && run.len() <= MAX_PRESYNC_HEADERS - MAX_HEADERS {
            state.presync = run;
            return Verdict::ContinuePresync;
        }
        if full {
            return Verdict::Disconnect(format!(
                "a low-work header chain over {MAX_PRESYNC_HEADERS} headers long"
            ));
        }
        state.low_work_chains += 1;
        if state.low_work_chains >= MAX_LOW_WORK_CHAINS {
            return Verdict::Disconnect(format!(
                "{} low-work header chains",
                state.low_work_chains
            ));
        }
        Verdict::Ignore
    }

    /// The run does not connect to any header we have.
    pub(crate) fn unconnecting(&mut self, peer: PeerId, now: Instant) -> Verdict {
        let state = self.peers.entry(peer).or_default();
        state.unconnecting += 1;
        if state.unconnecting >= MAX_UNCONNECTING {
            return Verdict::Disconnect(format!(
                "{} headers messages in a row that connect to nothing",
                state.unconnecting
            ));
        }
        let due = state
            .last_unconnecting_request
            .is_none_or(|t| now.duration_since(t) >= UNCONNECTING_REQUEST_INTERVAL);
        if due {
            state.last_unconnecting_request = Some(now);
            Verdict::RequestHeaders
        } else {
            Verdict::Ignore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::chain::Hash256;

    fn chain(start: Hash256, n: usize) -> Vec<BlockHeader> {
        let mut prev = start;
        (0..n)
            .map(|i| {
                let header = BlockHeader {
                    version: 1,
                    prev_block: prev,
                    merkle_root: Hash256::ZERO,
                    time: i as u32,
                    bits: 0x207f_ffff,
                    nonce: 0,
                };
                prev = header.hash();
                header
            })
            .collect()
    }

    #[test]
    fn a_low_work_chain_is_extended_in_memory_up_to_the_bound() {
        let mut guard = HeaderGuard::default();
        let peer = PeerId(1);
        let mut all = chain(Hash256([1; 32]), MAX_PRESYNC_HEADERS);
        assert!(is_continuous(&all));
        let mut held = Vec::new();
        while all.len() > MAX_HEADERS {
            let rest = all.split_off(MAX_HEADERS);
            let run = guard.run(peer, std::mem::replace(&mut all, rest));
            held = run.clone();
            assert_eq!(guard.low_work(peer, run, true), Verdict::ContinuePresync);
        }
        assert_eq!(held.len(), MAX_PRESYNC_HEADERS - MAX_HEADERS);
        let run = guard.run(peer, all);
        assert_eq!(run.len(), MAX_PRESYNC_HEADERS);
        assert!(matches!(
            guard.low_work(peer, run, true),
            Verdict::Disconnect(_)
        ));
    }

    #[test]
    fn repeated_low_work_forks_and_unconnecting_headers_disconnect() {
        let mut guard = HeaderGuard::default();
        let peer = PeerId(2);
        for i in 1..MAX_LOW_WORK_CHAINS {
            let run = guard.run(peer, chain(Hash256([i as u8; 32]), 5));
            assert_eq!(guard.low_work(peer, run, false), Verdict::Ignore);
        }
        let run = guard.run(peer, chain(Hash256([0; 32]), 5));
        assert!(matches!(
            guard.low_work(peer, run, false),
            Verdict::Disconnect(_)
        ));

        let now = Instant::now();
        assert_eq!(guard.unconnecting(peer, now), Verdict::RequestHeaders);
        assert_eq!(guard.unconnecting(peer, now), Verdict::Ignore);
        assert_eq!(
            guard.unconnecting(peer, now + UNCONNECTING_REQUEST_INTERVAL),
            Verdict::RequestHeaders
        );
        // Headers that connect clear the count and the interval.
        guard.connected(peer);
        assert_eq!(guard.unconnecting(peer, now), Verdict::RequestHeaders);
        for _ in 2..MAX_UNCONNECTING {
            assert_eq!(guard.unconnecting(peer, now), Verdict::Ignore);
        }
        assert!(matches!(
            guard.unconnecting(peer, now),
            Verdict::Disconnect(_)
        ));
        let mut broken = chain(Hash256::ZERO, 3);
        broken.swap(1, 2);
        assert!(!is_continuous(&broken));
    }
}
