//! Errors that name the layer a value came from (the profile file, a `NODE_` variable or
//! a `--set`), under the table where the key lives, with a hint for a list given
//! unquoted.

use crate::error::{toml_words, ConfigError, ProfileError};
use crate::profile::Profile;

/// The error a module's build returned for `table`, as the operator should read it: a
/// key of `[node]` (`node.chain`, which the chain module checks) is reported under
/// `[node]`; the layer is the one that set the key.
pub(crate) fn table_error(profile: &Profile, table: &str, error: ConfigError) -> ProfileError {
    let (table, error) = match error {
        ConfigError::Invalid { key, reason } if key.starts_with("node.") => (
            "node",
            ConfigError::Invalid {
                key: key["node.".len()..].to_string(),
                reason,
            },
        ),
        ConfigError::InvalidValue {
            key,
            value,
            choices,
        } if key.starts_with("node.") => (
            "node",
            ConfigError::InvalidValue {
                key: key["node.".len()..].to_string(),
                value,
                choices,
            },
        ),
        other => (table, other),
    };
    let key = error.key();
    let layer = profile.layer(table, key.as_deref());
    let error = match (error, key) {
        (ConfigError::Deserialize(message), Some(key)) => {
            match unquoted_list_hint(&message, &layer, table, &key) {
                Some(hint) => ConfigError::Deserialize(format!("{message}; {hint}")),
                None => ConfigError::Deserialize(message),
            }
        }
        // A module's own reason may quote a nested parser's words (a chain spec file's).
        (ConfigError::Invalid { key, reason }, _) => ConfigError::Invalid {
            key,
            reason: toml_words(&reason),
        },
        (error, _) => error,
    };
    ProfileError::Table {
        file: layer,
        table: table.to_string(),
        error,
    }
}

/// `[127.0.0.1:1]` typed on a command line is not TOML (the items are not quoted), so it
/// arrives as a string where an array was expected: show the quoted form for the layer.
fn unquoted_list_hint(message: &str, layer: &str, table: &str, key: &str) -> Option<String> {
    if !message.contains("expected an array") {
        return None;
    }
    let start = message.find("string \"[")? + "string \"".len();
    let text = &message[start..];
    let text = &text[..text.find("]\"")? + 1];
    let items: Vec<String> = text[1..text.len() - 1]
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| format!("\"{}\"", item.trim_matches('"')))
        .collect();
    let quoted = format!("[{}]", items.join(", "));
    Some(if layer.starts_with("--set ") {
        format!("quote the items and the argument: --set '{table}.{key}={quoted}'")
    } else if let Some(name) = layer.strip_prefix("environment variable ") {
        format!("quote the items: {name}='{quoted}'")
    } else {
        format!("quote the items: {key} = {quoted}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unquoted_list_gets_the_quoted_form() {
        let message = "invalid type: string \"[127.0.0.1:1, 127.0.0.1:2]\", expected an array like [\"a\", \"b\"] for key `connect`";
        assert_eq!(
            unquoted_list_hint(message, "--set peers.connect=[127.0.0.1:1, 127.0.0.1:2]", "peers", "connect").unwrap(),
            "quote the items and the argument: --set 'peers.connect=[\"127.0.0.1:1\", \"127.0.0.1:2\"]'"
        );
        assert!(unquoted_list_hint("expected an integer", "f", "t", "k").is_none());
    }
}
