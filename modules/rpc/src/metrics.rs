//! `node_rpc_requests_total{method,code}` and `node_rpc_request_seconds`. A method label
//! is only ever a registered method's name (anything else a client sends counts as
//! `other`), and a code is `0` for success or the error's JSON-RPC / Bitcoin Core code,
//! so clients cannot create series.

use std::time::Duration;

use node_api::metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use node_api::{RpcError, RpcRegistry};
use serde_json::Value;

pub(crate) fn describe() {
    describe_counter!(
        "node_rpc_requests_total",
        "JSON-RPC calls by method (unregistered ones as other) and code (0: success)"
    );
    describe_histogram!(
        "node_rpc_request_seconds",
        Unit::Seconds,
        "time to run a JSON-RPC method"
    );
}

/// Counts and times one call.
pub(crate) fn request(
    registry: &RpcRegistry,
    method: &str,
    outcome: &Result<Value, RpcError>,
    took: Duration,
) {
    let method = if registry.method(method).is_some() {
        method.to_string()
    } else {
        "other".to_string()
    };
    let code = match outcome {
        Ok(_) => "0".to_string(),
        Err(e) => e.code.to_string(),
    };
    counter!("node_rpc_requests_total", "method" => method, "code" => code).increment(1);
    histogram!("node_rpc_request_seconds").record(took.as_secs_f64());
}
