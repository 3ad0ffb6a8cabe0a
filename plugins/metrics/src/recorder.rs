//! The process's Prometheus recorder: installed once, the first time a `metrics` module
//! is built, and rendered by every scrape.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// How often histograms are drained into their buckets when nobody scrapes.
pub const UPKEEP: Duration = Duration::from_secs(5);

/// Buckets of each histogram, in its base unit. Without them the exporter would render
/// summaries, which Prometheus cannot aggregate across nodes.
pub const BUCKETS: &[(&str, &[f64])] = &[
    // A block connects in milliseconds when small, up to seconds when full and cold.
    (
        "node_block_connect_seconds",
        &[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
    // Relay latency: immediate behaviours take microseconds to milliseconds; `batched`
    // waits its interval (seconds).
    (
        "node_relay_first_seen_to_announced_seconds",
        &[
            0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
        ],
    ),
    // RPC calls: most answer from memory in microseconds; wallet and mining calls longer.
    (
        "node_rpc_request_seconds",
        &[
            0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
        ],
    ),
    // Reorganisation depth in blocks: the alert rules count those deeper than 6.
    (
        "node_reorg_depth_blocks",
        &[1.0, 2.0, 3.0, 6.0, 10.0, 100.0],
    ),
];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's recorder, installed on first call. Called from the module's `build`,
/// which the kernel runs for every listed module before it starts any: modules resolve
/// their metric handles in `start`, and a handle taken before a recorder exists is a
/// no-op forever, so installing later would lose the chain's and the peers' counts.
/// Once per process (the facade has one global recorder): nodes run in one process (in
/// tests) share it.
pub fn install() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in BUCKETS {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full((*name).to_string()), buckets)
                    .map_err(|e| format!("histogram buckets of {name}: {e}"))?;
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            node_api::metrics::set_global_recorder(recorder).map_err(|e| {
                format!("another metrics recorder is installed in this process: {e}")
            })?;
            Ok(handle)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::metrics::{counter, histogram};

    #[test]
    fn histograms_render_as_buckets_the_alert_rules_name() {
        let handle = install().expect("recorder");
        // Installing again is the same recorder (a second node in one process).
        install().expect("the same recorder");
        histogram!("node_reorg_depth_blocks").record(7.0);
        counter!("node_blocks_connected_total").increment(2);
        handle.run_upkeep();
        let text = handle.render();
        // observability/prometheus/alerts.yml subtracts the le="6" bucket from the count.
        assert!(
            text.contains("node_reorg_depth_blocks_bucket{le=\"6\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("node_reorg_depth_blocks_bucket{le=\"+Inf\"} 1"),
            "{text}"
        );
        assert!(text.contains("node_reorg_depth_blocks_count 1"), "{text}");
        assert!(text.contains("node_blocks_connected_total 2"), "{text}");
    }
}
