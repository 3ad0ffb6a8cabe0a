//! The `metrics` plugin in an in-process node: what modules record reaches `/metrics`,
//! whatever the order of `[node] modules`.

use node_api::metrics::{counter, Counter};
use node_api::{
    async_trait, inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory,
    StartContext,
};
use node_testkit::TestNode;
use tokio::sync::Mutex;
// Nothing here names the plugin: without this its registrations would not be linked.
use node_metrics as _;

/// A module listed before `metrics` that takes its handle in `build`: the kernel must
/// have installed the recorder by then, or the handle records nothing, ever.
struct Early {
    built: Counter,
}

/// Serialises the tests: the recorder is one per process, and a node's counters would
/// count another's blocks.
static SERIAL: Mutex<()> = Mutex::const_new(());

#[async_trait]
impl Module for Early {
    async fn start(self: Box<Self>, _ctx: StartContext) -> Result<(), BoxError> {
        self.built.increment(1);
        Ok(())
    }
}

fn build(_: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    Ok(Box::new(Early {
        built: counter!("test_early_started_total"),
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "early",
        description: "takes a metric handle in build",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[],
        uses: &[],
        methods: &[],
        build,
    }
}

#[tokio::test]
async fn a_handle_taken_in_build_before_the_metrics_module_records() {
    let _serial = SERIAL.lock().await;
    let node = TestNode::builder()
        .module("early")
        .module("metrics")
        .profile("[metrics]\nlisten = \"127.0.0.1:0\"")
        .start()
        .await
        .expect("node starts");
    let started = node.metric("test_early_started_total").await;
    node.stop().await.expect("node stops");
    assert_eq!(started, Ok(1.0));
}

#[tokio::test]
async fn the_chain_s_series_follow_the_blocks_it_connects() {
    let _serial = SERIAL.lock().await;
    let node = TestNode::builder()
        .module("metrics")
        .profile("[metrics]\nlisten = \"127.0.0.1:0\"")
        .start()
        .await
        .expect("node starts");
    let before = node.metric("node_blocks_connected_total").await;
    node.mine(3).await.expect("mined");
    let height = node.metric("node_chain_height").await;
    let after = node.metric("node_blocks_connected_total").await;
    let connect_count = node.metric("node_block_connect_seconds_count").await;
    let text = node.scrape_metrics().await.expect("a scrape");
    node.stop().await.expect("node stops");
    assert_eq!(height, Ok(3.0));
    // One recorder per process: this test counts from what the earlier test left.
    assert_eq!(after.expect("counted") - before.unwrap_or(0.0), 3.0);
    assert!(connect_count.expect("timed") >= 3.0);
    // The chain module's declared buckets, not a summary.
    assert!(
        text.contains("node_block_connect_seconds_bucket{le=\"0.001\"}"),
        "{text}"
    );
}
