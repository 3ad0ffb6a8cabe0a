//! The `maxoutputs` mempool policy: relays any consensus-valid transaction that pays the
//! minimum relay fee and has at most `[mempool.maxoutputs] max_outputs` outputs.

use node_api::chain::Transaction;
use node_api::{
    inventory, ConfigError, MempoolError, MempoolPolicy, StrategyConfig, StrategyFactory, POLICY,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[mempool.maxoutputs]` table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct MaxOutputsConfig {
    /// Most outputs a relayed transaction may have.
    max_outputs: usize,
}

impl Default for MaxOutputsConfig {
    fn default() -> Self {
        // A payment and its change.
        MaxOutputsConfig { max_outputs: 2 }
    }
}

struct MaxOutputs {
    max_outputs: usize,
}

impl MempoolPolicy for MaxOutputs {
    fn check_standard(&self, tx: &Transaction) -> Result<(), MempoolError> {
        if tx.outputs.len() > self.max_outputs {
            return Err(MempoolError::NonStandard(format!(
                "too-many-outputs ({} > {})",
                tx.outputs.len(),
                self.max_outputs
            )));
        }
        Ok(())
    }

    fn min_fee(&self, size: usize, min_relay_fee_per_kb: u64) -> u64 {
        (size as u64 * min_relay_fee_per_kb).div_ceil(1000)
    }
}

fn build(config: &StrategyConfig) -> Result<node_api::BuiltStrategy, ConfigError> {
    let config: MaxOutputsConfig = config.parse()?;
    if config.max_outputs == 0 {
        return Err(ConfigError::Invalid {
            key: "max_outputs".to_string(),
            reason: "0 would refuse every transaction".to_string(),
        });
    }
    Ok(POLICY.erase(Box::new(MaxOutputs {
        max_outputs: config.max_outputs,
    })))
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY.name,
        name: "maxoutputs",
        description: "relay fee rules, and at most max_outputs outputs per transaction (custom-node example)",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}
