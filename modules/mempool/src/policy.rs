//! Mempool policies: what is relayed beyond what consensus allows. Chosen by name with
//! `[mempool] policy`; a plugin adds one with `inventory::submit!` of a
//! `node_kernel::StrategyFactory` whose behaviour is [`POLICY_BEHAVIOUR`] and whose
//! `build` returns a `Box<dyn MempoolPolicy>`.

use node_chain::script::parse_p2pkh_script_sig;
use node_chain::{is_low_s, Transaction};
use node_kernel::{inventory, StrategyFactory};

use crate::config::MempoolConfig;
use crate::error::MempoolError;

/// The behaviour name mempool policies register under.
pub const POLICY_BEHAVIOUR: &str = "mempool policy";

/// A relay policy.
pub trait MempoolPolicy: Send + Sync {
    /// Rules on the transaction's shape (size, scripts, outputs).
    fn check_standard(&self, tx: &Transaction) -> Result<(), MempoolError>;
    /// The least fee a transaction of `size` bytes must pay.
    fn min_fee(&self, size: usize, config: &MempoolConfig) -> u64;
}

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

    fn min_fee(&self, size: usize, config: &MempoolConfig) -> u64 {
        (size as u64 * config.min_relay_fee_per_kb).div_ceil(1000)
    }
}

/// The tutorial's chain had no fees: anything consensus-valid is relayed.
struct Free;

impl MempoolPolicy for Free {
    fn check_standard(&self, _tx: &Transaction) -> Result<(), MempoolError> {
        Ok(())
    }

    fn min_fee(&self, _size: usize, _config: &MempoolConfig) -> u64 {
        0
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY_BEHAVIOUR,
        name: "standard",
        description: "Bitcoin Core's standardness: low-S, no dust, size limit, minimum relay fee",
        build: || Box::new(Box::new(Standard) as Box<dyn MempoolPolicy>),
    }
}

inventory::submit! {
    StrategyFactory {
        behaviour: POLICY_BEHAVIOUR,
        name: "free",
        description: "relays every consensus-valid transaction, fee or not (the tutorial's chain)",
        build: || Box::new(Box::new(Free) as Box<dyn MempoolPolicy>),
    }
}
