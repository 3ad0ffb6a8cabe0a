//! Connecting and disconnecting one block inside the caller's LMDB write transaction (a
//! run of connects shares one, a disconnect has its own), so a crash at any instant
//! leaves the UTXO set, the main chain and the tip at one block boundary.
//!
//! Signatures are the bulk of connecting. They are checked on every core while this
//! thread walks the UTXO set: each transaction's inputs go to the verifiers as soon as
//! their coins are known, so the sequential part hides behind the parallel one. A block
//! the pipeline verified ahead needs none of that ([`Scripts::Preverified`]).

use std::sync::mpsc;

use heed::RwTxn;
use rayon::iter::{ParallelBridge, ParallelIterator};

use super::records::{address_key, decode, encode, height_key, outpoint_key, BlockUndo};
use super::store::{Dbs, WriteError};
use super::TIP_KEY;
use node_chain::block::Block;
use node_chain::coin::{created_coins, Coin};
use node_chain::hash::Hash256;
use node_chain::script::parse_p2pkh;
use node_chain::spec::ChainSpec;
use node_chain::transaction::{OutPoint, Transaction};
use node_chain::validation::{check_tx_inputs, verify_block_input_scripts, BlockError, TxError};
use node_chain::verify::preverified_for;

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

/// How connecting a block checks its inputs' signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scripts {
    /// Every signature, on all cores while the UTXO set is walked (one found in the
    /// signature cache is not checked again).
    Verify,
    /// The block pipeline verified every signature against the P2PKH script of its own
    /// public key (`ChainState::preverify`): left to check is that each coin spent has
    /// that script; a transaction with an input whose coin differs is verified in full,
    /// which reports the reason.
    Preverified,
    /// None: the block is assumed valid.
    Skip,
}

/// What [`apply_block`] does with each transaction's spent coins for the signatures.
enum SpentCoins<'a> {
    /// Nothing (an assumed-valid block).
    Ignore,
    /// Hands them to the verifiers.
    Send(&'a mpsc::Sender<(usize, Vec<Coin>)>),
    /// Checks they are the coins the block was preverified for.
    Match,
}

/// Applies `block` at `height` on top of the current tip inside `txn`: spends inputs,
/// adds outputs, checks amounts, maturity and signatures as `scripts` says, writes the
/// undo record, the main-chain entry and the tip. Any refusal aborts the whole
/// transaction; a broken rule of the UTXO pass is reported before a bad signature.
/// Returns the fees the block collected.
#[expect(
    clippy::too_many_arguments,
    reason = "the write transaction's context, spelled out rather than bundled for one caller"
)]
pub(crate) fn connect_block(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    spec: &ChainSpec,
    address_index: bool,
    block: &Block,
    txids: &[Hash256],
    hash: &Hash256,
    height: u32,
    scripts: Scripts,
) -> Result<u64> {
    // Zipped with the transactions below: a short list would skip some silently.
    assert_eq!(txids.len(), block.txs.len(), "one txid per transaction");
    let (fees, undo) = if scripts == Scripts::Verify {
        // The transaction handle stays on this thread (LMDB requires it); the verifiers
        // get (transaction index, the coins its inputs spend) through the channel.
        let (work, queue) = mpsc::channel::<(usize, Vec<Coin>)>();
        std::thread::scope(|scope| -> Result<(u64, BlockUndo)> {
            let verifier = scope.spawn(move || {
                queue
                    .into_iter()
                    .par_bridge()
                    .try_for_each(|(index, spent)| {
                        let tx = &block.txs[index];
                        verify_block_input_scripts(tx, &spent).map_err(|e| tx_error(tx, e))
                    })
            });
            let applied = apply_block(
                txn,
                dbs,
                spec,
                address_index,
                block,
                txids,
                height,
                SpentCoins::Send(&work),
            );
            // Closing the channel lets the verifiers finish once the queue is empty.
            drop(work);
            let verified = verifier
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let applied = applied?;
            verified?;
            Ok(applied)
        })?
    } else {
        let spent = if scripts == Scripts::Preverified {
            SpentCoins::Match
        } else {
            SpentCoins::Ignore
        };
        apply_block(txn, dbs, spec, address_index, block, txids, height, spent)?
    };
    dbs.undo.put(txn, hash.as_bytes(), &encode(&undo))?;
    dbs.main.put(txn, &height_key(height), hash.as_bytes())?;
    dbs.meta.put(txn, TIP_KEY, hash.as_bytes())?;
    Ok(fees)
}

/// The sequential part of connecting: the UTXO changes, amounts, maturity and the
/// coinbase value, and each transaction's spent coins for the signatures as `spent_coins`
/// says. `txids` are the block's, in order. Returns the fees and the undo record.
#[expect(
    clippy::too_many_arguments,
    reason = "connect_block's context, spelled out rather than bundled for one caller"
)]
fn apply_block(
    txn: &mut RwTxn<'_>,
    dbs: &Dbs,
    spec: &ChainSpec,
    address_index: bool,
    block: &Block,
    txids: &[Hash256],
    height: u32,
    spent_coins: SpentCoins<'_>,
) -> Result<(u64, BlockUndo)> {
    let mut undo = BlockUndo::default();
    // Transactions not preverified for the coins they spend, verified after the UTXO
    // pass (whose rules are reported first).
    let mut unmatched: Vec<(usize, Vec<Coin>)> = Vec::new();
    let mut fees: u64 = 0;
    for (index, (tx, &txid)) in block.txs.iter().zip(txids).enumerate() {
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
            match spent_coins {
                // A send fails only when the verifiers stopped at a bad signature,
                // which the caller reports.
                SpentCoins::Send(verify) => {
                    let _ = verify.send((index, checked.spent.clone()));
                }
                SpentCoins::Match => {
                    let matched = tx
                        .inputs
                        .iter()
                        .zip(&checked.spent)
                        .all(|(input, coin)| preverified_for(input, &coin.script_pubkey));
                    if !matched {
                        unmatched.push((index, checked.spent.clone()));
                    }
                }
                SpentCoins::Ignore => {}
            }
            undo.spent.extend(checked.spent);
        }
        for (outpoint, coin) in created_coins(tx, txid, height) {
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
    for (index, spent) in unmatched {
        let tx = &block.txs[index];
        verify_block_input_scripts(tx, &spent).map_err(|e| tx_error(tx, e))?;
    }
    Ok((fees, undo))
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
        for (outpoint, coin) in created_coins(tx, tx.txid(), height) {
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
