//! Transaction rules: context-free checks, input checks against a view of coins, and
//! signature checks.

use std::collections::HashSet;

use super::TxError;
use crate::coin::Coin;
use crate::script::{is_op_return, parse_p2pkh};
use crate::transaction::{OutPoint, Transaction, MAX_MONEY};
use crate::verify::{verify_p2pkh_input_cached, CacheUse};

/// Context-free rules every transaction follows (Bitcoin's CheckTransaction, plus the
/// P2PKH-only output rule of this chain). `max_size` is the chain's block size limit.
///
/// A coinbase may also carry `OP_RETURN` outputs: external miners add them (pool tags,
/// the segwit witness commitment that mining software writes by default), and Bitcoin
/// accepts them. They never enter the UTXO set.
pub fn check_transaction(tx: &Transaction, max_size: usize) -> Result<(), TxError> {
    if tx.inputs.is_empty() {
        return Err(TxError::EmptyInputs);
    }
    if tx.outputs.is_empty() {
        return Err(TxError::EmptyOutputs);
    }
    if tx.size() > max_size {
        return Err(TxError::Oversize);
    }
    let mut total: u64 = 0;
    for (index, out) in tx.outputs.iter().enumerate() {
        if out.value > MAX_MONEY {
            return Err(TxError::OutputTooLarge);
        }
        total += out.value;
        if total > MAX_MONEY {
            return Err(TxError::OutputTotalTooLarge);
        }
        let allowed = parse_p2pkh(&out.script_pubkey).is_some()
            || (tx.is_coinbase() && is_op_return(&out.script_pubkey));
        if !allowed {
            return Err(TxError::NonP2pkhOutput { index });
        }
    }
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    for input in &tx.inputs {
        if !seen.insert(input.prevout) {
            return Err(TxError::DuplicateInputs);
        }
    }
    if tx.is_coinbase() {
        let len = tx.inputs[0].script_sig.len();
        if !(2..=100).contains(&len) {
            return Err(TxError::CoinbaseLength);
        }
    } else if tx.inputs.iter().any(|i| i.prevout.is_null()) {
        return Err(TxError::NullPrevout);
    }
    Ok(())
}

/// Looks up the coin an outpoint spends, in whatever view the caller validates against
/// (the UTXO set inside a block's write transaction, or the UTXO set plus the mempool).
pub type CoinLookup<'a> = dyn FnMut(&OutPoint) -> Option<Coin> + 'a;

/// What the input checks found: the fee and the coins spent, in input order.
#[derive(Debug, Clone)]
pub struct InputCheck {
    /// Inputs minus outputs, satoshis.
    pub fee: u64,
    /// The coin each input spends.
    pub spent: Vec<Coin>,
}

/// Checks that every input of a non-coinbase transaction spends an existing, mature coin
/// and that inputs cover outputs (Bitcoin's Consensus::CheckTxInputs). Signatures are
/// checked separately so a block can verify all of them in parallel.
pub fn check_tx_inputs(
    tx: &Transaction,
    lookup: &mut CoinLookup<'_>,
    spend_height: u32,
    maturity: u32,
) -> Result<InputCheck, TxError> {
    let mut spent = Vec::with_capacity(tx.inputs.len());
    let mut inputs: u64 = 0;
    for input in &tx.inputs {
        let coin = lookup(&input.prevout).ok_or(TxError::MissingInputs)?;
        if coin.coinbase {
            let depth = spend_height.saturating_sub(coin.height);
            if depth < maturity {
                return Err(TxError::PrematureCoinbaseSpend { depth, maturity });
            }
        }
        inputs = inputs
            .checked_add(coin.value)
            .filter(|v| *v <= MAX_MONEY)
            .ok_or(TxError::InputValuesOutOfRange)?;
        spent.push(coin);
    }
    let outputs = tx.output_value().ok_or(TxError::OutputTotalTooLarge)?;
    if inputs < outputs {
        return Err(TxError::InputsBelowOutputs { inputs, outputs });
    }
    Ok(InputCheck {
        fee: inputs - outputs,
        spent,
    })
}

/// Verifies every input's signature against the coin it spends, in order, recording the
/// valid ones in the signature cache so that the block that confirms the transaction
/// does not verify them again (the mempool's check).
pub fn verify_input_scripts(tx: &Transaction, spent: &[Coin]) -> Result<(), TxError> {
    verify_scripts(tx, spent, CacheUse::Store)
}

/// [`verify_input_scripts`] for a block connecting: signatures found in the cache are
/// not checked again, and leave it.
pub fn verify_block_input_scripts(tx: &Transaction, spent: &[Coin]) -> Result<(), TxError> {
    verify_scripts(tx, spent, CacheUse::Consume)
}

fn verify_scripts(tx: &Transaction, spent: &[Coin], cache: CacheUse) -> Result<(), TxError> {
    for (input, coin) in spent.iter().enumerate() {
        verify_p2pkh_input_cached(tx, input, &coin.script_pubkey, cache).map_err(|e| {
            TxError::Script {
                input,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}
