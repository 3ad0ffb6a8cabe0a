//! What modules declare about the metrics they record, collected at build time like the
//! modules themselves: the buckets of each histogram, and the recorder an exporter
//! installs. The kernel records and exports nothing; it installs a listed exporter's
//! recorder before it builds any module (see [`MetricsRecorder`]).

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::registry::{self, Registered};

/// A histogram a module records, declared beside the code that records it so that an
/// exporter renders it as buckets (Prometheus cannot aggregate summaries across nodes)
/// without knowing the module:
///
/// ```rust,ignore
/// const CONNECT: HistogramBuckets = HistogramBuckets {
///     name: "node_block_connect_seconds",
///     description: "time to accept a block that became the tip",
///     // Milliseconds when small, up to seconds when full and cold.
///     buckets: &[0.001, 0.01, 0.1, 1.0, 10.0],
///     registered_by: env!("CARGO_PKG_NAME"),
/// };
/// inventory::submit! { CONNECT }
/// // in `start`: histogram!(CONNECT.name).record(seconds)
/// ```
#[derive(Debug, Clone, Copy)]
pub struct HistogramBuckets {
    /// The histogram's name, as the module passes it to `histogram!`.
    pub name: &'static str,
    /// One line for the exporter's help text (`# HELP`).
    pub description: &'static str,
    /// Upper bounds of the buckets, ascending, in the histogram's base unit.
    pub buckets: &'static [f64],
    /// The crate that submitted it (`env!("CARGO_PKG_NAME")`), named when two crates
    /// declare one histogram.
    pub registered_by: &'static str,
}

inventory::collect!(HistogramBuckets);

impl Registered for HistogramBuckets {
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn registered_by(&self) -> &'static str {
        self.registered_by
    }
}

/// Every declared histogram, sorted by name; one name declared twice is an error naming
/// both crates.
pub fn registered_histograms() -> Result<Vec<&'static HistogramBuckets>, ConfigError> {
    let unique = registry::unique(inventory::iter::<HistogramBuckets>, "histogram")?;
    Ok(unique.into_values().collect())
}

/// The metrics recorder of an exporter module (one per process, the facade's global).
///
/// A metric handle (`counter!`, `gauge!`, `histogram!`) resolved while no recorder is
/// installed records nothing, ever. So when the profile lists `module`, the kernel calls
/// `install` before it builds any module: every module's handles, taken in `build` or in
/// `start`, then record into it whatever the order of `[node] modules`. Handles taken
/// before the node is planned (a `static` initialised early) are still lost.
#[derive(Debug, Clone, Copy)]
pub struct MetricsRecorder {
    /// The exporter module that needs its recorder installed first.
    pub module: &'static str,
    /// The crate that submitted it (`env!("CARGO_PKG_NAME")`).
    pub registered_by: &'static str,
    /// Installs the recorder; called again by a second node in one process, so it must
    /// be idempotent. `Err` says why it cannot be installed.
    pub install: fn() -> Result<(), String>,
}

inventory::collect!(MetricsRecorder);

impl Registered for MetricsRecorder {
    fn key(&self) -> String {
        self.module.to_string()
    }
    fn registered_by(&self) -> &'static str {
        self.registered_by
    }
}

/// The recorders of the exporter modules among `modules`, by module name.
pub(crate) fn recorders_of(
    modules: &[String],
) -> Result<BTreeMap<String, &'static MetricsRecorder>, ConfigError> {
    let mut all = registry::unique(inventory::iter::<MetricsRecorder>, "metrics recorder")?;
    all.retain(|module, _| modules.contains(module));
    Ok(all)
}
