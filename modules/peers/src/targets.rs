//! Persistent outbound targets (`connect`, `addnode`, the `addnode` RPC): where each
//! comes from, whether an attempt is under way, and when the next one may start.

use std::time::{Duration, Instant};

/// Longest wait between attempts at a persistent target.
const MAX_TARGET_BACKOFF: Duration = Duration::from_secs(60);
/// The first wait: a target that is starting or restarting (a network brought up
/// together, a node restarted) is usually there within a second, and waits of whole
/// seconds doubling from the first failure left a fresh network of 100 nodes half
/// connected for half a minute. Bitcoin Core retries `-connect` peers every half second.
const FIRST_TARGET_BACKOFF: Duration = Duration::from_millis(250);

/// Where a persistent target comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetSource {
    Connect,
    AddNode,
}

/// A `host:port` kept connected.
#[derive(Debug, Clone)]
pub(crate) struct TargetState {
    pub(crate) source: TargetSource,
    /// An attempt is in flight or a connection is open.
    busy: bool,
    failures: u32,
    next_try: Instant,
}

impl TargetState {
    pub(crate) fn new(source: TargetSource) -> Self {
        TargetState {
            source,
            busy: false,
            failures: 0,
            next_try: Instant::now(),
        }
    }

    /// Starts an attempt if none is under way and the backoff is over; returns whether
    /// it did.
    pub(crate) fn begin(&mut self, now: Instant) -> bool {
        let due = !self.busy && self.next_try <= now;
        if due {
            self.busy = true;
        }
        due
    }

    pub(crate) fn connected(&mut self) {
        self.failures = 0;
    }

    /// The attempt or connection ended; the next one waits [`FIRST_TARGET_BACKOFF`],
    /// doubling with each failure up to a minute (a connection that worked resets the
    /// count).
    pub(crate) fn ended(&mut self, handshaken: bool) {
        self.busy = false;
        if handshaken {
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
        }
        let backoff = (FIRST_TARGET_BACKOFF * (1 << self.failures.min(8))).min(MAX_TARGET_BACKOFF);
        self.next_try = Instant::now() + backoff;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_backoff_doubles_to_a_minute_and_resets() {
        let mut t = TargetState::new(TargetSource::Connect);
        let waits: Vec<u128> = (0..10)
            .map(|_| {
                let before = Instant::now();
                t.ended(false);
                (t.next_try - before).as_millis()
            })
            .collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
        );
        t.connected();
        t.ended(true);
        assert!(t.next_try - Instant::now() <= FIRST_TARGET_BACKOFF);
        assert_eq!(t.source, TargetSource::Connect);
    }
}
