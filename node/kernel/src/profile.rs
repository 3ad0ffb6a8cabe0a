//! Loading a profile: the TOML file, then `NODE_` environment variables, then `--set`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use config::{Config, File, FileFormat, Map, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ProfileError};
use crate::overrides::Overrides;

/// Where the profile text comes from.
#[derive(Debug, Clone)]
pub enum ProfileSource {
    /// A file given with `--profile`.
    File(PathBuf),
    /// A profile compiled into the binary, used when no `--profile` is given.
    Embedded {
        /// The name shown in messages.
        name: &'static str,
        /// The TOML text.
        text: &'static str,
    },
    /// Profile text built at run time (a program's own, a test's, a fuzz input).
    Text {
        /// The name shown in messages.
        name: String,
        /// The TOML text.
        text: String,
    },
}

impl ProfileSource {
    fn display(&self) -> String {
        match self {
            ProfileSource::File(path) => path.display().to_string(),
            ProfileSource::Embedded { name, .. } => format!("{name} (embedded)"),
            ProfileSource::Text { name, .. } => name.clone(),
        }
    }
}

/// The `[node]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeSection {
    /// Modules to run, by registered name.
    modules: Vec<String>,
    /// Chain spec: a built-in name or a chain spec file; the chain module resolves it.
    #[serde(default = "default_chain")]
    chain: String,
    /// Data directory; `--datadir` wins over it.
    #[serde(default)]
    datadir: Option<PathBuf>,
    /// Worker threads of the async runtime; 0 is one per core.
    #[serde(default)]
    threads: usize,
}

fn default_chain() -> String {
    "dev".to_string()
}

/// Settings every module may read.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSettings {
    /// The modules listed, in profile order.
    pub modules: Vec<String>,
    /// The chain spec: a built-in name (`regtest`, `dev`, `testnet`) or a path to a chain
    /// spec file, relative to [`NodeSettings::chain_base`]. The chain module resolves it
    /// (`node_chain::resolve`); other modules read the spec from the chain service.
    pub chain: String,
    /// The directory a relative `chain` path starts from: the profile file's, or the
    /// current directory when `chain` came from a `--set` or a variable (typed where the
    /// command runs).
    pub chain_base: PathBuf,
    /// The data directory.
    pub datadir: PathBuf,
    /// Worker threads of the async runtime, 0 for one per core (the default). Many nodes
    /// sharing one machine (the network lab) run on one each: threads handing messages
    /// to each other across cores cost them wake-ups a node alone on its machine would
    /// spend on work.
    pub threads: usize,
    /// The profile, as shown in messages.
    pub profile: String,
}

/// A loaded profile: node settings and each module's table, not yet checked against the
/// registry (see [`crate::plan`]).
#[derive(Debug)]
pub struct Profile {
    /// Node-wide settings.
    pub node: NodeSettings,
    pub(crate) tables: BTreeMap<String, Value>,
    /// Key paths set by an override, and where (`--set k=v`, `environment variable N`).
    pub(crate) origins: BTreeMap<String, String>,
    /// The merged profile (file, environment, `--set`), for `getprofile`.
    pub merged: serde_json::Value,
}

impl Profile {
    /// Loads and layers a profile. `env` is the process environment (passed in so tests
    /// can give their own); `datadir` is `--datadir`.
    pub fn load(
        source: &ProfileSource,
        env: impl IntoIterator<Item = (String, String)>,
        sets: &[String],
        datadir: Option<PathBuf>,
    ) -> Result<Profile, ProfileError> {
        let file = source.display();
        let load_err = |reason: String| ProfileError::Load {
            file: file.clone(),
            reason,
        };
        let builder = match source {
            ProfileSource::File(path) => {
                if !path.is_file() {
                    return Err(load_err("no such file".to_string()));
                }
                Config::builder().add_source(File::from(path.as_path()).format(FileFormat::Toml))
            }
            ProfileSource::Embedded { text, .. } => {
                Config::builder().add_source(File::from_str(text, FileFormat::Toml))
            }
            ProfileSource::Text { text, .. } => {
                Config::builder().add_source(File::from_str(text, FileFormat::Toml))
            }
        };
        let env = Overrides::from_env(env)?;
        let sets = Overrides::from_sets(sets)?;
        // Later layers win, so a `--set` replaces a variable's origin for the same key.
        let origins: BTreeMap<String, String> = env.origins().chain(sets.origins()).collect();
        let merged = builder
            .add_source(env)
            .add_source(sets)
            .build()
            .map_err(|e| load_err(e.to_string()))?;
        let json: serde_json::Value = merged
            .clone()
            .try_deserialize()
            .map_err(|e| load_err(e.to_string()))?;
        let mut tables: Map<String, Value> = merged
            .try_deserialize()
            .map_err(|e| load_err(e.to_string()))?;

        let node_table = tables.remove("node").ok_or_else(|| ProfileError::Table {
            file: file.clone(),
            table: "node".to_string(),
            error: ConfigError::Invalid {
                key: "modules".to_string(),
                reason: "missing: a profile needs a [node] table with modules = [...]".to_string(),
            },
        })?;
        let section: NodeSection =
            crate::config_table::deserialize(&node_table).map_err(|error| ProfileError::Table {
                file: layer_of(&origins, &file, "node", error.key().as_deref()),
                table: "node".to_string(),
                error,
            })?;
        let chain_base = match source {
            _ if origins.contains_key("node.chain") => PathBuf::new(),
            ProfileSource::File(path) => path.parent().map(PathBuf::from).unwrap_or_default(),
            ProfileSource::Embedded { .. } | ProfileSource::Text { .. } => PathBuf::new(),
        };
        let datadir = datadir
            .or(section.datadir)
            .unwrap_or_else(|| default_datadir(&section.chain));
        Ok(Profile {
            node: NodeSettings {
                modules: section.modules,
                chain: section.chain,
                chain_base,
                datadir,
                threads: section.threads,
                profile: file,
            },
            tables: tables.into_iter().collect(),
            origins,
            merged: json,
        })
    }
}

impl Profile {
    /// Where the value at `table.key` came from: the override that set it (or set a
    /// table above or a key below it), else the profile file.
    pub fn layer(&self, table: &str, key: Option<&str>) -> String {
        layer_of(&self.origins, &self.node.profile, table, key)
    }

    /// Whether an override (`--set` or a variable) sets anything in `table`.
    pub(crate) fn overrides_in(&self, table: &str) -> Vec<String> {
        let prefix = format!("{table}.");
        self.origins
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, origin)| origin.clone())
            .collect()
    }
}

fn layer_of(
    origins: &BTreeMap<String, String>,
    file: &str,
    table: &str,
    key: Option<&str>,
) -> String {
    let Some(key) = key else {
        return file.to_string();
    };
    let path = format!("{table}.{key}");
    origins
        .iter()
        .find(|(set, _)| {
            **set == path
                || path.starts_with(&format!("{set}."))
                || set.starts_with(&format!("{path}."))
        })
        .map(|(_, origin)| origin.clone())
        .unwrap_or_else(|| file.to_string())
}

/// `$HOME/.node/<chain>`, like bitcoind's `~/.bitcoin/<chain>`.
/// (for a chain spec file, its file name without `.toml`: the spec's name is not known
/// before the chain module reads it).
fn default_datadir(chain: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let name = std::path::Path::new(chain)
        .file_stem()
        .map(|stem| stem.to_string_lossy().to_string())
        .unwrap_or_else(|| chain.to_string());
    home.join(".node").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(text: &'static str) -> ProfileSource {
        ProfileSource::Embedded { name: "t", text }
    }

    #[test]
    fn layers_file_then_env_then_set() {
        let src = embedded("[node]\nmodules = []\nchain = \"regtest\"\n[x]\na = 1\nb = 1\nc = 1\n");
        let env = [
            ("NODE_X__B".to_string(), "2".to_string()),
            ("NODE_X__C".to_string(), "2".to_string()),
        ];
        let p = Profile::load(&src, env, &["x.c=3".to_string()], None).unwrap();
        assert_eq!(p.merged["x"]["a"], 1);
        assert_eq!(p.merged["x"]["b"], 2);
        assert_eq!(p.merged["x"]["c"], 3);
        assert_eq!(p.node.chain, "regtest");
    }

    #[test]
    fn datadir_flag_wins_over_profile() {
        let src = embedded("[node]\nmodules = []\ndatadir = \"/a\"\n");
        let p = Profile::load(&src, [], &[], None).unwrap();
        assert_eq!(p.node.datadir, PathBuf::from("/a"));
        let p = Profile::load(&src, [], &[], Some("/b".into())).unwrap();
        assert_eq!(p.node.datadir, PathBuf::from("/b"));
    }

    #[test]
    fn unknown_node_key_names_file_key_and_choices() {
        let src = embedded("[node]\nmodules = []\nmodulez = 1\n");
        let err = Profile::load(&src, [], &[], None).unwrap_err().to_string();
        assert!(err.contains("t (embedded)"), "{err}");
        assert!(err.contains("[node]"), "{err}");
        assert!(err.contains("modulez"), "{err}");
        assert!(err.contains("modules"), "{err}");
    }

    #[test]
    fn owned_text_loads_and_is_named() {
        let src = ProfileSource::Text {
            name: "built".to_string(),
            text: "[node]\nmodules = []\nchain = \"regtest\"\n[x]\na = [1\n".to_string(),
        };
        let err = Profile::load(&src, [], &[], None).unwrap_err().to_string();
        assert!(err.contains("built"), "{err}");
        let src = ProfileSource::Text {
            name: "built".to_string(),
            text: "[node]\nmodules = [\"a\"]\n".to_string(),
        };
        let p = Profile::load(&src, [], &[], None).unwrap();
        assert_eq!(
            (p.node.modules, p.node.profile.as_str()),
            (vec!["a".to_string()], "built")
        );
    }

    #[test]
    fn missing_file_is_named() {
        let src = ProfileSource::File("/nonexistent/x.toml".into());
        let err = Profile::load(&src, [], &[], None).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/x.toml"), "{err}");
    }
}
