//! The `logging` method (Bitcoin Core's): which log categories write debug lines, changed
//! while the node runs.
//!
//! A category is the tracing target of one of the node's crates (`node_peers`,
//! `node_chain`, ...), the names `RUST_LOG` takes: every crate that registers a module,
//! plus the kernel and the format crates. The binary owns the tracing subscriber, so it
//! hands the kernel a [`LogControl`] over it (the `node` command line does); a binary
//! that does not has no `logging` method.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::module::registered_modules;
use crate::rpc::{Param, RpcError, RpcParams};

/// The node's log filter, as the binary that installed it can change it.
pub trait LogControl: Send + Sync {
    /// Whether events of `target` at debug level are written now.
    fn debug_enabled(&self, target: &str) -> bool;
    /// Turns debug lines on (`true`) or off for each of these targets, the rest of the
    /// filter unchanged; `categories` is every category, so that a change to one target
    /// does not reach another whose name it prefixes (`node_chain`, `node_chain_module`).
    fn set_debug(&self, changes: &[(String, bool)], categories: &[String]) -> Result<(), String>;
}

/// Crates that register no module but log: the kernel, the API and the formats.
const CORE_TARGETS: &[&str] = &["node_kernel", "node_api", "node_chain", "node_p2p"];

pub(crate) const PARAMS: &[Param] = &[
    Param::optional("include")
        .array("the categories to add to debug logging (\"all\" or \"1\": every category)"),
    Param::optional("exclude")
        .array("the categories to remove from debug logging (\"all\" or \"1\": every category)"),
];

pub(crate) const HELP: &str = "Gets and sets the logging configuration.\n\
When called without an argument, returns the list of categories with status that are \
currently being debug logged or not.\n\
When called with arguments, adds or removes categories from debug logging and return the \
lists above.\n\
The arguments are evaluated in order \"include\", \"exclude\".\n\
If an item is both included and excluded, it will thus end up being excluded.\n\
The categories are the node's crates, as RUST_LOG names them (node_peers, node_chain, \
...); \"all\" and \"1\" stand for every category.\n\
\n\
Result:\n\
{                   (json object) keys are the logging categories, and values indicates its status\n\
  \"category\" : true|false,    (boolean) if being debug logged or not. false:inactive, true:active\n\
  ...\n\
}";

/// Every category, sorted: the crates of the registered modules and [`CORE_TARGETS`].
pub(crate) fn categories() -> Vec<String> {
    let mut all: BTreeSet<String> = CORE_TARGETS.iter().map(|t| t.to_string()).collect();
    if let Ok(modules) = registered_modules() {
        all.extend(
            modules
                .values()
                .map(|factory| factory.registered_by.replace('-', "_")),
        );
    }
    all.into_iter().collect()
}

/// The method: applies `include` then `exclude`, then answers every category's state.
pub(crate) fn logging(control: &Arc<dyn LogControl>, params: RpcParams) -> Result<Value, RpcError> {
    let categories = categories();
    let mut changes: Vec<(String, bool)> = Vec::new();
    for (index, on) in [(0, true), (1, false)] {
        let names: Vec<String> = params.optional(index)?.unwrap_or_default();
        for name in names {
            if name == "all" || name == "1" {
                changes.extend(categories.iter().map(|c| (c.clone(), on)));
            } else if categories.contains(&name) {
                changes.push((name, on));
            } else {
                return Err(RpcError::invalid_parameter(format!(
                    "unknown logging category {name}"
                )));
            }
        }
    }
    if !changes.is_empty() {
        control
            .set_debug(&changes, &categories)
            .map_err(RpcError::misc)?;
        tracing::info!(
            changes = ?changes,
            "log categories changed by the logging method"
        );
    }
    let state: Map<String, Value> = categories
        .iter()
        .map(|c| (c.clone(), Value::Bool(control.debug_enabled(c))))
        .collect();
    Ok(Value::Object(state))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::rpc::codes;

    /// A filter that remembers what it was told.
    #[derive(Default)]
    struct Recorded(Mutex<BTreeMap<String, bool>>);

    impl LogControl for Recorded {
        fn debug_enabled(&self, target: &str) -> bool {
            self.0.lock().unwrap().get(target).copied().unwrap_or(false)
        }
        fn set_debug(&self, changes: &[(String, bool)], _: &[String]) -> Result<(), String> {
            self.0.lock().unwrap().extend(changes.iter().cloned());
            Ok(())
        }
    }

    fn call(control: &Arc<dyn LogControl>, params: Vec<Value>) -> Result<Value, RpcError> {
        logging(control, RpcParams::positional(params))
    }

    #[test]
    fn include_then_exclude_and_unknown_categories_are_refused() {
        let control: Arc<dyn LogControl> = Arc::new(Recorded::default());
        let state = call(&control, vec![]).unwrap();
        assert_eq!(state["node_kernel"], false);
        let state = call(&control, vec![json!(["node_kernel", "node_chain"])]).unwrap();
        assert_eq!(state["node_kernel"], true);
        assert_eq!(state["node_chain"], true);
        // Both included and excluded: excluded, as Core evaluates include first.
        let state = call(
            &control,
            vec![json!(["node_p2p"]), json!(["node_p2p", "node_chain"])],
        )
        .unwrap();
        assert_eq!(state["node_p2p"], false);
        assert_eq!(state["node_chain"], false);
        let state = call(&control, vec![json!(["all"])]).unwrap();
        assert!(state.as_object().unwrap().values().all(|on| on == true));
        let err = call(&control, vec![json!(["net"])]).unwrap_err();
        assert_eq!(err.code, codes::INVALID_PARAMETER);
        assert_eq!(err.message, "unknown logging category net");
    }
}
