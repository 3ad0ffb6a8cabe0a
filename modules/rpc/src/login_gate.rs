//! The bound on failed logins per client address, and the summary line that replaces one
//! warning per failure.
//!
//! Why a bucket before the check rather than a delay after it: a delay per request only
//! slows each connection, so 64 connections guess 64 times as fast. Here a check happens
//! only while the client's bucket holds a token, and a failed check takes one, so the
//! failures an address gets evaluated in `t` seconds are at most `burst + rate * t`,
//! whatever its number of connections. A correct credential costs no token, so clients
//! are not throttled by their own calls; while their address's bucket is empty they wait
//! for its next token like everyone there (in arrival order: waiters queue on a fair
//! mutex per address), since answering a correct guess at once would tell a guesser
//! which guess was right.
//!
//! Why per address: with one bucket for the server, 64 connections guessing from one
//! machine kept the operator's correct cookie waiting 6 s. Each address (an IPv6 /64,
//! what one host usually holds) has its own bucket, so guessers delay only clients that
//! share their address; a client elsewhere is checked at once. The table is bounded:
//! past [`MAX_TRACKED_ADDRESSES`] it drops the addresses whose buckets are full again
//! (they have nothing to remember), and while it is still full new addresses share one
//! overflow bucket, so an attacker spreading over many addresses gains at most that
//! bucket's rate. Per connection, a connection whose login failed is closed after its
//! 401 (see the server), so a guess costs a new connection; and a connection that logged
//! in is not checked here again while it sends the same credentials (it proved them, so
//! answering it at once tells a guesser nothing).
//! A client that gives up while waiting costs nothing and learns nothing: its
//! credentials were not checked.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;

/// Failed logins are reported at most once per this interval, in one line.
pub(crate) const FAILURE_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Addresses named in one summary line; the rest are counted.
const ADDRESSES_REPORTED: usize = 8;

/// Addresses with a bucket of their own: about 100 bytes each, 1 MiB in all.
pub(crate) const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Where a client's failures are counted: its IPv4 address, or its IPv6 /64; `None`
/// is the overflow bucket shared once the table is full.
type ClientKey = Option<u128>;

fn client_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        // IPv4-mapped addresses are the IPv4 client they carry.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | 1 << 63,
        },
    }
}

/// Checks credentials at a bounded rate of failures per client address.
pub(crate) struct LoginGate {
    /// Tokens added per second, and the most a bucket holds.
    rate: f64,
    burst: f64,
    /// The buckets: checked and paid for under this lock, held for a few instructions.
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
    failures: Mutex<Failures>,
    /// Wakes the reporter when the first failure of an interval is recorded.
    first_failure: Notify,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// A fair mutex: while the bucket is empty, its waiters take their turn in arrival
    /// order.
    queue: Arc<tokio::sync::Mutex<()>>,
}

/// Failures since the last summary line.
#[derive(Default)]
struct Failures {
    count: u64,
    by_address: BTreeMap<IpAddr, u64>,
}

impl LoginGate {
    /// A gate letting at most `per_second` failed logins per client address through per
    /// second, with a burst of as many (a second's worth) after a quiet period.
    pub(crate) fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        LoginGate {
            rate,
            burst: rate,
            buckets: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
            first_failure: Notify::new(),
        }
    }

    /// The user `authorization` logs in as, when `auth` accepts it; waits first while
    /// the client's address has spent its failed logins. A failure is recorded for the
    /// summary line under `peer`.
    pub(crate) async fn check(
        &self,
        auth: &Auth,
        authorization: Option<&[u8]>,
        peer: IpAddr,
    ) -> Option<String> {
        let queue = match self.try_check(auth, authorization, peer) {
            Ok(accepted) => return accepted,
            Err(queue) => queue,
        };
        let _turn = queue.lock().await;
        loop {
            match self.try_check(auth, authorization, peer) {
                Ok(accepted) => return accepted,
                Err(_) => tokio::time::sleep(self.until_next_token(peer)).await,
            }
        }
    }

    /// Checks `authorization` if the client's bucket holds a token, paying one for a
    /// failure; else the bucket's queue to wait in. Checked and paid for under one lock,
    /// so no failure is evaluated without a token.
    fn try_check(
        &self,
        auth: &Auth,
        authorization: Option<&[u8]>,
        peer: IpAddr,
    ) -> Result<Option<String>, Arc<tokio::sync::Mutex<()>>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = self.bucket(&mut buckets, peer);
        if bucket.tokens < 1.0 {
            return Err(bucket.queue.clone());
        }
        let accepted = auth.check(authorization);
        if accepted.is_none() {
            bucket.tokens -= 1.0;
            drop(buckets);
            self.record_failure(peer);
        }
        Ok(accepted)
    }

    /// The client's bucket, refilled to now; made when the address is new (the
    /// overflow bucket when the table is full of addresses that still need theirs).
    fn bucket<'a>(
        &self,
        buckets: &'a mut HashMap<ClientKey, Bucket>,
        peer: IpAddr,
    ) -> &'a mut Bucket {
        let now = Instant::now();
        let mut key = Some(client_key(peer));
        if !buckets.contains_key(&key) && buckets.len() >= MAX_TRACKED_ADDRESSES {
            let (rate, burst) = (self.rate, self.burst);
            // A full bucket nobody waits on is what a new bucket would be.
            buckets.retain(|key, bucket| {
                key.is_none()
                    || Arc::strong_count(&bucket.queue) > 1
                    || bucket.tokens + now.duration_since(bucket.refilled).as_secs_f64() * rate
                        < burst
            });
            if buckets.len() >= MAX_TRACKED_ADDRESSES {
                key = None;
            }
        }
        let bucket = buckets.entry(key).or_insert_with(|| Bucket {
            tokens: self.burst,
            refilled: now,
            queue: Arc::default(),
        });
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + earned).min(self.burst);
        bucket.refilled = now;
        bucket
    }

    /// How long until the client's bucket holds a token again.
    fn until_next_token(&self, peer: IpAddr) -> Duration {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let tokens = self.bucket(&mut buckets, peer).tokens;
        // A floor, so rounding a hair short of a token never spins.
        Duration::from_secs_f64(((1.0 - tokens) / self.rate).max(0.001))
    }

    fn record_failure(&self, peer: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.count += 1;
        *failures.by_address.entry(peer).or_default() += 1;
        if failures.count == 1 {
            self.first_failure.notify_one();
        }
    }

    /// The summary of the failures since the last call, if any, and starts a new count.
    fn take_summary(&self) -> Option<String> {
        let failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|e| e.into_inner()));
        if failures.count == 0 {
            return None;
        }
        let mut by_count: Vec<(IpAddr, u64)> = failures.by_address.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut named: Vec<String> = by_count
            .iter()
            .take(ADDRESSES_REPORTED)
            .map(|(ip, n)| format!("{ip} ({n})"))
            .collect();
        if by_count.len() > ADDRESSES_REPORTED {
            named.push(format!(
                "and {} more addresses",
                by_count.len() - ADDRESSES_REPORTED
            ));
        }
        let plural = if failures.count == 1 { "" } else { "s" };
        Some(format!(
            "{} failed RPC login{plural} in the last {} s from {}",
            failures.count,
            FAILURE_REPORT_INTERVAL.as_secs(),
            named.join(", ")
        ))
    }

    /// Logs one warning per interval that had failures, until `cancel` fires (then the
    /// failures counted so far). Quiet, and asleep, while nobody fails.
    pub(crate) async fn report_failures(&self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = self.first_failure.notified() => {}
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(FAILURE_REPORT_INTERVAL) => {}
            }
            if let Some(line) = self.take_summary() {
                tracing::warn!("{line}");
            }
        }
        if let Some(line) = self.take_summary() {
            tracing::warn!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::basic_authorization;

    fn auth() -> Auth {
        Auth::new().allow("u", "right")
    }

    fn localhost() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[tokio::test(start_paused = true)]
    async fn failures_across_connections_of_an_address_are_bounded_by_the_rate() {
        let gate = Arc::new(LoginGate::new(10));
        let started = Instant::now();
        let mut clients = Vec::new();
        for client in 0..64u8 {
            let gate = gate.clone();
            clients.push(tokio::spawn(async move {
                let wrong = basic_authorization("u", &format!("guess{client}"));
                for _ in 0..5 {
                    assert!(gate
                        .check(
                            &auth(),
                            Some(wrong.as_bytes()),
                            // One host: its IPv6 /64.
                            IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(client)])
                        )
                        .await
                        .is_none());
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        // 320 failures: the first 10 from the full bucket, then one per 100 ms.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(31_000) && elapsed < Duration::from_millis(31_200),
            "{elapsed:?}"
        );
        let summary = gate.take_summary().unwrap();
        assert!(
            summary.starts_with("320 failed RPC logins in the last 10 s from 2001:db8::"),
            "{summary}"
        );
        assert!(summary.ends_with("and 56 more addresses"), "{summary}");
        assert_eq!(gate.take_summary(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn correct_credentials_cost_no_token() {
        let gate = LoginGate::new(2);
        let right = basic_authorization("u", "right");
        let started = Instant::now();
        for _ in 0..1000 {
            assert!(gate
                .check(&auth(), Some(right.as_bytes()), localhost())
                .await
                .is_some());
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(gate.take_summary(), None);
        // Once the failures have spent the bucket, a correct login waits for a token.
        let wrong = basic_authorization("u", "wrong");
        for _ in 0..2 {
            assert!(gate
                .check(&auth(), Some(wrong.as_bytes()), localhost())
                .await
                .is_none());
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(gate
            .check(&auth(), Some(right.as_bytes()), localhost())
            .await
            .is_some());
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        assert_eq!(
            gate.take_summary().unwrap(),
            "2 failed RPC logins in the last 10 s from 127.0.0.1 (2)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn guessers_at_one_address_do_not_delay_another() {
        let gate = Arc::new(LoginGate::new(2));
        let attacker = IpAddr::from([10, 0, 0, 1]);
        let wrong = basic_authorization("u", "wrong");
        for _ in 0..2 {
            assert!(gate
                .check(&auth(), Some(wrong.as_bytes()), attacker)
                .await
                .is_none());
        }
        // The attacker's bucket is spent and its next guesses queue...
        let queued = tokio::spawn({
            let gate = gate.clone();
            let wrong = wrong.clone();
            async move { gate.check(&auth(), Some(wrong.as_bytes()), attacker).await }
        });
        tokio::task::yield_now().await;
        // ...while a client at another address is checked at once, right or wrong.
        let started = Instant::now();
        let right = basic_authorization("u", "right");
        assert!(gate
            .check(&auth(), Some(right.as_bytes()), localhost())
            .await
            .is_some());
        assert!(gate
            .check(&auth(), Some(wrong.as_bytes()), localhost())
            .await
            .is_none());
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(queued.await.unwrap().is_none());
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn the_address_table_is_bounded() {
        let gate = LoginGate::new(1);
        let wrong = basic_authorization("u", "wrong");
        let started = Instant::now();
        for i in 0..=MAX_TRACKED_ADDRESSES as u32 {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            gate.check(&auth(), Some(wrong.as_bytes()), ip).await;
        }
        // Every bucket spent: the last address got the overflow bucket, and no one
        // waited.
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(
            gate.buckets.lock().unwrap().len(),
            MAX_TRACKED_ADDRESSES + 1
        );
        assert!(gate.buckets.lock().unwrap().contains_key(&None));
        // The next new address finds the overflow bucket spent too and waits for a
        // token; by then the other buckets are full again and dropped, and it gets one
        // of its own.
        gate.check(&auth(), Some(wrong.as_bytes()), localhost())
            .await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert!(gate.buckets.lock().unwrap().len() <= 3);
    }

    #[test]
    fn an_ipv6_host_is_its_64() {
        let a = client_key(IpAddr::from([0x2001, 0xdb8, 1, 2, 3, 4, 5, 6]));
        let b = client_key(IpAddr::from([0x2001, 0xdb8, 1, 2, 9, 9, 9, 9]));
        let c = client_key(IpAddr::from([0x2001, 0xdb8, 1, 3, 3, 4, 5, 6]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), client_key(IpAddr::from([10, 0, 0, 1])));
    }

    #[tokio::test(start_paused = true)]
    async fn one_summary_line_per_interval() {
        let gate = Arc::new(LoginGate::new(1000));
        let cancel = CancellationToken::new();
        let reporter = tokio::spawn({
            let gate = gate.clone();
            let cancel = cancel.clone();
            async move { gate.report_failures(cancel).await }
        });
        let wrong = basic_authorization("u", "wrong");
        for _ in 0..3 {
            gate.check(&auth(), Some(wrong.as_bytes()), localhost())
                .await;
        }
        tokio::time::sleep(FAILURE_REPORT_INTERVAL / 2).await;
        // Still inside the interval: the failures wait for the line.
        assert!(gate.failures.lock().unwrap().count == 3);
        tokio::time::sleep(FAILURE_REPORT_INTERVAL).await;
        assert!(gate.failures.lock().unwrap().count == 0, "reported");
        gate.check(&auth(), Some(wrong.as_bytes()), localhost())
            .await;
        cancel.cancel();
        reporter.await.unwrap();
        assert!(
            gate.failures.lock().unwrap().count == 0,
            "flushed at the end"
        );
    }
}
