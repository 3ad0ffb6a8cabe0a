//! `getrpcinfo`, as Bitcoin Core answers it: the calls being served now, each with its
//! method and how long it has run (in microseconds), and where the log is written.
//!
//! The node writes its log to standard error (see the book's `docs/src/operator/logs.md`),
//! so `logpath` is the file standard error goes to (`/proc/self/fd/2`): the file a service
//! manager or a shell redirection gave it, or a terminal's device.

use std::sync::Arc;

use node_api::rpc::{Method, Param, RpcParams};
use node_api::{BoxError, StartContext};
use serde_json::{json, Value};

use crate::active::ActiveCommands;

const NONE: &[Param] = &[];

/// `getrpcinfo`, registered at start and listed in the factory's `methods`.
pub(crate) const GETRPCINFO: Method = Method {
    name: "getrpcinfo",
    params: NONE,
    help: "Returns details of the RPC server.\n\n\
           Result:\n\
           {                          (json object)\n  \
             \"active_commands\" : [    (json array) All active commands\n    \
               {                      (json object) Information about an active command\n      \
                 \"method\" : \"str\",      (string) The name of the RPC command\n      \
                 \"duration\" : n         (numeric) The running time in microseconds\n    \
               },\n    \
               ...\n  \
             ],\n  \
             \"logpath\" : \"str\"        (string) The file the node's log (standard error) is written to\n\
           }",
};

/// Registers `getrpcinfo` over the server's list of calls in progress.
pub(crate) fn register(ctx: &StartContext, active: Arc<ActiveCommands>) -> Result<(), BoxError> {
    ctx.register_method(&GETRPCINFO, move |_: RpcParams| {
        let active = active.clone();
        async move { Ok(rpc_info(&active)) }
    })?;
    Ok(())
}

fn rpc_info(active: &ActiveCommands) -> Value {
    let commands: Vec<Value> = active
        .list()
        .into_iter()
        .map(|(method, running)| json!({"method": method, "duration": running.as_micros() as u64}))
        .collect();
    let logpath = std::fs::read_link("/proc/self/fd/2")
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "stderr".to_string());
    json!({"active_commands": commands, "logpath": logpath})
}
