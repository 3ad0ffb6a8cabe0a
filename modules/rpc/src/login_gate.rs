//! The server-wide bound on failed logins: a token bucket that every credentials check
//! passes through, and the summary line that replaces one warning per failure.
//!
//! Why a bucket before the check rather than a delay after it: a delay per request only
//! slows each connection, so 64 connections guess 64 times as fast. Here a check happens
//! only while the bucket holds a token, and a failed check takes one, so the failures the
//! whole server evaluates in `t` seconds are at most `burst + rate * t`, whatever the
//! number of connections. A correct credential costs no token, so clients are not
//! throttled by their own calls; while the bucket is empty they wait for the next token
//! like everyone else (in arrival order: waiters queue on a fair mutex), since answering
//! a correct guess at once would tell a guesser which guess was right. While tokens are
//! left, a check takes the bucket's plain mutex for a few instructions and never awaits,
//! so the common case (clients with the right cookie) does not queue.
//! A client that gives up while waiting costs nothing and learns nothing: its
//! credentials were not checked.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;

/// Failed logins are reported at most once per this interval, in one line.
pub(crate) const FAILURE_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Addresses named in one summary line; the rest are counted.
const ADDRESSES_REPORTED: usize = 8;

/// Checks credentials at a bounded rate of failures for the whole server.
pub(crate) struct LoginGate {
    /// Tokens added per second, and the most the bucket holds.
    rate: f64,
    burst: f64,
    /// The tokens: checked and paid for under this lock, held for a few instructions.
    bucket: Mutex<Bucket>,
    /// A fair mutex: while the bucket is empty, waiters take their turn in arrival order.
    queue: tokio::sync::Mutex<()>,
    failures: Mutex<Failures>,
    /// Wakes the reporter when the first failure of an interval is recorded.
    first_failure: Notify,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Failures since the last summary line.
#[derive(Default)]
struct Failures {
    count: u64,
    by_address: BTreeMap<IpAddr, u64>,
}

impl LoginGate {
    /// A gate letting at most `per_second` failed logins through per second, with a
    /// burst of as many (a second's worth) after a quiet period.
    pub(crate) fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        LoginGate {
            rate,
            burst: rate,
            bucket: Mutex::new(Bucket {
                tokens: rate,
                refilled: Instant::now(),
            }),
            queue: tokio::sync::Mutex::new(()),
            failures: Mutex::new(Failures::default()),
            first_failure: Notify::new(),
        }
    }

    /// The user `authorization` logs in as, when `auth` accepts it; waits first while
    /// the server has spent its failed logins. A failure is recorded for the summary line
    /// under `peer`.
    pub(crate) async fn check(
        &self,
        auth: &Auth,
        authorization: Option<&[u8]>,
        peer: IpAddr,
    ) -> Option<String> {
        if let Some(accepted) = self.try_check(auth, authorization, peer) {
            return accepted;
        }
        let _turn = self.queue.lock().await;
        loop {
            if let Some(accepted) = self.try_check(auth, authorization, peer) {
                return accepted;
            }
            tokio::time::sleep(self.until_next_token()).await;
        }
    }

    /// Checks `authorization` if the bucket holds a token, paying one for a failure;
    /// `None` when it is empty. Checked and paid for under one lock, so no failure is
    /// evaluated without a token.
    fn try_check(
        &self,
        auth: &Auth,
        authorization: Option<&[u8]>,
        peer: IpAddr,
    ) -> Option<Option<String>> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut bucket);
        if bucket.tokens < 1.0 {
            return None;
        }
        let accepted = auth.check(authorization);
        if accepted.is_none() {
            bucket.tokens -= 1.0;
            drop(bucket);
            self.record_failure(peer);
        }
        Some(accepted)
    }

    /// How long until the bucket holds a token again.
    fn until_next_token(&self) -> Duration {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        self.refill(&mut bucket);
        // A floor, so rounding a hair short of a token never spins.
        Duration::from_secs_f64(((1.0 - bucket.tokens) / self.rate).max(0.001))
    }

    fn refill(&self, bucket: &mut Bucket) {
        let now = Instant::now();
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + earned).min(self.burst);
        bucket.refilled = now;
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
    async fn failures_across_clients_are_bounded_by_the_rate() {
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
                            IpAddr::from([10, 0, 0, client])
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
            summary.starts_with("320 failed RPC logins in the last 10 s from 10.0.0."),
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
