//! What the server counts for the `metrics` plugin: connections open and refused by
//! transport, failed TLS handshakes, calls by outcome, notifications sent and the
//! subscriptions held. Label values are the server's own words (`tcp`, `tls`, `ok`,
//! `error`), never a client's: a method name from the wire would let a client grow the
//! series without bound.

use node_api::metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge};

/// The handles one listener's connections record with (taken in `start`, once).
#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) connections: Gauge,
    pub(crate) refused: Counter,
    pub(crate) handshake_failures: Counter,
    pub(crate) calls_ok: Counter,
    pub(crate) calls_failed: Counter,
    pub(crate) notifications: Counter,
    pub(crate) subscriptions: Gauge,
}

impl Metrics {
    /// The handles of a listener of `transport` (`tcp` or `tls`).
    pub(crate) fn new(transport: &'static str) -> Metrics {
        describe_gauge!(
            "node_electrum_connections",
            "Electrum connections open, by transport"
        );
        describe_counter!(
            "node_electrum_connections_refused_total",
            "Electrum connections refused at max_connections, by transport"
        );
        describe_counter!(
            "node_electrum_tls_handshake_failures_total",
            "Electrum TLS handshakes that failed or timed out"
        );
        describe_counter!(
            "node_electrum_calls_total",
            "Electrum calls answered (each call of a batch counts), by result"
        );
        describe_counter!(
            "node_electrum_notifications_total",
            "Electrum notifications sent (headers and scripthash status)"
        );
        describe_gauge!(
            "node_electrum_subscriptions",
            "scripthash subscriptions held by open Electrum connections"
        );
        Metrics {
            connections: gauge!("node_electrum_connections", "transport" => transport),
            refused: counter!("node_electrum_connections_refused_total", "transport" => transport),
            handshake_failures: counter!("node_electrum_tls_handshake_failures_total"),
            calls_ok: counter!("node_electrum_calls_total", "result" => "ok"),
            calls_failed: counter!("node_electrum_calls_total", "result" => "error"),
            notifications: counter!("node_electrum_notifications_total"),
            subscriptions: gauge!("node_electrum_subscriptions"),
        }
    }
}
