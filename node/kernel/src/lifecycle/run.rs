//! Running a plan: start in order, wait for a signal, a shutdown request or a failed
//! task, stop in reverse, joining every task.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::{StartContext, StopHook};
use crate::error::{BoxError, KernelError};
use crate::events::EventBus;
use crate::http::HttpHub;
use crate::module::ModuleFactory;
use crate::rpc::RpcRegistry;
use crate::services::Services;
use crate::tasks::TaskSpawner;
use crate::DataDir;

use super::methods::register_kernel_methods;
use super::plan::Plan;
use crate::context::Declared;

/// How long a module's tasks get to end after its token fires before the kernel reports
/// them and moves on, so one stuck task cannot hold the node forever.
const STOP_GRACE: Duration = Duration::from_secs(15);

struct Running {
    name: &'static str,
    cancel: CancellationToken,
    tasks: TaskTracker,
    stop_hooks: Arc<Mutex<Vec<StopHook>>>,
}

/// Runs a plan until SIGINT, SIGTERM, a shutdown request (the `stop` RPC) or a failed
/// task, then stops every module in reverse order. A failed task makes the result an
/// error naming its module and task, so the process exits non-zero.
pub async fn run(plan: Plan) -> Result<(), KernelError> {
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_error)?;

    let Plan {
        profile,
        modules,
        warnings,
        absent_methods,
        log_control,
    } = plan;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let datadir = Arc::new(DataDir::open(&profile.node.datadir)?);
    let node = Arc::new(profile.node.clone());
    let services = Arc::new(Services::default());
    let events = EventBus::default();
    let rpc = Arc::new(RpcRegistry::default());
    rpc.set_absent_methods(absent_methods);
    let http = Arc::new(HttpHub::default());
    let shutdown = CancellationToken::new();
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel();

    let summary: Vec<serde_json::Value> = modules
        .iter()
        .map(|m| {
            json!({
                "name": m.factory.name,
                "description": m.factory.description,
                "strategies": m.strategies,
                "config": m.config,
            })
        })
        .collect();
    register_kernel_methods(&rpc, &shutdown, summary, &profile, log_control).map_err(|reason| {
        KernelError::Start {
            module: "kernel".to_string(),
            reason,
        }
    })?;

    let names: Vec<&str> = modules.iter().map(|m| m.factory.name).collect();
    tracing::info!(
        profile = %profile.node.profile,
        chain = %profile.node.chain,
        datadir = %profile.node.datadir.display(),
        modules = %names.join(", "),
        "starting node"
    );

    let mut running: Vec<Running> = Vec::new();
    for planned in modules {
        let name = planned.factory.name;
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let stop_hooks = Arc::new(Mutex::new(Vec::new()));
        let ctx = StartContext {
            factory: Declared {
                name: planned.factory.name,
                provides: planned.factory.provides,
                needs: planned.factory.needs,
                uses: planned.factory.uses,
            },
            node: node.clone(),
            datadir: datadir.clone(),
            services: services.clone(),
            events: events.clone(),
            rpc: rpc.clone(),
            http: http.clone(),
            spawner: TaskSpawner::new(name, tasks.clone(), cancel.clone(), fail_tx.clone()),
            shutdown: shutdown.clone(),
            stop_hooks: stop_hooks.clone(),
        };
        tracing::debug!(module = name, "starting");
        let started = planned.module.start(ctx).await;
        running.push(Running {
            name,
            cancel,
            tasks,
            stop_hooks,
        });
        let started = started.and_then(|()| registers_what_it_declares(&rpc, planned.factory));
        if let Err(e) = started {
            tracing::error!(module = name, "failed to start: {e}");
            // The failed module may have spawned tasks before failing: stop it too.
            shutdown.cancel();
            stop_all(running, &rpc, &http).await;
            return Err(KernelError::Start {
                module: name.to_string(),
                reason: e.to_string(),
            });
        }
        // A task may have failed while later modules were starting.
        if let Ok(failure) = fail_rx.try_recv() {
            shutdown.cancel();
            stop_all(running, &rpc, &http).await;
            return Err(KernelError::Failed {
                module: failure.module.to_string(),
                task: failure.task.to_string(),
                reason: failure.reason,
            });
        }
    }
    tracing::info!("node running");

    let failure = tokio::select! {
        _ = sigint.recv() => { tracing::info!("SIGINT received, stopping"); None }
        _ = sigterm.recv() => { tracing::info!("SIGTERM received, stopping"); None }
        _ = shutdown.cancelled() => { tracing::info!("shutdown requested, stopping"); None }
        failed = fail_rx.recv() => failed,
    };
    shutdown.cancel();
    let stop_error = stop_all(running, &rpc, &http).await;
    tracing::info!("node stopped");
    if let Some(failure) = failure {
        return Err(KernelError::Failed {
            module: failure.module.to_string(),
            task: failure.task.to_string(),
            reason: failure.reason,
        });
    }
    match stop_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Stops modules in reverse start order: cancel, wait for the tasks, then the module's
/// stop hooks; last, the HTTP listeners.
async fn stop_all(running: Vec<Running>, rpc: &RpcRegistry, http: &HttpHub) -> Option<KernelError> {
    let mut first_error = None;
    for m in running.into_iter().rev() {
        tracing::debug!(module = m.name, "stopping");
        rpc.unregister_module(m.name);
        http.remove_module(m.name);
        m.cancel.cancel();
        m.tasks.close();
        if tokio::time::timeout(STOP_GRACE, m.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                module = m.name,
                tasks = m.tasks.len(),
                "tasks did not end within {STOP_GRACE:?}"
            );
        }
        let hooks = std::mem::take(&mut *m.stop_hooks.lock().unwrap_or_else(|e| e.into_inner()));
        for hook in hooks {
            if let Err(e) = hook() {
                tracing::error!(module = m.name, "failed to stop: {e}");
                first_error.get_or_insert(KernelError::Stop {
                    module: m.name.to_string(),
                    reason: e.to_string(),
                });
            }
        }
        tracing::debug!(module = m.name, "stopped");
    }
    if tokio::time::timeout(STOP_GRACE, http.wait()).await.is_err() {
        tracing::warn!("HTTP connections did not end within {STOP_GRACE:?}");
    }
    first_error
}

fn signal_error(e: std::io::Error) -> KernelError {
    KernelError::Start {
        module: "kernel".to_string(),
        reason: format!("cannot install signal handlers: {e}"),
    }
}

/// Whether module `factory` registered exactly the RPC methods its factory declares in
/// `methods`: the kernel names a method's module from that list when the module does not
/// run, so one left out would answer "Method not found", and one listed but never
/// registered would blame a module that does not serve it.
fn registers_what_it_declares(
    rpc: &RpcRegistry,
    factory: &'static ModuleFactory,
) -> Result<(), BoxError> {
    let declared: BTreeSet<&str> = factory.method_names().into_iter().collect();
    let registered: BTreeSet<String> = rpc
        .methods()
        .into_iter()
        .filter(|(_, m)| m.module == factory.name)
        .map(|(method, _)| method)
        .collect();
    let undeclared: Vec<&str> = registered
        .iter()
        .map(String::as_str)
        .filter(|m| !declared.contains(m))
        .collect();
    let unregistered: Vec<&str> = declared
        .iter()
        .copied()
        .filter(|m| !registered.contains(*m))
        .collect();
    let mut problems = Vec::new();
    if !undeclared.is_empty() {
        problems.push(format!(
            "registered RPC methods its factory does not declare in `methods`: {}",
            undeclared.join(", ")
        ));
    }
    if !unregistered.is_empty() {
        problems.push(format!(
            "did not register RPC methods its factory declares in `methods`: {}",
            unregistered.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} (declare them with the constants it registers, `methods: &[&METHODS]`)",
            problems.join("; ")
        )
        .into())
    }
}
