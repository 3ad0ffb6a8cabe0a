//! Importing blocks from another data directory and from a block file.

use std::collections::HashMap;

use node_chain::MIN_KEEP_BLOCKS;
use node_chain_state::testing::SpendingChain;
use node_chain_state::{
    chain_blocks, import_blocks, write_block_file, BlockFileReader, ChainOptions, ChainState,
    ImportError,
};

use super::{assert_utxo_consistent, open, regtest};

#[test]
fn blocks_import_from_another_data_directory_and_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = open(&dir.path().join("source"), false);
    let mut chain = SpendingChain::new(&source, 1);
    for _ in 0..130 {
        source.accept_block(&chain.next_block(3)).unwrap();
    }
    // A reorganisation in the source: only its main chain is imported.
    let mut branch = chain.fork(b"branch");
    source.accept_block(&chain.next_block(3)).unwrap();
    for _ in 0..2 {
        source.accept_block(&branch.next_block(1)).unwrap();
    }
    assert_eq!(source.tip().height, 132);

    let (copy, _) = open(&dir.path().join("copy"), false);
    let mut reports = Vec::new();
    let end = import_blocks(&copy, chain_blocks(&source), Some(132), |p| {
        reports.push(p.clone())
    })
    .unwrap();
    assert_eq!(copy.tip(), source.tip());
    assert_eq!((end.imported, end.skipped, end.height), (132, 0, 132));
    assert_eq!(end.percent, Some(100.0));
    assert!(end.done && reports.last() == Some(&end));
    let utxo = |s: &ChainState| {
        s.utxo_snapshot()
            .unwrap()
            .into_iter()
            .collect::<HashMap<_, _>>()
    };
    assert_eq!(utxo(&copy), utxo(&source));
    assert_utxo_consistent(&copy);

    // Through a file, into a third directory; then again, where everything is had.
    let file = dir.path().join("blocks.dat");
    assert_eq!(write_block_file(&file, chain_blocks(&source)).unwrap(), 132);
    let (from_file, _) = open(&dir.path().join("from-file"), false);
    let blocks = BlockFileReader::open(&file).unwrap();
    let end = import_blocks(&from_file, blocks, None, |_| {}).unwrap();
    assert_eq!((end.imported, end.percent), (132, None));
    assert_eq!(from_file.tip(), source.tip());
    let blocks = BlockFileReader::open(&file).unwrap();
    let again = import_blocks(&from_file, blocks, None, |_| {}).unwrap();
    assert_eq!((again.imported, again.skipped), (0, 132));

    // A refused block stops the import and says which.
    let (other, _) = open(&dir.path().join("other"), false);
    let blocks = chain_blocks(&source).skip(1);
    let err = import_blocks(&other, blocks, None, |_| {}).unwrap_err();
    assert!(
        matches!(err, ImportError::Refused { number: 1, .. }),
        "{err}"
    );
}

#[test]
fn a_pruned_source_cannot_give_its_old_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let options = ChainOptions {
        keep_blocks: MIN_KEEP_BLOCKS,
        ..ChainOptions::default()
    };
    let source = ChainState::open(&dir.path().join("source"), regtest(), options, |_| {}).unwrap();
    let mut chain = SpendingChain::new(&source, 1);
    for _ in 0..MIN_KEEP_BLOCKS + 2 {
        source.accept_block(&chain.next_block(0)).unwrap();
    }
    let (copy, _) = open(&dir.path().join("copy"), false);
    let err = import_blocks(&copy, chain_blocks(&source), None, |_| {}).unwrap_err();
    assert!(
        matches!(err, ImportError::SourcePruned { height: 1 }),
        "{err}"
    );
}
