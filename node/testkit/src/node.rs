//! An in-process node: the kernel's `plan` and `run` on a profile the test writes, on a
//! temporary data directory, with a probe module that hands the test the services.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use node_api::chain::{Block, Transaction};
use node_api::{
    async_trait, inventory, service, Accepted, BoxError, ChainStream, ChainView, ChainWriter,
    EventBus, MempoolError, MempoolService, MinerService, Module, ModuleFactory, PeerService,
    RpcError, RpcRegistry, StartContext, StreamStart, WalletService,
};
use node_kernel::http::HttpHub;
use node_kernel::{plan, run, KernelError, Profile, ProfileSource};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::mine::{mine_block, MineError};
use crate::{RecordingPeers, StreamFollower, DEADLINE};

/// What the probe found when the node started it (after every other module).
struct Probe {
    chain: Arc<dyn ChainView>,
    writer: Arc<dyn ChainWriter>,
    stream: Arc<dyn ChainStream>,
    mempool: Option<Arc<dyn MempoolService>>,
    peers: Option<Arc<dyn PeerService>>,
    wallet: Option<Arc<dyn WalletService>>,
    miner: Option<Arc<dyn MinerService>>,
    rpc: Arc<RpcRegistry>,
    http: Arc<HttpHub>,
    events: EventBus,
    shutdown: CancellationToken,
}

/// Nodes starting, by data directory: each test's node finds its own probe channel (and
/// recording peers), so tests in one binary run side by side.
static STARTING: Mutex<BTreeMap<PathBuf, oneshot::Sender<Probe>>> = Mutex::new(BTreeMap::new());
static RECORDING: Mutex<BTreeMap<PathBuf, Arc<RecordingPeers>>> = Mutex::new(BTreeMap::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn key(datadir: &Path) -> PathBuf {
    datadir
        .canonicalize()
        .unwrap_or_else(|_| datadir.to_path_buf())
}

struct ProbeModule;

#[async_trait]
impl Module for ProbeModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let probe = Probe {
            chain: ctx.require::<dyn ChainView>()?,
            writer: ctx.require::<dyn ChainWriter>()?,
            stream: ctx.require::<dyn ChainStream>()?,
            mempool: ctx.get::<dyn MempoolService>()?,
            peers: ctx.get::<dyn PeerService>()?,
            wallet: ctx.get::<dyn WalletService>()?,
            miner: ctx.get::<dyn MinerService>()?,
            rpc: ctx.rpc().clone(),
            http: ctx.http().clone(),
            events: ctx.events().clone(),
            shutdown: ctx.shutdown_token(),
        };
        let waiting = lock(&STARTING).remove(&key(ctx.datadir()));
        match waiting {
            Some(sender) => {
                // The test may have given up waiting; the node then stops with it.
                let _ = sender.send(probe);
                Ok(())
            }
            None => Err("the testkit module runs only in a node started by TestNode".into()),
        }
    }
}

inventory::submit! {
    ModuleFactory {
        name: "testkit",
        description: "hands a test the services of an in-process node (node-testkit)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[service::<dyn ChainView>(), service::<dyn ChainWriter>(), service::<dyn ChainStream>()],
        uses: &[service::<dyn MempoolService>(), service::<dyn PeerService>(), service::<dyn WalletService>(), service::<dyn MinerService>()],
        methods: &[],
        build: |_| Ok(Box::new(ProbeModule)),
    }
}

struct RecordingPeersModule;

#[async_trait]
impl Module for RecordingPeersModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let peers = lock(&RECORDING)
            .remove(&key(ctx.datadir()))
            .ok_or("the testkit-peers module runs only in a node started by TestNode")?;
        ctx.provide::<dyn PeerService>(peers)?;
        Ok(())
    }
}

inventory::submit! {
    ModuleFactory {
        name: "testkit-peers",
        description: "a recording peers service with no network (node-testkit)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn PeerService>()],
        needs: &[],
        uses: &[],
        methods: &[],
        build: |_| Ok(Box::new(RecordingPeersModule)),
    }
}

/// Chooses the modules and profile tables of a [`TestNode`].
#[derive(Default)]
pub struct TestNodeBuilder {
    modules: Vec<String>,
    tables: String,
    peers: Option<Arc<RecordingPeers>>,
}

impl TestNodeBuilder {
    /// Runs module `name` too (its crate must be linked into the test binary). The
    /// chain module always runs.
    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_string());
        self
    }

    /// Adds profile text after `[node]`: module tables (`"[mempool]\nmax_bytes = 1000"`).
    pub fn profile(mut self, toml: &str) -> Self {
        self.tables.push_str(toml);
        self.tables.push('\n');
        self
    }

    /// Provides `peers` as the peers service (instead of the peers module): what
    /// modules send and announce is recorded there, and no socket is opened.
    pub fn recording_peers(mut self, peers: Arc<RecordingPeers>) -> Self {
        self.peers = Some(peers);
        self
    }

    /// Starts the node and waits until every module has started.
    pub async fn start(self) -> Result<TestNode, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let datadir = dir.path().join("data");
        std::fs::create_dir_all(&datadir).map_err(|e| e.to_string())?;
        let mut modules = vec!["chain".to_string()];
        modules.extend(self.modules.iter().filter(|m| *m != "chain").cloned());
        if self.peers.is_some() {
            modules.push("testkit-peers".to_string());
        }
        modules.push("testkit".to_string());
        let list: Vec<String> = modules.iter().map(|m| format!("{m:?}")).collect();
        let text = format!(
            "[node]\nmodules = [{}]\nchain = \"regtest\"\n\n{}",
            list.join(", "),
            self.tables
        );
        let path = dir.path().join("profile.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        let profile = Profile::load(&ProfileSource::File(path), [], &[], Some(datadir.clone()))
            .map_err(|e| e.to_string())?;
        let plan = plan(profile).map_err(|e| e.to_string())?;
        let (sender, receiver) = oneshot::channel();
        let key = key(&datadir);
        lock(&STARTING).insert(key.clone(), sender);
        if let Some(peers) = &self.peers {
            lock(&RECORDING).insert(key.clone(), peers.clone());
        }
        let mut task = tokio::spawn(run(plan));
        let probe = tokio::select! {
            probe = receiver => probe.map_err(|_| "the node started without its probe".to_string()),
            ended = &mut task => Err(match ended {
                Ok(Ok(())) => "the node stopped while starting".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            }),
            () = tokio::time::sleep(DEADLINE) => Err("the node did not start in time".to_string()),
        };
        lock(&STARTING).remove(&key);
        lock(&RECORDING).remove(&key);
        let probe = probe?;
        Ok(TestNode {
            probe,
            recording: self.peers,
            task,
            datadir,
            _dir: dir,
        })
    }
}

/// A node running in this process on a temporary data directory; stopped by
/// [`TestNode::stop`] (dropped, it is cancelled with the test's runtime).
pub struct TestNode {
    probe: Probe,
    recording: Option<Arc<RecordingPeers>>,
    task: JoinHandle<Result<(), KernelError>>,
    datadir: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// Chooses modules and tables.
    pub fn builder() -> TestNodeBuilder {
        TestNodeBuilder::default()
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<dyn ChainView> {
        &self.probe.chain
    }

    /// The chain's writer.
    pub fn writer(&self) -> &Arc<dyn ChainWriter> {
        &self.probe.writer
    }

    /// The chain stream.
    pub fn stream(&self) -> &Arc<dyn ChainStream> {
        &self.probe.stream
    }

    /// The mempool, when a module provides it.
    pub fn mempool(&self) -> Option<&Arc<dyn MempoolService>> {
        self.probe.mempool.as_ref()
    }

    /// The peers service, when a module provides it.
    pub fn peers(&self) -> Option<&Arc<dyn PeerService>> {
        self.probe.peers.as_ref()
    }

    /// The recording peers given to the builder.
    pub fn recording_peers(&self) -> Option<&Arc<RecordingPeers>> {
        self.recording.as_ref()
    }

    /// The wallet, when a module provides it.
    pub fn wallet(&self) -> Option<&Arc<dyn WalletService>> {
        self.probe.wallet.as_ref()
    }

    /// The miner, when a module provides it.
    pub fn miner(&self) -> Option<&Arc<dyn MinerService>> {
        self.probe.miner.as_ref()
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.probe.events
    }

    /// The data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// Calls an RPC method in-process, as the RPC server would (no HTTP, no auth).
    pub async fn rpc(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        self.probe.rpc.call(method, params).await
    }

    /// Mines `count` blocks on the tip paying [`crate::miner_key`], each with what the
    /// mempool selects (when one runs); returns them once each is the tip.
    pub async fn mine(&self, count: usize) -> Result<Vec<Block>, MineError> {
        self.mine_to(count, &crate::miner_key().script()).await
    }

    /// [`TestNode::mine`], paying `script` (a P2PKH output script).
    pub async fn mine_to(&self, count: usize, script: &[u8]) -> Result<Vec<Block>, MineError> {
        let chain = self.probe.chain.clone();
        let writer = self.probe.writer.clone();
        let mempool = self.probe.mempool.clone();
        let script = script.to_vec();
        tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|_| {
                    let txs = mempool
                        .as_ref()
                        .map(|m| m.select(usize::MAX, usize::MAX))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| (*s.tx).clone())
                        .collect();
                    mine_block(&*chain, &*writer, txs, &script)
                })
                .collect()
        })
        .await
        .map_err(|e| MineError::Refused(node_api::chain::ChainError::Corrupt(e.to_string())))?
    }

    /// Hands a transaction to the mempool as a local client would.
    pub fn send(&self, tx: Transaction) -> Result<Accepted, MempoolError> {
        match &self.probe.mempool {
            Some(mempool) => mempool.accept(tx),
            None => Err(MempoolError::NonStandard(
                "no mempool module in this test node".to_string(),
            )),
        }
    }

    /// Follows the chain stream from `start`.
    pub fn follow(&self, start: StreamStart) -> StreamFollower {
        let subscription = self
            .probe
            .stream
            .subscribe(start)
            .expect("a start at or below the tip");
        StreamFollower::new(self.probe.chain.clone(), subscription)
    }

    /// What the node exports at `/metrics` now (its profile runs the `metrics` module:
    /// `.module("metrics").profile("[metrics]\nlisten = \"127.0.0.1:0\"")`). Read a
    /// series with [`crate::metric_value`] or [`TestNode::metric`].
    pub async fn scrape_metrics(&self) -> Result<String, String> {
        let addr = self
            .probe
            .http
            .address_of("/metrics")
            .await
            .ok_or("no module serves /metrics: add the metrics module to the node")?;
        crate::metrics::http_get(addr, "/metrics").await
    }

    /// The value of one series at `/metrics` now (see [`crate::metric_value`]); `Err`
    /// when the scrape fails or the series is absent.
    pub async fn metric(&self, series: &str) -> Result<f64, String> {
        let text = self.scrape_metrics().await?;
        crate::metric_value(&text, series)
            .ok_or_else(|| format!("no series {series} at /metrics:\n{text}"))
    }

    /// Stops the node as SIGTERM would, and waits until every task has ended.
    pub async fn stop(self) -> Result<(), String> {
        self.probe.shutdown.cancel();
        match tokio::time::timeout(DEADLINE, self.task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the node did not stop in time".to_string()),
        }
    }
}
