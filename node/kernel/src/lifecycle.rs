//! Checking a profile against the registry (`plan`) and running the planned modules
//! (`run`): start in dependency order, wait for a signal or a shutdown request, stop in
//! reverse, joining every task.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use config::{Value, ValueKind};
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::context::{StartContext, StopHook};
use crate::error::{KernelError, ProfileError};
use crate::events::EventBus;
use crate::http::HttpHub;
use crate::layers::table_error;
use crate::logging::{self, LogControl};
use crate::memory;
use crate::module::{registered_modules, Module, ModuleConfig, ModuleFactory};
use crate::profile::Profile;
use crate::rpc::{Param, RpcError, RpcParams, RpcRegistry};
use crate::services::Services;
use crate::strategy::registered_strategies;
use crate::tasks::TaskSpawner;
use crate::DataDir;

/// How long a module's tasks get to end after its token fires before the kernel reports
/// them and moves on, so one stuck task cannot hold the node forever.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A module ready to start.
pub struct PlannedModule {
    /// Its registry entry.
    pub factory: &'static ModuleFactory,
    /// The built module.
    pub module: Box<dyn Module>,
    /// Its effective config (defaults included).
    pub config: serde_json::Value,
    /// Strategies it chose, by behaviour: `{"name", "config"}`.
    pub strategies: BTreeMap<String, serde_json::Value>,
}

/// A checked profile: the modules in start order.
pub struct Plan {
    /// The profile.
    pub profile: Profile,
    /// Modules in start order (needs first, then profile order).
    pub modules: Vec<PlannedModule>,
    /// What the operator should read before the node starts (printed by `node check`
    /// and logged by `run`): overrides of modules the profile does not run.
    pub warnings: Vec<String>,
    /// RPC methods of registered modules the profile does not run, and their module:
    /// a call answers which module it belongs to instead of "Method not found".
    pub absent_methods: BTreeMap<String, String>,
    /// The log filter the binary installed, for the `logging` method (none: no method).
    /// [`plan`] leaves it empty; the binary that owns the subscriber sets it.
    pub log_control: Option<Arc<dyn LogControl>>,
}

/// Checks a profile against the registries and builds its modules, without starting
/// anything. The first error is returned.
pub fn plan(mut profile: Profile) -> Result<Plan, ProfileError> {
    let registry = registered_modules().map_err(ProfileError::Registry)?;
    registered_strategies().map_err(ProfileError::Registry)?;
    let file = profile.node.profile.clone();
    let registered: Vec<String> = registry.keys().map(|s| s.to_string()).collect();

    for table in profile.tables.keys() {
        if !registry.contains_key(table.as_str()) {
            let mut valid = vec!["node".to_string()];
            valid.extend(registered.iter().cloned());
            return Err(ProfileError::UnknownTable {
                file,
                name: table.clone(),
                valid,
            });
        }
    }

    let mut seen = BTreeSet::new();
    let mut built = Vec::new();
    for name in &profile.node.modules {
        let factory = *registry
            .get(name.as_str())
            .ok_or_else(|| ProfileError::UnknownModule {
                file: file.clone(),
                name: name.clone(),
                registered: registered.clone(),
            })?;
        if !seen.insert(name.clone()) {
            return Err(ProfileError::DuplicateModule {
                file,
                name: name.clone(),
            });
        }
        let table = profile
            .tables
            .remove(name)
            .unwrap_or_else(|| Value::new(None, ValueKind::Table(Default::default())));
        let config = ModuleConfig::new(table, profile.node.clone());
        let module = (factory.build)(&config)
            .and_then(|module| config.finish().map(|()| module))
            .map_err(|error| table_error(&profile, name, error))?;
        built.push(PlannedModule {
            factory,
            module,
            config: config.effective(),
            strategies: config.strategies(),
        });
    }

    let mut providers: BTreeMap<&str, &str> = BTreeMap::new();
    for m in &built {
        for service in m.factory.provides {
            if let Some(first) = providers.insert(service, m.factory.name) {
                return Err(ProfileError::DuplicateService {
                    file,
                    service: service.to_string(),
                    first: first.to_string(),
                    second: m.factory.name.to_string(),
                });
            }
        }
    }
    for m in &built {
        for service in m.factory.needs {
            if !providers.contains_key(service) {
                return Err(ProfileError::MissingService {
                    file,
                    module: m.factory.name.to_string(),
                    service: service.to_string(),
                    providers: registry
                        .values()
                        .filter(|f| f.provides.contains(service))
                        .map(|f| f.name.to_string())
                        .collect(),
                });
            }
        }
    }

    // An override of a module the profile does not run is still checked against that
    // module's config (a typo fails here), then reported: it has no effect.
    let mut warnings = Vec::new();
    let unlisted: Vec<String> = profile.tables.keys().cloned().collect();
    for name in unlisted {
        let overrides = profile.overrides_in(&name);
        if overrides.is_empty() {
            continue;
        }
        let factory = registry[name.as_str()];
        let table = profile.tables[&name].clone();
        let config = ModuleConfig::new(table, profile.node.clone());
        (factory.build)(&config)
            .and_then(|_| config.finish())
            .map_err(|error| table_error(&profile, &name, error))?;
        warnings.push(format!(
            "{} set{} [{name}], but module {name:?} is not in [node] modules of {file}: \
             {} no effect (add {name:?} to modules to run it)",
            overrides.join(" and "),
            if overrides.len() == 1 { "s" } else { "" },
            if overrides.len() == 1 {
                "it has"
            } else {
                "they have"
            },
        ));
    }

    let listed: BTreeSet<&str> = built.iter().map(|m| m.factory.name).collect();
    let absent_methods = registry
        .values()
        .filter(|f| !listed.contains(f.name))
        .flat_map(|f| {
            f.methods
                .iter()
                .map(|m| (m.to_string(), f.name.to_string()))
        })
        .collect();

    let modules = start_order(built, &providers, &file)?;
    Ok(Plan {
        profile,
        modules,
        warnings,
        absent_methods,
        log_control: None,
    })
}

/// Orders modules so each starts after the providers of what it needs or uses; among
/// modules free to start, profile order decides (see [`next_to_start`] for a `uses`
/// that closes a cycle). A cycle of `needs` is an error.
fn start_order(
    mut pending: Vec<PlannedModule>,
    providers: &BTreeMap<&str, &str>,
    file: &str,
) -> Result<Vec<PlannedModule>, ProfileError> {
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while !pending.is_empty() {
        let waiting: Vec<Waiting<'_>> = pending
            .iter()
            .map(|m| {
                let name = m.factory.name;
                let edges = |services: &[&str]| -> Vec<String> {
                    services
                        .iter()
                        .filter_map(|s| providers.get(s))
                        .filter(|p| **p != name && !started.contains(**p))
                        .map(|p| p.to_string())
                        .collect()
                };
                Waiting {
                    name,
                    needs: edges(m.factory.needs),
                    uses: edges(m.factory.uses),
                }
            })
            .collect();
        match next_to_start(&waiting) {
            Some(i) => {
                let m = pending.remove(i);
                started.insert(m.factory.name.to_string());
                order.push(m);
            }
            None => {
                return Err(ProfileError::Cycle {
                    file: file.to_string(),
                    modules: pending.iter().map(|m| m.factory.name.to_string()).collect(),
                })
            }
        }
    }
    Ok(order)
}

/// A module not started yet and the providers, not started yet either, it needs and uses.
struct Waiting<'a> {
    name: &'a str,
    needs: Vec<String>,
    uses: Vec<String>,
}

/// Which waiting module starts next: the first (in profile order) waiting for nothing;
/// else the first whose `needs` are met and whose every awaited `uses` provider waits,
/// directly or not, for it: that `uses` closes a cycle (the mempool uses the wallet,
/// which needs the mempool) and yields, and the module finds the service later through
/// [`crate::StartContext::get_later`]. `None` when neither exists: a cycle of `needs`.
fn next_to_start(waiting: &[Waiting<'_>]) -> Option<usize> {
    if let Some(free) = waiting
        .iter()
        .position(|m| m.needs.is_empty() && m.uses.is_empty())
    {
        return Some(free);
    }
    // Whether `from` waits, through needs and uses, for `target`.
    let reaches = |from: &str, target: &str| {
        let mut stack = vec![from.to_string()];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some(name) = stack.pop() {
            if name == target {
                return true;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(m) = waiting.iter().find(|m| m.name == name) {
                stack.extend(m.needs.iter().chain(&m.uses).cloned());
            }
        }
        false
    };
    waiting
        .iter()
        .position(|m| m.needs.is_empty() && m.uses.iter().all(|p| reaches(p, m.name)))
}

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
            factory: planned.factory,
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
        let started = started.and_then(|()| {
            let undeclared: Vec<String> = rpc
                .methods()
                .into_iter()
                .filter(|(method, m)| {
                    m.module == name && !planned.factory.methods.contains(&method.as_str())
                })
                .map(|(method, _)| method)
                .collect();
            if undeclared.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "registered RPC methods its factory does not declare in `methods`: {} \
                     (the kernel names a method's module from that list when the module \
                     does not run)",
                    undeclared.join(", ")
                )
                .into())
            }
        });
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

const NO_PARAMS: &[Param] = &[];
const HELP_PARAMS: &[Param] = &[Param::optional("command")
    .string("The command to get help on; all commands when left out")
    .example("\"getblockhash\"")];
const METHOD_PARAMS: &[Param] = &[Param::required("method")
    .string("The method whose parameters to list")
    .example("\"getblock\"")];

/// Methods about the node itself, answered by the kernel.
fn register_kernel_methods(
    rpc: &Arc<RpcRegistry>,
    shutdown: &CancellationToken,
    modules: Vec<serde_json::Value>,
    profile: &Profile,
    log_control: Option<Arc<dyn LogControl>>,
) -> Result<(), String> {
    let started = Instant::now();
    let stop = shutdown.clone();
    rpc.register(
        "kernel",
        "stop",
        NO_PARAMS,
        "Request a graceful shutdown of the node.\n\n\
         Result:\n\
         \"str\"    (string) A string with the content 'node stopping'",
        move |_| {
            let stop = stop.clone();
            async move {
                stop.cancel();
                Ok(json!("node stopping"))
            }
        },
    )?;
    rpc.register(
        "kernel",
        "uptime",
        NO_PARAMS,
        "Returns the total uptime of the server.\n\n\
         Result:\n\
         n    (numeric) The number of seconds that the server has been running",
        move |_| async move { Ok(json!(started.elapsed().as_secs())) },
    )?;
    let modules = Arc::new(modules);
    rpc.register(
        "kernel",
        "listmodules",
        NO_PARAMS,
        "This node's own method: the modules running, in start order, with their \
         strategies and effective config.\n\n\
         Result:\n\
         [                          (json array) One entry per module, in start order\n  \
           {                        (json object)\n    \
             \"name\" : \"str\",          (string) The module's name, as [node] modules lists it\n    \
             \"description\" : \"str\",   (string) What the module does, in one line\n    \
             \"strategies\" : {         (json object) The strategy chosen for each behaviour\n      \
               \"behaviour\" : {        (json object)\n        \
                 \"name\" : \"str\",      (string) The strategy's name\n        \
                 \"config\" : {...}     (json object) Its settings\n      \
               },\n      \
               ...\n    \
             },\n    \
             \"config\" : {...}         (json object) The module's effective config, defaults included\n  \
           },\n  \
           ...\n\
         ]",
        move |_| {
            let modules = modules.clone();
            async move { Ok(json!(*modules)) }
        },
    )?;
    let merged = Arc::new(json!({
        "file": profile.node.profile,
        "chain": profile.node.chain,
        "datadir": profile.node.datadir,
        "profile": profile.merged,
    }));
    rpc.register(
        "kernel",
        "getprofile",
        NO_PARAMS,
        "This node's own method: the profile in use after layering the file, NODE_ \
         variables and --set.\n\n\
         Result:\n\
         {                     (json object)\n  \
           \"file\" : \"str\",       (string) The profile, as shown in messages (its file)\n  \
           \"chain\" : \"str\",      (string) The chain spec: a built-in name or a chain spec file\n  \
           \"datadir\" : \"str\",    (string) The data directory\n  \
           \"profile\" : {...}   (json object) The merged profile, one table per section\n\
         }",
        move |_| {
            let merged = merged.clone();
            async move { Ok((*merged).clone()) }
        },
    )?;
    rpc.register(
        "kernel",
        "getmemoryinfo",
        memory::PARAMS,
        memory::HELP,
        |p: RpcParams| async move { memory::getmemoryinfo(p) },
    )?;
    if let Some(control) = log_control {
        rpc.register(
            "kernel",
            "logging",
            logging::PARAMS,
            logging::HELP,
            move |p: RpcParams| {
                let control = control.clone();
                async move { logging::logging(&control, p) }
            },
        )?;
    }
    let weak: Weak<RpcRegistry> = Arc::downgrade(rpc);
    rpc.register(
        "kernel",
        "help",
        HELP_PARAMS,
        "List all commands, or get help for a specified command.\n\n\
         Result:\n\
         \"str\"    (string) The help text",
        move |p: RpcParams| {
            let weak = weak.clone();
            async move { help(&weak, p) }
        },
    )?;
    let weak: Weak<RpcRegistry> = Arc::downgrade(rpc);
    rpc.register(
        "kernel",
        "getmethodparams",
        METHOD_PARAMS,
        "This node's own method, not Bitcoin Core's: the parameters a method declares, in \
         positional order, so that clients such as `node rpc` convert command-line \
         arguments as the method expects (a string parameter stays a string even when it \
         looks like a number; the other kinds are parsed as JSON).\n\n\
         Result:\n\
         [                      (json array)\n  \
           {                    (json object)\n    \
             \"name\" : \"str\",       (string) The parameter's name, for named calls\n    \
             \"kind\" : \"str\",       (string) string, hex, numeric, amount, boolean, object, array or any\n    \
             \"required\" : true|false, (boolean) Whether the call fails without it\n    \
             \"description\" : \"str\" (string) What it means\n  \
           },\n  \
           ...\n\
         ]",
        move |p: RpcParams| {
            let weak = weak.clone();
            async move {
                let registry = upgrade(&weak)?;
                let name: String = p.required(0)?;
                let method = registry
                    .method(&name)
                    .ok_or_else(|| registry.not_found(&name))?;
                Ok(crate::help::params_json(&method))
            }
        },
    )?;
    Ok(())
}

fn upgrade(registry: &Weak<RpcRegistry>) -> Result<Arc<RpcRegistry>, RpcError> {
    registry
        .upgrade()
        .ok_or_else(|| RpcError::misc("node is stopping"))
}

fn help(registry: &Weak<RpcRegistry>, params: RpcParams) -> Result<serde_json::Value, RpcError> {
    let registry = upgrade(registry)?;
    match params.optional::<String>(0)? {
        Some(name) => {
            let method = registry.method(&name).ok_or_else(|| {
                if let Some(module) = registry.absent_module(&name) {
                    return RpcError::misc(format!(
                        "help: {name} belongs to the {module} module, which this node does not run"
                    ));
                }
                let near = registry.near_names(&name);
                RpcError::misc(if near.is_empty() {
                    format!("help: unknown command: {name}")
                } else {
                    format!(
                        "help: unknown command: {name}; did you mean {}?",
                        near.join(", ")
                    )
                })
            })?;
            Ok(json!(crate::help::method_help(
                &name,
                &method,
                registry.address()
            )))
        }
        None => Ok(json!(crate::help::method_list(registry.methods()))),
    }
}

#[cfg(test)]
mod start_order_tests {
    use super::*;

    fn waiting<'a>(name: &'a str, needs: &[&str], uses: &[&str]) -> Waiting<'a> {
        Waiting {
            name,
            needs: needs.iter().map(|s| s.to_string()).collect(),
            uses: uses.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_uses_that_closes_a_cycle_yields_and_others_still_order() {
        // rpc uses both and comes first in the profile; mempool uses the wallet, which
        // needs the mempool: the mempool starts first, rpc waits for both.
        let all = [
            waiting("rpc", &[], &["mempool", "wallet"]),
            waiting("mempool", &[], &["wallet"]),
            waiting("wallet", &["mempool"], &[]),
        ];
        assert_eq!(next_to_start(&all), Some(1));
        let after = [
            waiting("rpc", &[], &["wallet"]),
            waiting("wallet", &[], &[]),
        ];
        assert_eq!(next_to_start(&after), Some(1));
    }

    #[test]
    fn a_cycle_of_needs_has_no_next_module() {
        let all = [waiting("a", &["b"], &[]), waiting("b", &["a"], &[])];
        assert_eq!(next_to_start(&all), None);
    }
}
