//! The built-in mempool policies: what is relayed beyond what consensus allows. Chosen by
//! name with `[mempool] policy`; a plugin adds one with `inventory::submit!` of a
//! `node_api::StrategyFactory` for the behaviour [`node_api::POLICY`].

use node_api::chain::script::parse_p2pkh_script_sig;
use node_api::chain::{is_low_s, Transaction};
use node_api::{
    inventory, without_settings, BuiltStrategy, ConfigError, MempoolError, MempoolPolicy,
    StrategyConfig, StrategyFactory, POLICY,
};

/// Bitcoin Core's standardness rules that apply to a P2PKH-only chain.
struct Standard;

/// Bitcoin Core's MAX_STANDARD_TX_WEIGHT / 4 for a legacy transaction.
const MAX_STANDARD_TX_SIZE: usize = 100_000;
/// Bitcoin Core's dust threshold for a P2PKH output at the default dust relay fee.
const DUST_THRESHOLD: u64 = 546;

impl MempoolPolicy for Standard {
    fn check_standard(&self, tx: &Transaction) -> Result<(), MempoolError> {
        if !(1..=2).contains(&tx.version) {
            return Err(MempoolError::NonStandard("version".to_string()));
        }
        if tx.size() > MAX_STANDARD_TX_SIZE {
            return Err(MempoolError::NonStandard("tx-size".to_string()));
        }
        for input in &tx.inputs {
            let Some((sig, _)) = parse_p2pkh_script_sig(&input.script_sig) else {
                return Err(MempoolError::NonStandard(
                    "scriptsig-not-pushonly".to_string(),
                ));
            };
            if !is_low_s(sig) {
                return Err(MempoolError::NonStandard(
                    "non-mandatory-script-verify-flag (Non-canonical signature: S value is unnecessarily high)"
                        .to_string(),
                ));
            }
        }
        if tx.outputs.iter().any(|o| o.value < DUST_THRESHOLD) {
            return Err(MempoolError::NonStandard("dust".to_string()));
        }
        Ok(())
    }

    fn min_fee(&self, size: usize, min_relay_fee_per_kb: u64) -> u64 {
        (size as u64 * min_relay_fee_per_kb).div_ceil(1000)
    }
}

/// The tutorial's chain had no fees: anything consensus-valid is relayed.
struct Free;

impl MempoolPolicy for Free {
    fn check_standard(&self, _tx: &Transaction) -> Result<(), MempoolError> {
        Ok(())
    }

    fn min_fee(&self, _size: usize, _min_relay_fee_per_kb: u64) -> u64 {
        0
    }

    fn mempool_min_fee(&self, _size: usize, _pool_min_fee_per_kb: u64) -> u64 {
        0
    }

    fn min_fee_rate_per_kb(&self, _min_relay_fee_per_kb: u64) -> u64 {
        0
    }

    fn mempool_min_fee_rate_per_kb(&self, _pool_min_fee_per_kb: u64) -> u64 {
        0
    }
}

fn build_standard(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    without_settings(config)?;
    Ok(POLICY.erase(Box::new(Standard)))
}

fn build_free(config: &StrategyConfig) -> Result<BuiltStrategy, ConfigError> {
    without_settings(config)?;
    Ok(POLICY.erase(Box::new(Free)))
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY.name,
        name: "standard",
        description: "Bitcoin Core's standardness: low-S, no dust, size limit, minimum relay fee",
        registered_by: env!("CARGO_PKG_NAME"),
        build: build_standard,
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY.name,
        name: "free",
        description: "relays every consensus-valid transaction, fee or not (the tutorial's chain)",
        registered_by: env!("CARGO_PKG_NAME"),
        build: build_free,
    }
}
