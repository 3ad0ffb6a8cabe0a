//! The kernel's own RPC methods (`help`, `stop`, `uptime`, `listmodules`, `logging` and
//! the like), registered before any module starts.

use std::sync::{Arc, Weak};
use std::time::Instant;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::logging::{self, LogControl};
use crate::memory;
use crate::profile::Profile;
use crate::rpc::{Param, RpcError, RpcParams, RpcRegistry};

const NO_PARAMS: &[Param] = &[];
const HELP_PARAMS: &[Param] = &[Param::optional("command")
    .string("The command to get help on; all commands when left out")
    .example("\"getblockhash\"")];
const METHOD_PARAMS: &[Param] = &[Param::required("method")
    .string("The method whose parameters to list")
    .example("\"getblock\"")];

/// Methods about the node itself, answered by the kernel.
pub(super) fn register_kernel_methods(
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
                 \"config\" : {...},    (json object) Its settings\n        \
                 \"wraps\" : [...]      (json array, optional) The strategies it wraps, each as this object\n      \
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
