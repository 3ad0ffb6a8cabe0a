//! `node_rpc_requests_total{method,code}` and `node_rpc_request_seconds`. A method label
//! is only ever a registered method's name (anything else a client sends counts as
//! `other`), and a code is `0` for success or the error's JSON-RPC / Bitcoin Core code,
//! so clients cannot create series.
//!
//! Cost: a call's counter is found in the recorder once per method: the handles of
//! successful calls are kept here, so a call pays a read lock and a hash of its method
//! name, not the labels' allocations, the recorder's lookup and a second registry
//! lookup. The kept handles are as many as the registered methods called.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use node_api::metrics::{
    counter, describe_counter, histogram, Counter, Histogram, HistogramBuckets,
};
use node_api::{RpcError, RpcRegistry};
use serde_json::Value;

/// `node_rpc_request_seconds`: most calls answer from memory in microseconds; wallet and
/// mining calls take longer.
const REQUEST_SECONDS: HistogramBuckets = HistogramBuckets {
    name: "node_rpc_request_seconds",
    description: "time to run a JSON-RPC method",
    buckets: &[
        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
    ],
    registered_by: env!("CARGO_PKG_NAME"),
};
node_api::inventory::submit! { REQUEST_SECONDS }

pub(crate) fn describe() {
    describe_counter!(
        "node_rpc_requests_total",
        "JSON-RPC calls by method (unregistered ones as other) and code (0: success)"
    );
}

/// The server's handles on its series. Made once the recorder is installed (the
/// metrics plugin installs it before any module starts); made earlier, they count
/// nowhere.
pub(crate) struct RpcMetrics {
    seconds: Histogram,
    /// `node_rpc_requests_total{method,code="0"}` of each registered method called.
    succeeded: RwLock<HashMap<String, Counter>>,
}

impl Default for RpcMetrics {
    fn default() -> Self {
        RpcMetrics {
            seconds: histogram!(REQUEST_SECONDS.name),
            succeeded: RwLock::default(),
        }
    }
}

impl RpcMetrics {
    /// Counts and times one call.
    pub(crate) fn request(
        &self,
        registry: &RpcRegistry,
        method: &str,
        outcome: &Result<Value, RpcError>,
        took: Duration,
    ) {
        self.seconds.record(took.as_secs_f64());
        let registered = || registry.method(method).is_some();
        match outcome {
            Ok(_) => {
                let known = self.succeeded.read().unwrap_or_else(|e| e.into_inner());
                if let Some(counter) = known.get(method) {
                    counter.increment(1);
                    return;
                }
                drop(known);
                if !registered() {
                    counter!("node_rpc_requests_total", "method" => "other", "code" => "0")
                        .increment(1);
                    return;
                }
                let counter = counter!(
                    "node_rpc_requests_total",
                    "method" => method.to_string(),
                    "code" => "0"
                );
                counter.increment(1);
                self.succeeded
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(method.to_string(), counter);
            }
            Err(e) => {
                let method = if registered() {
                    method.to_string()
                } else {
                    "other".to_string()
                };
                counter!("node_rpc_requests_total", "method" => method, "code" => e.code.to_string())
                    .increment(1);
            }
        }
    }
}
