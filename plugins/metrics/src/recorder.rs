//! The process's Prometheus recorder: installed once, by the kernel before it builds the
//! modules of a profile that lists `metrics`, and rendered by every scrape.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use node_api::inventory;
use node_api::metrics::{describe_histogram, registered_histograms, MetricsRecorder};

inventory::submit! {
    MetricsRecorder {
        module: "metrics",
        registered_by: env!("CARGO_PKG_NAME"),
        install: || install().map(drop),
    }
}

/// How often histograms are drained into their buckets when nobody scrapes.
pub const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The process's recorder, installed on first call: by the kernel before it builds any
/// module when the profile lists `metrics` (a handle taken before a recorder exists is
/// a no-op forever, see [`MetricsRecorder`]). Each declared histogram
/// ([`HistogramBuckets`](node_api::metrics::HistogramBuckets), from every linked crate) renders as its buckets, with its
/// help text. Once per process (the facade has one global recorder): nodes run in one
/// process (in tests) share it.
pub fn install() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            let histograms = registered_histograms().map_err(|e| e.to_string())?;
            let mut builder = PrometheusBuilder::new();
            for histogram in &histograms {
                builder = builder
                    .set_buckets_for_metric(
                        Matcher::Full(histogram.name.to_string()),
                        histogram.buckets,
                    )
                    .map_err(|e| {
                        format!(
                            "histogram buckets of {} (crate {}): {e}",
                            histogram.name, histogram.registered_by
                        )
                    })?;
            }
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            node_api::metrics::set_global_recorder(recorder).map_err(|e| {
                format!("another metrics recorder is installed in this process: {e}")
            })?;
            for histogram in histograms {
                describe_histogram!(histogram.name, histogram.description);
            }
            Ok(handle)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::metrics::{counter, histogram, HistogramBuckets};

    // Declared as a module declares its own: this crate links no module.
    inventory::submit! {
        HistogramBuckets {
            name: "test_depth_blocks",
            description: "blocks deep, for this test",
            buckets: &[1.0, 2.0, 3.0, 6.0, 10.0, 100.0],
            registered_by: env!("CARGO_PKG_NAME"),
        }
    }

    #[test]
    fn declared_histograms_render_as_their_buckets_with_their_help() {
        let handle = install().expect("recorder");
        // Installing again is the same recorder (a second node in one process).
        install().expect("the same recorder");
        histogram!("test_depth_blocks").record(7.0);
        counter!("test_blocks_total").increment(2);
        handle.run_upkeep();
        let text = handle.render();
        assert!(
            text.contains("# HELP test_depth_blocks blocks deep, for this test"),
            "{text}"
        );
        assert!(
            text.contains("test_depth_blocks_bucket{le=\"6\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("test_depth_blocks_bucket{le=\"10\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("test_depth_blocks_bucket{le=\"+Inf\"} 1"),
            "{text}"
        );
        assert!(text.contains("test_depth_blocks_count 1"), "{text}");
        assert!(text.contains("test_blocks_total 2"), "{text}");
    }
}
