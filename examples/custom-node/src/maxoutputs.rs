//! The `maxoutputs` mempool policy: another registered policy (`standard` unless
//! `[mempool.maxoutputs] wraps` names another), plus at most `max_outputs` outputs per
//! transaction. The wrapped policy is built with its own settings from the profile
//! (`[mempool.standard]`, say), as if it had been chosen, and answers every fee question.

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
    /// The registered mempool policy whose rules and fees apply besides.
    wraps: String,
}

impl Default for MaxOutputsConfig {
    fn default() -> Self {
        MaxOutputsConfig {
            // A payment and its change.
            max_outputs: 2,
            wraps: "standard".to_string(),
        }
    }
}

struct MaxOutputs {
    max_outputs: usize,
    inner: Box<dyn MempoolPolicy>,
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
        self.inner.check_standard(tx)
    }

    fn min_fee(&self, size: usize, min_relay_fee_per_kb: u64) -> u64 {
        self.inner.min_fee(size, min_relay_fee_per_kb)
    }

    fn mempool_min_fee(&self, size: usize, pool_min_fee_per_kb: u64) -> u64 {
        self.inner.mempool_min_fee(size, pool_min_fee_per_kb)
    }

    fn min_fee_rate_per_kb(&self, min_relay_fee_per_kb: u64) -> u64 {
        self.inner.min_fee_rate_per_kb(min_relay_fee_per_kb)
    }

    fn mempool_min_fee_rate_per_kb(&self, pool_min_fee_per_kb: u64) -> u64 {
        self.inner.mempool_min_fee_rate_per_kb(pool_min_fee_per_kb)
    }
}

fn build(settings: &StrategyConfig) -> Result<node_api::BuiltStrategy, ConfigError> {
    let config: MaxOutputsConfig = settings.parse()?;
    if config.max_outputs == 0 {
        return Err(ConfigError::Invalid {
            key: "max_outputs".to_string(),
            reason: "0 would refuse every transaction".to_string(),
        });
    }
    if config.wraps == "maxoutputs" {
        return Err(ConfigError::Invalid {
            key: "wraps".to_string(),
            reason: "maxoutputs cannot wrap itself".to_string(),
        });
    }
    let inner = settings.wrap("wraps", &POLICY, &config.wraps)?;
    Ok(POLICY.erase(Box::new(MaxOutputs {
        max_outputs: config.max_outputs,
        inner,
    })))
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY.name,
        name: "maxoutputs",
        description: "another policy (wraps, standard by default) and at most max_outputs outputs per transaction (custom-node example)",
        registered_by: env!("CARGO_PKG_NAME"),
        build,
    }
}
