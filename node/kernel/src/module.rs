//! The module trait, the build-time registry of module factories, and what a module gets
//! when it starts.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ConfigError;
use crate::events::EventBus;
use crate::profile::NodeSettings;
use crate::rpc::RpcRegistry;
use crate::services::Services;
use crate::strategy::{self, StrategyFactory};
use crate::DataDir;

/// The error a module returns from `start` or `stop`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A part of the node that the profile can switch on.
///
/// `start` registers the services it provides, spawns its tasks on the context's tracker
/// and returns at once. Its tasks end when the context's cancellation token fires; `stop`
/// then runs, after every task of the module has ended, for cleanup that needs no task
/// (removing a file, flushing).
pub trait Module: Send {
    /// Starts the module.
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError>;

    /// Cleans up after the module's tasks have ended.
    fn stop(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A registry entry: how to build a module from its profile table.
///
/// Submitted with `inventory::submit!` in the module's own crate.
pub struct ModuleFactory {
    /// The name used in `[node] modules` and as the module's table name.
    pub name: &'static str,
    /// One line for `node modules`.
    pub description: &'static str,
    /// Services this module registers in [`Services`] when it starts.
    pub provides: &'static [&'static str],
    /// Services that must be provided by another listed module; it starts first.
    pub needs: &'static [&'static str],
    /// Services used when present: their providers, when listed, start first.
    pub uses: &'static [&'static str],
    /// Parses the module's table and builds the module, without starting anything.
    pub build: fn(&ModuleConfig) -> Result<Box<dyn Module>, ConfigError>,
}

inventory::collect!(ModuleFactory);

/// Every registered module factory, sorted by name. A duplicate name is a build mistake
/// that the registry test catches, so the first one wins here.
pub fn registered_modules() -> BTreeMap<&'static str, &'static ModuleFactory> {
    let mut map = BTreeMap::new();
    for factory in inventory::iter::<ModuleFactory> {
        map.entry(factory.name).or_insert(factory);
    }
    map
}

/// A module's own table of the profile, and the node-wide settings, at build time.
pub struct ModuleConfig {
    pub(crate) table: config::Value,
    pub(crate) node: NodeSettings,
    effective: RefCell<Option<serde_json::Value>>,
    strategies: RefCell<BTreeMap<String, String>>,
}

impl ModuleConfig {
    pub(crate) fn new(table: config::Value, node: NodeSettings) -> Self {
        ModuleConfig {
            table,
            node,
            effective: RefCell::new(None),
            strategies: RefCell::new(BTreeMap::new()),
        }
    }

    /// Deserializes the table into the module's config struct (which should use
    /// `#[serde(default, deny_unknown_fields)]`). The parsed value, defaults included, is
    /// what `listmodules` reports.
    pub fn parse<T: DeserializeOwned + Serialize>(&self) -> Result<T, ConfigError> {
        let parsed: T = self
            .table
            .clone()
            .try_deserialize()
            .map_err(|e| ConfigError::Deserialize(e.to_string()))?;
        let json =
            serde_json::to_value(&parsed).map_err(|e| ConfigError::Deserialize(e.to_string()))?;
        *self.effective.borrow_mut() = Some(json);
        Ok(parsed)
    }

    /// Checks that `name` is a registered strategy of `behaviour` (e.g. "sync strategy")
    /// and records the choice. `key` is the table key that chose it, for the error.
    pub fn choose_strategy(
        &self,
        key: &str,
        behaviour: &str,
        name: &str,
    ) -> Result<&'static StrategyFactory, ConfigError> {
        let found = strategy::find(behaviour, name).ok_or_else(|| ConfigError::InvalidValue {
            key: key.to_string(),
            value: name.to_string(),
            choices: strategy::names(behaviour),
        })?;
        self.strategies
            .borrow_mut()
            .insert(behaviour.to_string(), name.to_string());
        Ok(found)
    }

    /// Node-wide settings: chain name, data directory, profile file.
    pub fn node(&self) -> &NodeSettings {
        &self.node
    }

    pub(crate) fn effective(&self) -> serde_json::Value {
        self.effective.borrow().clone().unwrap_or_else(|| {
            self.table
                .clone()
                .try_deserialize()
                .unwrap_or(serde_json::Value::Null)
        })
    }

    pub(crate) fn strategies(&self) -> BTreeMap<String, String> {
        self.strategies.borrow().clone()
    }
}

/// What a module receives when it starts: the only door to the rest of the node.
pub struct StartContext<'a> {
    /// The module's name.
    pub module: &'static str,
    /// Node-wide settings.
    pub node: &'a NodeSettings,
    /// The locked data directory.
    pub datadir: &'a DataDir,
    /// Typed handles registered by modules started before this one.
    pub services: &'a Services,
    /// The event bus shared by every module.
    pub events: &'a EventBus,
    /// JSON-RPC methods; the rpc module serves whatever is registered here.
    pub rpc: &'a Arc<RpcRegistry>,
    /// Fires when this module must stop; every task of the module watches it.
    pub cancel: CancellationToken,
    /// Tracks this module's tasks; the kernel waits for them before `stop`.
    pub tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) failures: mpsc::UnboundedSender<(String, String)>,
}

impl StartContext<'_> {
    /// Spawns a tracked task. It must end when `cancel` fires.
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(future);
    }

    /// Spawns a tracked task whose error stops the whole node, reported by name.
    pub fn spawn_critical<F, E>(&self, task: &'static str, future: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let failures = self.failures.clone();
        let module = self.module;
        self.tasks.spawn(async move {
            if let Err(e) = future.await {
                tracing::error!(module, task, "critical task failed: {e}");
                let _ = failures.send((module.to_string(), format!("task {task}: {e}")));
            }
        });
    }

    /// Asks the node to shut down (what the `stop` RPC does).
    pub fn request_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// A token that fires when the node is asked to shut down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}
