//! The `metrics` module: its table, its factory, and the `/metrics` route.

use std::net::SocketAddr;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use node_api::http::response;
use node_api::metrics::{describe_gauge, gauge};
use node_api::{
    async_trait, inventory, monitoring_listen, Access, BoxError, ConfigError, Module, ModuleConfig,
    ModuleFactory, Route, StartContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::recorder;

/// The `[metrics]` table.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct MetricsConfig {
    /// `host:port` of `/metrics`; unset: 127.0.0.1 on the chain's RPC port + 1000.
    listen: Option<String>,
}

struct MetricsModule {
    listen: SocketAddr,
    handle: PrometheusHandle,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: MetricsConfig = config.parse()?;
    let listen = monitoring_listen(
        parsed.listen.as_deref(),
        &config.node().chain,
        &config.node().chain_base,
    )?;
    // Installed already by the kernel before any module was built (`MetricsRecorder`):
    // this takes its handle.
    let handle = recorder::install().map_err(|reason| ConfigError::Invalid {
        key: "metrics".to_string(),
        reason,
    })?;
    Ok(Box::new(MetricsModule { listen, handle }))
}

inventory::submit! {
    ModuleFactory {
        name: "metrics",
        description: "serves every module's metrics in the Prometheus text format at /metrics (plugin)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[],
        uses: &[],
        methods: &[],
        build,
    }
}

#[async_trait]
impl Module for MetricsModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let started = Instant::now();
        describe_gauge!(
            "node_uptime_seconds",
            "seconds since the metrics module started"
        );
        describe_gauge!(
            "node_build_info",
            "1, labelled with the node's version, chain and profile modules"
        );
        let mut modules = ctx.node().modules.clone();
        modules.sort();
        gauge!(
            "node_build_info",
            "version" => env!("CARGO_PKG_VERSION"),
            "chain" => ctx.node().chain.clone(),
            "modules" => modules.join(","),
        )
        .set(1.0);
        let uptime = gauge!("node_uptime_seconds");

        let handle = self.handle.clone();
        let route = Route::new("/metrics", Access::Public, move |_request| {
            uptime.set(started.elapsed().as_secs_f64());
            handle.run_upkeep();
            let text = handle.render();
            async move {
                response(
                    node_api::http::StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    text,
                )
            }
        });
        let bound = ctx.serve_http(self.listen, vec![route]).await?;
        tracing::info!(%bound, "serving metrics at /metrics");

        let handle = self.handle;
        let cancel = ctx.cancel_token();
        ctx.spawn("upkeep", async move {
            let mut tick = tokio::time::interval(recorder::UPKEEP);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => handle.run_upkeep(),
                }
            }
        });
        Ok(())
    }
}
