//! Block rules that need no chain state (Bitcoin's CheckBlock) and the BIP34 height push.

use std::collections::HashSet;

use super::{check_transaction, BlockError};
use crate::block::Block;
use crate::hash::Hash256;
use crate::merkle::merkle_root;
use crate::script::bip34_height_prefix;

/// Context-free block rules: size, merkle root (and its mutation), one coinbase first,
/// every transaction's own rules, and no outpoint spent twice within the block. Returns
/// the transaction ids the merkle root was computed from, so that connecting the block
/// (and every listener of it) need not hash its transactions again.
pub fn check_block(block: &Block, max_size: usize) -> Result<Vec<Hash256>, BlockError> {
    if block.txs.is_empty() || block.size() > max_size {
        return Err(BlockError::BadLength);
    }
    let txids = block.txids();
    let (root, mutated) = merkle_root(&txids);
    if root != block.header.merkle_root {
        return Err(BlockError::BadMerkleRoot);
    }
    if mutated {
        return Err(BlockError::Mutated);
    }
    if !block.txs[0].is_coinbase() {
        return Err(BlockError::NoCoinbase);
    }
    if block.txs[1..].iter().any(|tx| tx.is_coinbase()) {
        return Err(BlockError::MultipleCoinbase);
    }
    let mut spent = HashSet::new();
    for (tx, txid) in block.txs.iter().zip(&txids) {
        check_transaction(tx, max_size).map_err(|error| BlockError::Tx { txid: *txid, error })?;
        if !tx.is_coinbase() {
            for input in &tx.inputs {
                if !spent.insert(input.prevout) {
                    return Err(BlockError::DoubleSpendInBlock);
                }
            }
        }
    }
    Ok(txids)
}

/// Whether the coinbase script starts with the BIP34 push of `height`.
pub fn check_coinbase_height(block: &Block, height: u32) -> Result<(), BlockError> {
    let script = &block.txs[0].inputs[0].script_sig;
    if script.starts_with(&bip34_height_prefix(height)) {
        Ok(())
    } else {
        Err(BlockError::BadCoinbaseHeight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip34_pushes_match_cscript_serialization() {
        assert_eq!(bip34_height_prefix(0), [0x00]);
        assert_eq!(bip34_height_prefix(1), [0x51]);
        assert_eq!(bip34_height_prefix(16), [0x60]);
        assert_eq!(bip34_height_prefix(17), [0x01, 0x11]);
        assert_eq!(bip34_height_prefix(128), [0x02, 0x80, 0x00]);
        assert_eq!(bip34_height_prefix(255), [0x02, 0xff, 0x00]);
        assert_eq!(bip34_height_prefix(256), [0x02, 0x00, 0x01]);
        // Bitcoin mainnet block 227,836 was the first with BIP34: 03 fc7903.
        assert_eq!(bip34_height_prefix(227_836), [0x03, 0xfc, 0x79, 0x03]);
    }
}
