//! What a module receives when it starts: the only door to the rest of the node.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::error::BoxError;
use crate::events::EventBus;
use crate::http::{HttpHub, Route};
use crate::profile::NodeSettings;
use crate::rpc::{Method, MethodEntry, RpcError, RpcParams, RpcRegistry, RunOn};
use crate::services::{Later, Service, ServiceDecl, Services};
use crate::tasks::{TaskOutcome, TaskSpawner};
use crate::DataDir;

/// Cleanup that runs after a module's tasks have ended.
pub(crate) type StopHook = Box<dyn FnOnce() -> Result<(), BoxError> + Send>;

/// What a module declared in its factory that its start is held to: the services it may
/// provide, need and use. Copied from the factory, so that this file does not depend on
/// the module trait's (which names [`StartContext`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Declared {
    pub(crate) name: &'static str,
    pub(crate) provides: &'static [ServiceDecl],
    pub(crate) needs: &'static [ServiceDecl],
    pub(crate) uses: &'static [ServiceDecl],
}

fn declares<S: Service + ?Sized>(list: &[ServiceDecl]) -> bool {
    list.iter().any(ServiceDecl::is::<S>)
}

/// What a module gets when it starts. It owns what it holds, so a module may keep parts
/// of it (the spawner, the event bus) in its tasks.
pub struct StartContext {
    pub(crate) factory: Declared,
    pub(crate) node: Arc<NodeSettings>,
    pub(crate) datadir: Arc<DataDir>,
    pub(crate) services: Arc<Services>,
    pub(crate) events: EventBus,
    pub(crate) rpc: Arc<RpcRegistry>,
    pub(crate) http: Arc<HttpHub>,
    pub(crate) spawner: TaskSpawner,
    pub(crate) shutdown: CancellationToken,
    pub(crate) stop_hooks: Arc<Mutex<Vec<StopHook>>>,
}

impl StartContext {
    /// The module's name.
    pub fn module(&self) -> &'static str {
        self.factory.name
    }

    /// Node-wide settings.
    pub fn node(&self) -> &NodeSettings {
        &self.node
    }

    /// The locked data directory.
    pub fn datadir(&self) -> &Path {
        self.datadir.path()
    }

    /// Provides service `S` to the modules that start after this one. `S` must be among
    /// the services the module's factory declares in `provides` (compared by type, so a
    /// declaration of another type under the same name does not count).
    pub fn provide<S: Service + ?Sized>(&self, handle: Arc<S>) -> Result<(), BoxError> {
        if !declares::<S>(self.factory.provides) {
            return Err(format!(
                "module {:?} provides service {:?} ({}) without declaring it in `provides`",
                self.module(),
                S::NAME,
                std::any::type_name::<S>()
            )
            .into());
        }
        self.services
            .provide(self.module(), handle)
            .map_err(Into::into)
    }

    /// Service `S`, which the module's factory declares in `needs`. The profile check
    /// already made sure a listed module provides it and starts first.
    pub fn require<S: Service + ?Sized>(&self) -> Result<Arc<S>, BoxError> {
        if !declares::<S>(self.factory.needs) {
            return Err(self.undeclared::<S>("needs"));
        }
        self.services.get::<S>().ok_or_else(|| {
            format!(
                "module {:?} needs service {:?}, but its provider did not provide it",
                self.module(),
                S::NAME
            )
            .into()
        })
    }

    /// Service `S` if a running module provides it; the factory declares it in `uses`.
    pub fn get<S: Service + ?Sized>(&self) -> Result<Option<Arc<S>>, BoxError> {
        if !declares::<S>(self.factory.uses) && !declares::<S>(self.factory.needs) {
            return Err(self.undeclared::<S>("uses"));
        }
        Ok(self.services.get::<S>())
    }

    /// Service `S`, declared in `uses`, looked up at each use: for a service whose
    /// provider starts after this module because it needs this module (a `uses` that
    /// closes a cycle yields, see the start order).
    pub fn get_later<S: Service + ?Sized>(&self) -> Result<Later<S>, BoxError> {
        if !declares::<S>(self.factory.uses) {
            return Err(self.undeclared::<S>("uses"));
        }
        Ok(Later::new(self.services.clone()))
    }

    fn undeclared<S: Service + ?Sized>(&self, list: &str) -> BoxError {
        format!(
            "module {:?} asks for service {:?} ({}) without declaring it in `{list}`, so it may start before its provider",
            self.module(),
            S::NAME,
            std::any::type_name::<S>()
        )
        .into()
    }

    /// The event bus shared by every module.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// JSON-RPC methods; the rpc module serves whatever is registered here. Methods are
    /// registered under this module's name and removed when it stops.
    pub fn rpc(&self) -> &Arc<RpcRegistry> {
        &self.rpc
    }

    /// Registers a table of synchronous methods over one shared state, under this
    /// module's name; see [`RpcRegistry::register_table`].
    pub fn register_methods<S: Send + Sync + 'static>(
        &self,
        state: &Arc<S>,
        run: RunOn,
        methods: &[MethodEntry<S>],
    ) -> Result<(), BoxError> {
        self.rpc
            .register_table(self.module(), state, run, methods)
            .map_err(Into::into)
    }

    /// Registers one method with an async handler, under this module's name; the factory
    /// lists the same constant in `methods`.
    pub fn register_method<F, Fut>(&self, method: &Method, handler: F) -> Result<(), BoxError>
    where
        F: Fn(RpcParams) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<serde_json::Value, RpcError>> + Send + 'static,
    {
        self.rpc
            .register(
                self.module(),
                method.name,
                method.params,
                method.help,
                handler,
            )
            .map_err(Into::into)
    }

    /// Serves `routes` over HTTP on `listen` until the node stops. Modules that give the
    /// same address share one listener (a path taken twice is an error). Returns the
    /// address bound, which differs from `listen` when it asked for port 0.
    pub async fn serve_http(
        &self,
        listen: SocketAddr,
        routes: Vec<Route>,
    ) -> Result<SocketAddr, BoxError> {
        self.http
            .serve(self.module(), listen, routes, self.shutdown.clone())
            .await
    }

    /// The HTTP hub, for the module that authenticates requests (the rpc module sets the
    /// credentials that authenticated routes accept).
    pub fn http(&self) -> &Arc<HttpHub> {
        &self.http
    }

    /// Fires when this module must stop; every task of the module watches it.
    pub fn cancel_token(&self) -> tokio_util::sync::CancellationToken {
        self.spawner.cancel_token()
    }

    /// A spawner of this module's tasks, for tasks that spawn more (a listener and its
    /// connections).
    pub fn spawner(&self) -> TaskSpawner {
        self.spawner.clone()
    }

    /// Spawns a tracked task named `task`; see [`TaskSpawner::spawn`].
    pub fn spawn<F>(&self, task: &'static str, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        self.spawner.spawn(task, future);
    }

    /// Spawns a tracked blocking task named `task`; see [`TaskSpawner::spawn_blocking`].
    pub fn spawn_blocking<F, T>(&self, task: &'static str, work: F)
    where
        F: FnOnce() -> T + Send + 'static,
        T: TaskOutcome,
    {
        self.spawner.spawn_blocking(task, work);
    }

    /// Runs `hook` when the module stops, after all its tasks have ended (removing a
    /// cookie file, flushing a store).
    pub fn on_stop(&self, hook: impl FnOnce() -> Result<(), BoxError> + Send + 'static) {
        self.stop_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// Writes `addr` to `DATADIR/NAME` (atomically: a reader sees the whole line or no
    /// file) and removes the file when the module stops, so that a listener bound on
    /// port 0 can be found by clients and tests (`peers.addr`, `rpc.addr`). Returns the
    /// file's path.
    pub fn publish_address(&self, name: &str, addr: SocketAddr) -> Result<PathBuf, BoxError> {
        let path = self.datadir().join(name);
        let tmp = self.datadir().join(format!("{name}.tmp"));
        std::fs::write(&tmp, format!("{addr}\n"))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let removed = path.clone();
        self.on_stop(move || match std::fs::remove_file(&removed) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", removed.display()).into())
            }
            _ => Ok(()),
        });
        Ok(path)
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
