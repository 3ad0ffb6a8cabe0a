//! The mempool's metrics: its size after every change, and what happened to each
//! transaction offered. Reject reasons come from a fixed set (one per kind of
//! [`MempoolError`]), never from the transaction.

use node_api::metrics::{counter, describe_counter, describe_gauge, gauge, Counter, Gauge, Unit};
use node_api::{MempoolError, MempoolEvent};

use crate::pool::Pool;

/// The reject reasons, each a label value of `node_mempool_rejected_total`.
const REASONS: [&str; 10] = [
    "duplicate",
    "coinbase",
    "invalid",
    "conflict",
    "missing-inputs",
    "fee-too-low",
    "too-long-chain",
    "full",
    "non-standard",
    "mempool-min-fee",
];

fn reason_index(error: &MempoolError) -> usize {
    match error {
        MempoolError::AlreadyInMempool | MempoolError::AlreadyKnown => 0,
        MempoolError::Coinbase => 1,
        MempoolError::Invalid(_) => 2,
        MempoolError::Conflict => 3,
        MempoolError::MissingInputs => 4,
        MempoolError::FeeTooLow { .. } => 5,
        MempoolError::TooLongChain { .. } => 6,
        MempoolError::Full => 7,
        MempoolError::NonStandard(_) => 8,
        MempoolError::MinFeeNotMet { .. } => 9,
    }
}

/// Handles of the mempool's series.
pub(crate) struct MempoolMetrics {
    transactions: Gauge,
    bytes: Gauge,
    accepted: Counter,
    rejected: Vec<Counter>,
    evicted: Counter,
}

impl MempoolMetrics {
    pub(crate) fn new() -> MempoolMetrics {
        describe_gauge!("node_mempool_transactions", "transactions in the mempool");
        describe_gauge!(
            "node_mempool_bytes",
            Unit::Bytes,
            "serialized size of the mempool's transactions"
        );
        describe_counter!(
            "node_mempool_accepted_total",
            "transactions admitted (orphans included when their parents arrive)"
        );
        describe_counter!(
            "node_mempool_rejected_total",
            "transactions refused, by reason (a fixed set)"
        );
        describe_counter!(
            "node_mempool_evicted_total",
            "entries dropped unconfirmed: size limit or expiry"
        );
        MempoolMetrics {
            transactions: gauge!("node_mempool_transactions"),
            bytes: gauge!("node_mempool_bytes"),
            accepted: counter!("node_mempool_accepted_total"),
            rejected: REASONS
                .iter()
                .map(|reason| counter!("node_mempool_rejected_total", "reason" => *reason))
                .collect(),
            evicted: counter!("node_mempool_evicted_total"),
        }
    }

    /// The pool after a change.
    pub(crate) fn size(&self, pool: &Pool) {
        self.transactions.set(pool.len() as f64);
        self.bytes.set(pool.bytes() as f64);
    }

    pub(crate) fn rejected(&self, error: &MempoolError) {
        self.rejected[reason_index(error)].increment(1);
    }

    /// What the pool announces: admissions and removals other than by a block.
    pub(crate) fn event(&self, event: &MempoolEvent) {
        match event {
            MempoolEvent::Accepted { .. } => self.accepted.increment(1),
            MempoolEvent::Removed {
                reason: "sizelimit" | "expiry",
                ..
            } => self.evicted.increment(1),
            _ => {}
        }
    }
}
