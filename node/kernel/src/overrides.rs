//! Overrides layered over the profile file: `NODE_SECTION__KEY=value` environment
//! variables, then `--set section.key=value`. Both read the value as a TOML value
//! (`2`, `true`, `["a", "b"]`), and a bare word as a string.

use config::{Map, Source, Value, ValueKind};

use crate::error::ProfileError;

/// The environment prefix. Only variables with a `__` after the section are read, so
/// unrelated variables that share the prefix (`NODE_ENV`, `NODE_OPTIONS`) are left alone.
const ENV_PREFIX: &str = "NODE_";

/// A layer of overrides, as a `config` source.
#[derive(Debug, Clone)]
pub(crate) struct Overrides {
    entries: Vec<(String, Value)>,
}

impl Overrides {
    /// Reads `--set key=value` arguments.
    pub(crate) fn from_sets(sets: &[String]) -> Result<Self, ProfileError> {
        let mut entries = Vec::new();
        for set in sets {
            let origin = format!("--set {set}");
            let (key, value) = set.split_once('=').ok_or_else(|| ProfileError::Override {
                origin: origin.clone(),
                reason: "expected section.key=value".to_string(),
            })?;
            let key = check_key(key.trim(), &origin)?;
            entries.push((key, parse_value(value.trim(), &origin)?));
        }
        Ok(Overrides { entries })
    }

    /// Reads `NODE_SECTION__KEY=value` variables from the given environment.
    pub(crate) fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ProfileError> {
        let mut entries = Vec::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if !rest.contains("__") {
                continue;
            }
            let origin = format!("environment variable {name}");
            let key = check_key(&rest.to_ascii_lowercase().replace("__", "."), &origin)?;
            entries.push((key, parse_value(&value, &origin)?));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Overrides { entries })
    }
}

impl Overrides {
    /// Each key path set here and where it was set (`--set k=v`, `environment variable
    /// NODE_K`), for errors that name the layer a value came from.
    pub(crate) fn origins(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.entries.iter().map(|(key, value)| {
            (
                key.clone(),
                value.origin().unwrap_or("an override").to_string(),
            )
        })
    }
}

impl Source for Overrides {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.entries.iter().cloned().collect())
    }
}

fn check_key(key: &str, origin: &str) -> Result<String, ProfileError> {
    let valid = !key.is_empty()
        && key.contains('.')
        && key.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if valid {
        Ok(key.to_string())
    } else {
        Err(ProfileError::Override {
            origin: origin.to_string(),
            reason: format!("{key:?} is not a key path like section.key"),
        })
    }
}

/// Reads a value as TOML; what is not a TOML value is taken as a plain string.
fn parse_value(text: &str, origin: &str) -> Result<Value, ProfileError> {
    let origin = origin.to_string();
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut table) => match table.remove("v") {
            Some(value) => Ok(convert(value, &origin)),
            None => Err(ProfileError::Override {
                origin,
                reason: "no value".to_string(),
            }),
        },
        Err(_) => Ok(Value::new(
            Some(&origin),
            ValueKind::String(text.to_string()),
        )),
    }
}

fn convert(value: toml::Value, origin: &String) -> Value {
    let kind = match value {
        toml::Value::String(s) => ValueKind::String(s),
        toml::Value::Integer(i) => ValueKind::I64(i),
        toml::Value::Float(f) => ValueKind::Float(f),
        toml::Value::Boolean(b) => ValueKind::Boolean(b),
        toml::Value::Datetime(d) => ValueKind::String(d.to_string()),
        toml::Value::Array(items) => {
            ValueKind::Array(items.into_iter().map(|v| convert(v, origin)).collect())
        }
        toml::Value::Table(table) => ValueKind::Table(
            table
                .into_iter()
                .map(|(k, v)| (k, convert(v, origin)))
                .collect(),
        ),
    };
    Value::new(Some(origin), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(o: &Overrides, key: &str) -> ValueKind {
        o.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.kind.clone())
            .expect("key present")
    }

    #[test]
    fn set_values_are_toml_and_bare_words_are_strings() {
        let o = Overrides::from_sets(&[
            "miner.threads=2".into(),
            "discovery.bootstrap=[\"127.0.0.1:8444\"]".into(),
            "miner.payout_address=mxyz".into(),
            "miner.autostart=true".into(),
        ])
        .unwrap();
        assert_eq!(kind(&o, "miner.threads"), ValueKind::I64(2));
        assert_eq!(kind(&o, "miner.autostart"), ValueKind::Boolean(true));
        assert_eq!(
            kind(&o, "miner.payout_address"),
            ValueKind::String("mxyz".into())
        );
        match kind(&o, "discovery.bootstrap") {
            ValueKind::Array(items) => {
                assert_eq!(items[0].kind, ValueKind::String("127.0.0.1:8444".into()))
            }
            other => panic!("expected an array, got {other:?}"),
        }
    }

    #[test]
    fn set_without_equals_or_section_is_an_error() {
        let err = Overrides::from_sets(&["miner.threads".into()]).unwrap_err();
        assert!(err.to_string().contains("--set miner.threads"), "{err}");
        let err = Overrides::from_sets(&["threads=2".into()]).unwrap_err();
        assert!(err.to_string().contains("section.key"), "{err}");
    }

    #[test]
    fn env_needs_double_underscore_and_is_lowercased() {
        let o = Overrides::from_env([
            ("NODE_MINER__THREADS".to_string(), "3".to_string()),
            ("NODE_ENV".to_string(), "production".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ])
        .unwrap();
        assert_eq!(o.entries.len(), 1);
        assert_eq!(kind(&o, "miner.threads"), ValueKind::I64(3));
    }
}
