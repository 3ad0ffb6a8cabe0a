//! Errors of the kernel: profile errors name the file, the key path, the bad value and the
//! valid choices; start errors name the module.

use std::path::PathBuf;

/// The error a module returns from `start`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a module's config parser or factory reports; the kernel adds the file and table.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The table did not deserialize into the module's config struct (unknown key, wrong
    /// type...). The message comes from serde and already names the key.
    #[error("{0}")]
    Deserialize(String),
    /// A value is not one of the accepted choices (e.g. an unregistered strategy name).
    #[error("{key} = {value:?} is not valid; valid choices: {}", choices.join(", "))]
    InvalidValue {
        /// Key path inside the module's table, e.g. `strategy`.
        key: String,
        /// The value found.
        value: String,
        /// What would have been accepted.
        choices: Vec<String>,
    },
    /// Any other reason the configuration cannot work.
    #[error("{key}: {reason}")]
    Invalid {
        /// Key path inside the module's table.
        key: String,
        /// Why the value cannot be used.
        reason: String,
    },
    /// An error in the settings of a strategy, a sub-table named after it.
    #[error("in the settings of strategy {strategy:?}: {error}")]
    Strategy {
        /// The strategy's name, which is also its sub-table's.
        strategy: String,
        /// What is wrong there.
        error: Box<ConfigError>,
    },
}

impl ConfigError {
    /// The key path (inside the module's table) the error is about, when it names one:
    /// what the kernel looks up to say which layer set the value.
    pub fn key(&self) -> Option<String> {
        match self {
            ConfigError::Deserialize(message) => {
                ["for key `", "unknown field `", "missing field `"]
                    .iter()
                    .find_map(|marker| {
                        let rest = &message[message.find(marker)? + marker.len()..];
                        Some(rest[..rest.find('`')?].to_string())
                    })
            }
            ConfigError::InvalidValue { key, .. } | ConfigError::Invalid { key, .. } => {
                Some(key.clone())
            }
            ConfigError::Strategy { strategy, error } => Some(match error.key() {
                Some(key) => format!("{strategy}.{key}"),
                None => strategy.clone(),
            }),
        }
    }

    /// The same error, found in the settings of strategy `strategy`.
    pub fn within(self, strategy: &str) -> ConfigError {
        ConfigError::Strategy {
            strategy: strategy.to_string(),
            error: Box::new(self),
        }
    }
}

/// An error in a profile, found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read or is not valid TOML.
    #[error("cannot load profile {file}: {reason}")]
    Load {
        /// The profile file.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A `--set` or environment override could not be read.
    #[error("bad override {origin}: {reason}")]
    Override {
        /// Where the override came from (`--set x` or `NODE_X`).
        origin: String,
        /// What went wrong.
        reason: String,
    },
    /// `[node] modules` names a module nobody registered.
    #[error("unknown module {name:?} in {file} at node.modules; registered: {}", registered.join(", "))]
    UnknownModule {
        /// The profile file.
        file: String,
        /// The name found.
        name: String,
        /// Every registered module.
        registered: Vec<String>,
    },
    /// A table names neither `node` nor a registered module.
    #[error("unknown table [{name}] in {file}; valid tables: {}", valid.join(", "))]
    UnknownTable {
        /// The profile file.
        file: String,
        /// The table name found.
        name: String,
        /// `node` and every registered module.
        valid: Vec<String>,
    },
    /// A module appears twice in `[node] modules`.
    #[error("module {name:?} is listed twice in {file} at node.modules")]
    DuplicateModule {
        /// The profile file.
        file: String,
        /// The repeated name.
        name: String,
    },
    /// A table's content is wrong.
    #[error("in {file}, [{table}]: {error}")]
    Table {
        /// Where the value came from: the profile file, or the override that set it
        /// (`--set k=v`, `environment variable NODE_K`).
        file: String,
        /// The table (`node` or a module name).
        table: String,
        /// What is wrong, with the key and the valid choices.
        error: ConfigError,
    },
    /// A module needs a service that no listed module provides.
    #[error("module {module:?} in {file} needs service {service:?}, which no listed module provides; modules that provide it: {}", if providers.is_empty() { "none registered".to_string() } else { providers.join(", ") })]
    MissingService {
        /// The profile file.
        file: String,
        /// The module with the need.
        module: String,
        /// The service it needs.
        service: String,
        /// Registered modules that provide it, to add to `node.modules`.
        providers: Vec<String>,
    },
    /// Two listed modules provide the same service.
    #[error("modules {first:?} and {second:?} in {file} both provide service {service:?}; list only one")]
    DuplicateService {
        /// The profile file.
        file: String,
        /// The service.
        service: String,
        /// The first provider listed.
        first: String,
        /// The second provider listed.
        second: String,
    },
    /// Two crates registered one name: the binary links both.
    #[error("this binary's registry is wrong: {0}")]
    Registry(ConfigError),
    /// Modules need each other in a circle.
    #[error("modules in {file} need each other in a cycle: {}", modules.join(" -> "))]
    Cycle {
        /// The profile file.
        file: String,
        /// The modules that could not be ordered.
        modules: Vec<String>,
    },
}

/// An error of the kernel at run time.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The profile is wrong; nothing was started.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The data directory cannot be used.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A module failed to start; the modules started before it were stopped.
    #[error("module {module:?} failed to start: {reason}")]
    Start {
        /// The module.
        module: String,
        /// Its reason.
        reason: String,
    },
    /// A module reported an error while stopping.
    #[error("module {module:?} failed to stop cleanly: {reason}")]
    Stop {
        /// The module.
        module: String,
        /// Its reason.
        reason: String,
    },
    /// A task of a module panicked or ended with an error, and stopped the node.
    #[error("module {module:?} failed: task {task:?} {reason}")]
    Failed {
        /// The module.
        module: String,
        /// The task's name.
        task: String,
        /// Its reason.
        reason: String,
    },
}

/// A serde message in TOML's words: `expected an integer from 0 to 65535` rather than
/// `expected u16`, `array` and `table` rather than `sequence` and `map`. Operators write
/// TOML, not Rust.
pub fn toml_words(message: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        ("expected u8", "expected an integer from 0 to 255"),
        ("expected u16", "expected an integer from 0 to 65535"),
        ("expected u32", "expected an integer from 0 to 4294967295"),
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected i8", "expected an integer"),
        ("expected i16", "expected an integer"),
        ("expected i32", "expected an integer"),
        ("expected i64", "expected an integer"),
        ("expected isize", "expected an integer"),
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        (
            "expected a sequence",
            "expected an array like [\"a\", \"b\"]",
        ),
        ("expected a map", "expected a table"),
        ("expected struct ", "expected a table: "),
        ("expected a borrowed string", "expected a string"),
        (
            "an unsigned 64 bit or less integer",
            "a non-negative integer",
        ),
        ("a signed 64 bit or less integer", "an integer"),
        ("64-bit integer `", "integer `"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: floating point", "invalid type: float"),
    ];
    let mut out = message.to_string();
    for (rust, toml) in WORDS {
        let mut from = 0;
        while let Some(at) = out[from..].find(rust).map(|i| i + from) {
            let end = at + rust.len();
            // Whole words only: `expected u8` must not rewrite `expected u80`.
            let next = out[end..].chars().next();
            if rust.ends_with(' ') || !next.is_some_and(|c| c.is_ascii_alphanumeric()) {
                out.replace_range(at..end, toml);
                from = at + toml.len();
            } else {
                from = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_toml_words() {
        assert_eq!(
            toml_words("invalid type: string \"two\", expected u32 for key `threads`"),
            "invalid type: string \"two\", expected an integer from 0 to 4294967295 for key `threads`"
        );
        assert_eq!(
            toml_words("invalid type: map, expected a sequence"),
            "invalid type: table, expected an array like [\"a\", \"b\"]"
        );
        assert_eq!(
            toml_words("expected u64"),
            "expected a non-negative integer"
        );
    }

    #[test]
    fn keys_are_found_in_messages() {
        let e = ConfigError::Deserialize("invalid type: x for key `connect`".into());
        assert_eq!(e.key().as_deref(), Some("connect"));
        let e = ConfigError::Deserialize("unknown field `bootstrapp`, expected one of".into());
        assert_eq!(e.key().as_deref(), Some("bootstrapp"));
        let e = ConfigError::Deserialize("no key here".into());
        assert_eq!(e.key(), None);
    }
}
