//! The text of the `help` RPC, in Bitcoin Core's layout, and the parameter table of
//! `getmethodparams`, both built from what each method declared when it registered.
//!
//! `help METHOD` prints a signature line, the description, an `Arguments:` section with
//! one numbered line per parameter (`1. height    (numeric, required) The height index`),
//! the method's own `Result:` section (the part of its help string from its first line
//! starting `Result:` or `Result (for ...):` on, when it has one) and `Examples:`
//! generated from the parameters: a `node rpc` line and a curl line with the JSON-RPC
//! body, sent to the address the server listens on.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::rpc::{Param, RpcMethod};

/// Columns between the widest `N. name` and the type, as Core leaves them.
const GAP: usize = 4;

/// The help of one method, in Core's layout. `address` is where the JSON-RPC server
/// listens; without one the curl example is left out.
pub(crate) fn method_help(name: &str, method: &RpcMethod, address: Option<SocketAddr>) -> String {
    let (description, result) = match result_start(method.help) {
        Some(at) => (&method.help[..at], Some(method.help[at..].trim())),
        None => (method.help, None),
    };
    let mut text = format!("{}\n\n{}\n", method.signature(name), description.trim());
    if !method.params.is_empty() {
        text.push_str("\nArguments:\n");
        text.push_str(&arguments(method.params));
    }
    if let Some(result) = result {
        text.push_str(&format!("\n{result}\n"));
    }
    text.push_str("\nExamples:\n");
    text.push_str(&examples(name, method.params, address));
    text.trim_end().to_string()
}

/// Where a help string's result begins: its first line that is `Result:`, or one of
/// Core's per-shape headings such as `Result (for verbose = true):`.
fn result_start(help: &str) -> Option<usize> {
    let mut at = 0;
    for line in help.split_inclusive('\n') {
        if line.starts_with("Result:") || line.starts_with("Result (") {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// The numbered lines of `Arguments:`, the types aligned in one column.
fn arguments(params: &[Param]) -> String {
    let labels: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}. {}", i + 1, p.name))
        .collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0) + GAP;
    let mut text = String::new();
    for (label, p) in labels.iter().zip(params) {
        let need = match (p.required, p.default) {
            (true, _) => "required".to_string(),
            (false, Some(default)) => format!("optional, default={default}"),
            (false, None) => "optional".to_string(),
        };
        text.push_str(&format!(
            "{label:<width$}({}, {need}) {}\n",
            p.kind.help_name(),
            p.description
        ));
    }
    text
}

/// A `node rpc` line and a curl line calling the method with its required parameters.
fn examples(name: &str, params: &[Param], address: Option<SocketAddr>) -> String {
    let required: Vec<&Param> = params.iter().filter(|p| p.required).collect();
    let mut cli = format!("> node rpc {name}");
    let mut values = Vec::new();
    for p in &required {
        let json = p.example_json();
        let value: Value = serde_json::from_str(&json).unwrap_or(Value::String(json.clone()));
        cli.push(' ');
        cli.push_str(&shell_word(&value));
        values.push(value);
    }
    let mut text = format!("{cli}\n");
    if let Some(addr) = address {
        // Written out rather than serialized, to keep Core's key order and spacing.
        let params: Vec<String> = values.iter().map(Value::to_string).collect();
        let body = format!(
            "{{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": {}, \"params\": [{}]}}",
            Value::String(name.to_string()),
            params.join(", ")
        );
        text.push_str(&format!(
            "> curl --user myusername --data-binary '{body}' -H 'content-type: application/json' http://{addr}/\n"
        ));
    }
    text
}

/// A value as a shell word for `node rpc`: a string in double quotes (as Core's examples
/// write hashes and addresses), JSON as it is when it needs no quoting, else in single
/// quotes.
fn shell_word(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => {
            let text = other.to_string();
            if text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                text
            } else {
                format!("'{text}'")
            }
        }
    }
}

/// `help` without a method: every method's signature, grouped by the module that
/// registered it under a `== Module ==` header, as Core groups by category.
pub(crate) fn method_list(methods: Vec<(String, RpcMethod)>) -> String {
    let mut by_module: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, method) in methods {
        by_module
            .entry(method.module.clone())
            .or_default()
            .push(method.signature(&name));
    }
    let groups: Vec<String> = by_module
        .into_iter()
        .map(|(module, lines)| format!("== {} ==\n{}", title(&module), lines.join("\n")))
        .collect();
    groups.join("\n\n")
}

/// `chain` as `Chain`.
fn title(module: &str) -> String {
    let mut chars = module.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The answer of `getmethodparams`: each parameter's name, kind (as
/// [`crate::rpc::ParamKind::name`]), whether it is required, and its description.
pub(crate) fn params_json(method: &RpcMethod) -> Value {
    method
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "kind": p.kind.name(),
                "required": p.required,
                "description": p.description,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcRegistry;

    const HEIGHT: &[Param] = &[Param::required("height")
        .numeric("The height index")
        .example("1000")];
    const BLOCK: &[Param] = &[
        Param::required("blockhash").hex("The block hash"),
        Param::optional("verbosity")
            .numeric("0 for hex, 1 for fields, 2 for transactions")
            .default("1"),
    ];

    fn method(params: &'static [Param], help: &'static str) -> RpcMethod {
        let r = RpcRegistry::default();
        r.register("chain", "m", params, help, |_| async { Ok(Value::Null) })
            .unwrap();
        r.method("m").unwrap()
    }

    #[test]
    fn one_method_reads_as_core_help() {
        let m = method(
            HEIGHT,
            "Returns hash of block in best-block-chain at height provided.\n\nResult:\n\"hex\"    (string) The block hash",
        );
        let addr = "127.0.0.1:18443".parse().ok();
        assert_eq!(
            method_help("getblockhash", &m, addr),
            "getblockhash height\n\
             \n\
             Returns hash of block in best-block-chain at height provided.\n\
             \n\
             Arguments:\n\
             1. height    (numeric, required) The height index\n\
             \n\
             Result:\n\
             \"hex\"    (string) The block hash\n\
             \n\
             Examples:\n\
             > node rpc getblockhash 1000\n\
             > curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"getblockhash\", \"params\": [1000]}' -H 'content-type: application/json' http://127.0.0.1:18443/"
        );
    }

    #[test]
    fn optional_parameters_show_their_default_and_stay_out_of_examples() {
        let m = method(BLOCK, "A block.");
        let text = method_help("getblock", &m, None);
        assert!(
            text.starts_with("getblock \"blockhash\" ( verbosity )\n"),
            "{text}"
        );
        assert!(
            text.contains("1. blockhash    (string, hex, required) The block hash\n"),
            "{text}"
        );
        assert!(
            text.contains("2. verbosity    (numeric, optional, default=1) 0 for hex"),
            "{text}"
        );
        assert!(
            text.ends_with("> node rpc getblock \"blockhash\""),
            "{text}"
        );
        assert!(
            !text.contains("Result:") && !text.contains("curl"),
            "{text}"
        );
    }

    #[test]
    fn a_result_per_shape_starts_at_its_first_heading() {
        let m = method(
            BLOCK,
            "A block.\n\nResult (for verbosity = 0):\n\"hex\"    (string) The block\n\n\
             Result (for verbosity = 1):\n{...}    (json object) The block's fields",
        );
        let text = method_help("getblock", &m, None);
        assert!(
            text.contains(
                "default=1) 0 for hex, 1 for fields, 2 for transactions\n\n\
                 Result (for verbosity = 0):\n\"hex\"    (string) The block\n\n\
                 Result (for verbosity = 1):\n"
            ),
            "{text}"
        );
        assert!(
            text.starts_with("getblock \"blockhash\" ( verbosity )\n\nA block.\n\nArguments:\n"),
            "{text}"
        );
    }

    #[test]
    fn the_list_groups_by_module() {
        let r = RpcRegistry::default();
        r.register("chain", "getblock", BLOCK, "", |_| async {
            Ok(Value::Null)
        })
        .unwrap();
        r.register("kernel", "uptime", &[], "", |_| async { Ok(Value::Null) })
            .unwrap();
        assert_eq!(
            method_list(r.methods()),
            "== Chain ==\ngetblock \"blockhash\" ( verbosity )\n\n== Kernel ==\nuptime"
        );
    }

    #[test]
    fn params_are_listed_for_clients() {
        let m = method(BLOCK, "");
        assert_eq!(
            params_json(&m),
            json!([
                {"name": "blockhash", "kind": "hex", "required": true, "description": "The block hash"},
                {"name": "verbosity", "kind": "numeric", "required": false,
                 "description": "0 for hex, 1 for fields, 2 for transactions"},
            ])
        );
    }
}
