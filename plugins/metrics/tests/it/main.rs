//! The `metrics` plugin in an in-process node: what modules record reaches `/metrics`,
//! whatever the order of `[node] modules`.

use std::sync::Mutex;

use node_api::metrics::{counter, Counter};
use node_api::{
    async_trait, inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory,
    StartContext,
};
use node_testkit::TestNode;

/// A module listed before `metrics` that takes its handle in `build`: the kernel must
/// have installed the recorder by then, or the handle records nothing, ever.
struct Early {
    built: Counter,
}

/// Serialises the tests: the recorder is one per process.
static SERIAL: Mutex<()> = Mutex::new(());

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
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = TestNode::builder()
        .module("early")
        .module("metrics")
        .profile("[metrics]\nlisten = \"127.0.0.1:0\"")
        .start()
        .await
        .expect("node starts");
    let text = node_metrics::recorder::install()
        .expect("the recorder")
        .render();
    node.stop().await.expect("node stops");
    assert!(text.contains("test_early_started_total 1"), "{text}");
}
