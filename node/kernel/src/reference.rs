//! The configuration reference (`node config-reference`): every key of the `[node]` table,
//! of every registered module's table and of every registered strategy's sub-table, with
//! its type, default and doc comment.
//!
//! Nothing here is written by hand: each module builds once from an empty table, and the
//! config struct its factory parses ([`ModuleConfig::parse`], [`StrategyConfig::parse`])
//! hands over its `JsonSchema`, derived from the same struct serde reads, so the page
//! follows the code. A module whose factory reads no table is listed without settings.
//! Costs: one build of each module and strategy, nothing started.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::config_table::schema_of;
use crate::error::ConfigError;
use crate::module::{registered_modules, ModuleConfig};
use crate::profile::{NodeSection, NodeSettings};
use crate::strategy::{registered_strategies, StrategyConfig};

fn empty_table() -> config::Value {
    config::Value::new(None, config::ValueKind::Table(Default::default()))
}

/// The reference as markdown, one table per profile table, sorted by name.
pub fn config_reference() -> Result<String, ConfigError> {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Every key a profile may set, per table: its type, its default and what it does.\n\
         Generated from the config structs by `node reference config` (do not edit: \
         `cargo test --test it reference` fails when this page is stale).\n",
    );
    out.push_str("\n## `[node]`\n\n");
    out.push_str(&keys_table(&schema_of::<NodeSection>()));

    let node = NodeSettings {
        modules: Vec::new(),
        chain: "dev".to_string(),
        chain_base: PathBuf::from("."),
        datadir: PathBuf::from("."),
        threads: 0,
        profile: "config-reference".to_string(),
    };
    // Which module chooses a strategy of each behaviour, and by which key.
    let mut chosen_by: BTreeMap<&str, (String, String)> = BTreeMap::new();
    for (name, factory) in registered_modules()? {
        let config = ModuleConfig::new(empty_table(), node.clone());
        // Only the schema recorded by `parse` is wanted: a module that needs a setting
        // (a command, an endpoint) may refuse an empty table after reading it.
        let _ = (factory.build)(&config);
        out.push_str(&format!(
            "\n## `[{name}]`\n\n{}.\n\n",
            capitalised(factory.description)
        ));
        match config.schema() {
            Some(schema) => out.push_str(&keys_table(&schema)),
            None => out.push_str("No settings.\n"),
        }
        for (behaviour, key) in config.strategy_keys() {
            chosen_by.insert(behaviour, (name.to_string(), key));
        }
    }

    out.push_str("\n## Strategies\n\nA module chooses a strategy by name; the strategy's own settings are the sub-table named after it.\n");
    for strategy in registered_strategies()? {
        let config = StrategyConfig::new(empty_table());
        let _ = (strategy.build)(&config);
        let (table, choice) = match chosen_by.get(strategy.behaviour) {
            Some((module, key)) => (
                format!("[{module}.{}]", strategy.name),
                format!(" (`{module}.{key} = \"{}\"`)", strategy.name),
            ),
            None => (format!("[<module>.{}]", strategy.name), String::new()),
        };
        out.push_str(&format!(
            "\n### `{table}`\n\n{} `{}`{choice}: {}.\n\n",
            capitalised(strategy.behaviour),
            strategy.name,
            strategy.description
        ));
        match config.schema() {
            Some(schema) => out.push_str(&keys_table(&schema)),
            None => out.push_str("No settings.\n"),
        }
    }
    Ok(out)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A markdown table of an object schema's properties, in declaration order.
fn keys_table(schema: &Value) -> String {
    let mut out = String::new();
    if let Some(about) = schema.get("description").and_then(Value::as_str) {
        out.push_str(&one_line(about));
        out.push_str("\n\n");
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, property) in properties {
            let default = match property.get("default") {
                _ if required.contains(&key.as_str()) => "required".to_string(),
                Some(Value::Null) | None => "unset".to_string(),
                Some(value) => format!("`{value}`"),
            };
            let about = property
                .get("description")
                .and_then(Value::as_str)
                .map(one_line)
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{key}` | {} | {default} | {about} |\n",
                type_name(property)
            ));
        }
    }
    out
}

/// A JSON schema type in words: `integer`, `string or unset`, `array of string`.
fn type_name(schema: &Value) -> String {
    let base = |kind: &str| match kind {
        "array" => format!(
            "array of {}",
            schema.get("items").map_or("any".to_string(), type_name)
        ),
        other => other.to_string(),
    };
    match schema.get("type") {
        Some(Value::String(kind)) => base(kind),
        Some(Value::Array(kinds)) => {
            let names: Vec<String> = kinds
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| *k != "null")
                .map(base)
                .collect();
            let optional = kinds.iter().any(|k| k == "null");
            format!(
                "{}{}",
                names.join(" or "),
                if optional { " or unset" } else { "" }
            )
        }
        _ => "any".to_string(),
    }
}

/// Doc comment text on one table line: paragraphs joined, pipes escaped.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
