//! Connecting and disconnecting one block: each is one LMDB write transaction, so a crash
//! at any instant leaves the UTXO set, the main chain and the tip of one block boundary.

use heed::RwTxn;
use rayon::prelude::*;

use super::records::{address_key, decode, encode, height_key, outpoint_key, BlockUndo};
use super::store::{Dbs, WriteError};
use super::TIP_KEY;
use crate::block::Block;
use crate::coin::Coin;
use crate::hash::Hash256;
use crate::script::parse_p2pkh;
use crate::spec::ChainSpec;
use crate::transaction::{OutPoint, Transaction};
use crate::validation::{check_tx_inputs, verify_input_scripts, BlockError, TxError};

type Result<T> = std::result::Result<T, WriteError<BlockError>>;

fn corrupt(what: String) -> WriteError<BlockError> {
    WriteError::Store(heed::Error::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        what,
    )))
}

fn get_coin(txn: &RwTxn<'_>, dbs: &Dbs, outpoint: &OutPoint) -> Result<Option<Coin>> {
    match dbs.utxo.get(txn, &outpoint_key(outpoint))? {
        Some(bytes) => decode::<Coin>(bytes)
            .map(Some)
            .map_err(|e| corrupt(format!("coin {}:{}: {e}", outpoint.txid, outpoint.vout))),
        None => Ok(None),
    }
}

fn add_coin(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    address_index: bool,
    outpoint: &OutPoint,
    coin: &Coin,
) -> Result<()> {
    let value = encode(coin);
    dbs.utxo.put(txn, &outpoint_key(outpoint), &value)?;
    if address_index {
        if let Some(hash) = parse_p2pkh(&coin.script_pubkey) {
            dbs.address
                .put(txn, &address_key(&hash, outpoint), &value)?;
        }
    }
    Ok(())
}

fn remove_coin(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    address_index: bool,
    outpoint: &OutPoint,
    coin: &Coin,
) -> Result<()> {
    dbs.utxo.delete(txn, &outpoint_key(outpoint))?;
    if address_index {
        if let Some(hash) = parse_p2pkh(&coin.script_pubkey) {
            dbs.address.delete(txn, &address_key(&hash, outpoint))?;
        }
    }
    Ok(())
}

fn tx_error(tx: &Transaction, error: TxError) -> WriteError<BlockError> {
    WriteError::Refused(BlockError::Tx {
        txid: tx.txid(),
        error,
    })
}

/// Applies `block` at `height` on top of the current tip inside `txn`: spends inputs,
/// adds outputs, checks amounts, maturity and (in parallel) signatures, writes the undo
/// record, the main-chain entry and the tip. Any refusal aborts the whole transaction.
/// Returns the fees the block collected.
pub(crate) fn connect_block(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    spec: &ChainSpec,
    address_index: bool,
    block: &Block,
    hash: &Hash256,
    height: u32,
) -> Result<u64> {
    let mut undo = BlockUndo::default();
    let mut fees: u64 = 0;
    // (transaction index, first undo index) for the signature pass.
    let mut to_verify: Vec<(usize, usize)> = Vec::with_capacity(block.txs.len());
    for (index, tx) in block.txs.iter().enumerate() {
        let txid = tx.txid();
        if !tx.is_coinbase() {
            let mut missing_lookup_error = None;
            let checked = {
                let mut lookup = |outpoint: &OutPoint| match get_coin(txn, dbs, outpoint) {
                    Ok(coin) => coin,
                    Err(e) => {
                        missing_lookup_error = Some(e);
                        None
                    }
                };
                check_tx_inputs(tx, &mut lookup, height, spec.coinbase_maturity)
            };
            if let Some(e) = missing_lookup_error {
                return Err(e);
            }
            let checked = checked.map_err(|e| tx_error(tx, e))?;
            fees = fees
                .checked_add(checked.fee)
                .ok_or_else(|| tx_error(tx, TxError::InputValuesOutOfRange))?;
            for (input, coin) in tx.inputs.iter().zip(&checked.spent) {
                remove_coin(txn, dbs, address_index, &input.prevout, coin)?;
            }
            to_verify.push((index, undo.spent.len()));
            undo.spent.extend(checked.spent);
        }
        for (vout, output) in tx.outputs.iter().enumerate() {
            let coin = Coin {
                value: output.value,
                height,
                coinbase: tx.is_coinbase(),
                script_pubkey: output.script_pubkey.clone(),
            };
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            add_coin(txn, dbs, address_index, &outpoint, &coin)?;
        }
    }

    let paid = block.txs[0].output_value().unwrap_or(u64::MAX);
    let allowed = spec.subsidy(height).saturating_add(fees);
    if paid > allowed {
        return Err(WriteError::Refused(BlockError::BadCoinbaseAmount {
            paid,
            allowed,
        }));
    }

    // Signatures last: they are the expensive part, and every cheaper rule passed.
    to_verify.par_iter().try_for_each(|&(index, first)| {
        let tx = &block.txs[index];
        verify_input_scripts(tx, &undo.spent[first..first + tx.inputs.len()])
            .map_err(|e| tx_error(tx, e))
    })?;

    dbs.undo.put(txn, hash.as_bytes(), &encode(&undo))?;
    dbs.main.put(txn, &height_key(height), hash.as_bytes())?;
    dbs.meta.put(txn, TIP_KEY, hash.as_bytes())?;
    Ok(fees)
}

/// Undoes `block` (the tip, at `height`) inside `txn`: removes its outputs, restores the
/// coins it spent, and moves the tip to its parent.
pub(crate) fn disconnect_block(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    address_index: bool,
    block: &Block,
    hash: &Hash256,
    height: u32,
) -> Result<()> {
    let undo: BlockUndo = match dbs.undo.get(txn, hash.as_bytes())? {
        Some(bytes) => decode(bytes).map_err(|e| corrupt(format!("undo of {hash}: {e}")))?,
        None => return Err(corrupt(format!("no undo data for block {hash}"))),
    };
    let mut spent = undo.spent.into_iter().rev();
    for tx in block.txs.iter().rev() {
        let txid = tx.txid();
        for (vout, output) in tx.outputs.iter().enumerate() {
            let outpoint = OutPoint {
                txid,
                vout: vout as u32,
            };
            let coin = Coin {
                value: output.value,
                height,
                coinbase: tx.is_coinbase(),
                script_pubkey: output.script_pubkey.clone(),
            };
            remove_coin(txn, dbs, address_index, &outpoint, &coin)?;
        }
        if !tx.is_coinbase() {
            for input in tx.inputs.iter().rev() {
                let coin = spent
                    .next()
                    .ok_or_else(|| corrupt(format!("undo data of {hash} too short")))?;
                add_coin(txn, dbs, address_index, &input.prevout, &coin)?;
            }
        }
    }
    if spent.next().is_some() {
        return Err(corrupt(format!("undo data of {hash} too long")));
    }
    dbs.undo.delete(txn, hash.as_bytes())?;
    dbs.main.delete(txn, &height_key(height))?;
    dbs.meta
        .put(txn, TIP_KEY, block.header.prev_block.as_bytes())?;
    Ok(())
}
