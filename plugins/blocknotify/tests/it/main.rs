//! blocknotify in a running node: each new tip runs the command with its hash, in order.
//!
//! The node runs in-process (the kernel's `plan` and `run` on a profile file), so the test
//! needs neither the `node` binary nor the network. Its `chain` module is a stand-in
//! built on `node_chain_state::LocalChain`, the very service the real chain module provides: this
//! plugin crate stays free of module crates, and the test feeds blocks through
//! `ChainWriter` instead of mining them over RPC.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use node_api::chain::ChainSpec;
use node_api::{
    async_trait, inventory, services, BoxError, ChainView, ChainWriter, Module, ModuleFactory,
    StartContext,
};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, LocalChain};
use node_kernel::{plan, run, Profile, ProfileSource};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

// Nothing here names the plugin: this keeps it linked, and its registration with it.
use node_blocknotify as _;

/// Bounds every wait, so a broken plugin fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(10);

/// What the stand-in chain hands the test once the node has started it.
struct Started {
    chain: Arc<LocalChain>,
    shutdown: CancellationToken,
}

static STARTED: Mutex<Option<oneshot::Sender<Started>>> = Mutex::new(None);

/// The chain module's part, as far as blocknotify sees it: the chain services, and every
/// change published on the event bus.
struct StandInChain;

#[async_trait]
impl Module for StandInChain {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let spec = ChainSpec::by_name(&ctx.node().chain).map_err(|e| e.to_string())?;
        let bus = ctx.events().clone();
        let path = ctx.datadir().join("chain");
        let chain = LocalChain::open(&path, spec, ChainOptions::default(), move |event| {
            bus.publish(event)
        })?;
        ctx.provide::<dyn ChainView>(chain.clone())?;
        ctx.provide::<dyn ChainWriter>(chain.clone())?;
        if let Some(started) = STARTED.lock().unwrap().take() {
            let shutdown = ctx.shutdown_token();
            let _ = started.send(Started { chain, shutdown });
        }
        Ok(())
    }
}

inventory::submit! {
    ModuleFactory {
        name: "chain",
        description: "the chain services over a LocalChain (test stand-in)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[services::CHAIN, services::CHAIN_WRITER],
        needs: &[],
        uses: &[],
        methods: &[],
        build: |_| Ok(Box::new(StandInChain)),
    }
}

fn profile(dir: &Path, blocknotify: &str) -> Result<node_kernel::Plan, String> {
    let path = dir.join("profile.toml");
    // blocknotify is listed first: its need of `chain` must still start the chain first.
    let text = format!(
        "[node]\nmodules = [\"blocknotify\", \"chain\"]\nchain = \"regtest\"\n\n[blocknotify]\n{blocknotify}\n"
    );
    std::fs::write(&path, text).unwrap();
    let profile = Profile::load(&ProfileSource::File(path), [], &[], Some(dir.join("data")))
        .map_err(|e| e.to_string())?;
    plan(profile).map_err(|e| e.to_string())
}

/// The lines of `file` once it holds `count` of them, or what it held at the deadline.
async fn lines_once(file: &Path, count: usize) -> Vec<String> {
    let read = || -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while read().len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    read()
}

#[tokio::test]
async fn each_new_tip_runs_the_command_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let tips = dir.path().join("tips");
    let plan = profile(
        dir.path(),
        &format!("command = \"echo %s >> '{}'\"", tips.display()),
    )
    .unwrap();
    let order: Vec<&str> = plan.modules.iter().map(|m| m.factory.name).collect();
    assert_eq!(order, ["chain", "blocknotify"]);

    let (tx, rx) = oneshot::channel();
    *STARTED.lock().unwrap() = Some(tx);
    let node = tokio::spawn(run(plan));
    let Started { chain, shutdown } = tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("the node starts in time")
        .unwrap();

    let mut builder = Builder::new(chain.state());
    let mut hashes = Vec::new();
    for _ in 0..2 {
        let block = builder.next_block(&Wallet::new(1), vec![]);
        chain.accept_block(&block).unwrap();
        hashes.push(block.header.hash().to_string());
    }
    assert_eq!(chain.tip().hash.to_string(), hashes[1]);
    assert_eq!(lines_once(&tips, 2).await, hashes);

    shutdown.cancel();
    tokio::time::timeout(DEADLINE, node)
        .await
        .expect("the node stops in time")
        .unwrap()
        .unwrap();
}

#[test]
fn a_profile_without_a_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = profile(dir.path(), "timeout_secs = 5").err().unwrap();
    assert!(
        error.contains("[blocknotify]") && error.contains("command"),
        "{error}"
    );
    let error = profile(dir.path(), "comand = \"true\"").err().unwrap();
    assert!(error.contains("comand"), "{error}");
}
