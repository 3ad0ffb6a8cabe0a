//! The contracts between `node`'s modules: the one crate a module or plugin depends on.
//!
//! What it holds:
//! - the kernel's module surface, re-exported ([`Module`], [`ModuleFactory`],
//!   [`StartContext`], [`StrategyFactory`], [`Behaviour`], RPC and HTTP registration);
//! - the formats, re-exported: [`chain`] (blocks, transactions, rules, chain specs) and
//!   [`p2p`] (the P2P wire format);
//! - the services modules exchange, each a narrow trait provided and required by type
//!   (`ctx.require::<dyn ChainView>()`): [`ChainView`] (read-only chain) and
//!   [`ChainWriter`] (accepting blocks and headers), [`MempoolService`], [`PeerService`]
//!   (in parts: [`PeerMessaging`], [`PeerInventory`], [`PeerAdmin`]),
//!   [`MinerService`], [`WalletService`], [`CompactBlocks`] (which peers' new blocks are
//!   asked compact, BIP152), [`ScriptHistory`] (confirmed history by output script), declared in a factory's
//!   `provides`/`needs`/`uses` by type with [`service`] (`service::<dyn ChainView>()`);
//! - the behaviours a profile chooses by name whose contracts a third party implements:
//!   [`MempoolPolicy`] ([`POLICY`]), [`Broadcast`] ([`BROADCAST`]) and [`SyncStrategy`]
//!   ([`STRATEGY`], with its narrow [`SyncContext`]);
//! - the events modules publish: [`chain::ChainEvent`], [`MempoolEvent`],
//!   [`p2p::PeerEvent`];
//! - the metrics facade ([`metrics`]): modules record and declare their histograms'
//!   buckets, an exporter installs a recorder;
//!   [`monitoring_listen`] is where the monitoring plugins listen by default.
//!
//! - the chain stream ([`ChainStream`], `chain-stream`): the main chain's changes as
//!   ordered, lossless [`ChainStep`]s from a snapshot, for plugins that follow the chain
//!   at their own pace without the bus's losses;
//!
//! Invariants: state that must agree with the tip (the mempool, a wallet's view, the
//! next template) follows it through [`ChainListener`], called in order inside the step
//! that connects or disconnects a block; the event bus is for observers and may lag.
//!
//! What it never holds: a module's implementation. A crate under `modules/` or
//! `plugins/` depends on this crate, never on another module's (a test checks it).

mod broadcast;
mod chain_stream;
mod chain_view;
pub mod json;
mod mempool;
mod miner;
mod monitoring;
mod peers;
mod script_history;
mod sync_strategy;
mod wallet;

pub use broadcast::{Broadcast, BroadcastContext, CompactBlocks, BROADCAST};
pub use chain_stream::{
    BlockId, ChainStep, ChainStream, ChainSubscription, StreamError, StreamStart,
};
pub use chain_view::{ChainListener, ChainView, ChainWriter, PendingBlock};
pub use mempool::{
    Accepted, Admitted, EntryInfo, MempoolError, MempoolEvent, MempoolInfo, MempoolPolicy,
    MempoolService, SelectedTx, POLICY,
};
pub use miner::{MinerService, MinerStatus};
pub use monitoring::{monitoring_listen, MONITORING_PORT_OFFSET};
pub use peers::{MakeAnnouncement, PeerAdmin, PeerInventory, PeerMessaging, PeerService};
pub use script_history::{HistoryRow, ScriptHistory};
pub use sync_strategy::{is_limited, SyncContext, SyncStrategy, STRATEGY};
pub use wallet::WalletService;

pub mod metrics {
    //! The metrics facade (the `metrics` crate, re-exported whole): modules record, an
    //! exporter module installs a recorder (the `metrics` plugin: Prometheus at
    //! `/metrics`).
    //!
    //! A handle (`counter!`, `gauge!`, `histogram!`) is resolved against the recorder
    //! installed when it is taken, and one taken while none is installed records nothing,
    //! ever. The kernel installs a listed exporter's recorder ([`MetricsRecorder`]) before
    //! it builds any module, so handles taken in a module's `build` or `start` record
    //! whatever the order of `[node] modules`; a handle taken earlier (a `static`
    //! initialised before the node is planned) is lost.
    //!
    //! A histogram is declared beside the code that records it, with its buckets and its
    //! help text ([`HistogramBuckets`], submitted with `inventory::submit!`): the
    //! exporter renders it as those buckets, not as a summary.
    pub use ::metrics::*;
    pub use node_kernel::metrics::{registered_histograms, HistogramBuckets, MetricsRecorder};
}
pub use node_chain as chain;
pub use node_kernel::http::{self, Access, HttpRequest, HttpResponse, Route};
pub use node_kernel::rpc::{
    self, Method, MethodEntry, MethodList, Param, ParamKind, RpcError, RpcParams, RpcRegistry,
    RunOn,
};
pub use node_kernel::{
    async_trait, inventory, registered_modules, registered_strategies, service, without_settings,
    Behaviour, BoxError, BuiltStrategy, ConfigError, EventBus, Later, Module, ModuleConfig,
    ModuleFactory, NodeSettings, Profile, Service, ServiceDecl, StartContext, StrategyConfig,
    StrategyFactory, TaskOutcome, TaskSpawner,
};
pub use node_p2p as p2p;

impl Service for dyn ChainView {
    const NAME: &'static str = "chain";
}
impl Service for dyn ChainWriter {
    const NAME: &'static str = "chain-writer";
}
impl Service for dyn MempoolService {
    const NAME: &'static str = "mempool";
}
impl Service for dyn PeerService {
    const NAME: &'static str = "peers";
}
impl Service for dyn MinerService {
    const NAME: &'static str = "miner";
}
impl Service for dyn WalletService {
    const NAME: &'static str = "wallet";
}
impl Service for dyn CompactBlocks {
    const NAME: &'static str = "compact-blocks";
}
impl Service for dyn ScriptHistory {
    const NAME: &'static str = "script-history";
}
impl Service for dyn ChainStream {
    const NAME: &'static str = "chain-stream";
}
