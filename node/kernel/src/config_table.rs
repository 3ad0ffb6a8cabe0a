//! A profile table read into a config struct, and that struct's JSON schema: what module
//! tables (`module.rs`), strategy tables (`strategy.rs`) and `[node]` (`profile.rs`)
//! share, apart from each of them so that none imports another for it.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::error::ConfigError;

/// Deserializes a profile table into a config struct, with type names as TOML says them.
pub(crate) fn deserialize<T: DeserializeOwned>(table: &config::Value) -> Result<T, ConfigError> {
    table
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::Deserialize(crate::error::toml_words(&e.to_string())))
}

/// The JSON schema of a config struct, as a plain JSON value (the configuration
/// reference prints it).
pub(crate) fn schema_of<T: JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(T).to_value()
}
