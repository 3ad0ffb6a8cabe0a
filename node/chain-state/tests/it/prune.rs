//! Pruning: a node with `keep_blocks` keeps the UTXO set and every header but only recent
//! bodies, stays small on disk, agrees with an unpruned node, and refuses what it can no
//! longer connect.

use std::collections::HashMap;
use std::sync::Arc;

use node_chain::{BlockOutcome, ChainError, Coin, OutPoint, MIN_KEEP_BLOCKS};
use node_chain_state::{testing::SpendingChain, ChainOptions, ChainState};

use super::{assert_utxo_consistent, regtest};

fn open_keeping(dir: &std::path::Path, keep_blocks: u32) -> Arc<ChainState> {
    let options = ChainOptions {
        keep_blocks,
        ..ChainOptions::default()
    };
    ChainState::open(dir, regtest(), options, |_| {}).unwrap()
}

/// Main-chain heights above genesis whose body is stored.
fn heights_with_bodies(state: &ChainState) -> Vec<u32> {
    (1..=state.tip().height)
        .filter(|h| {
            let hash = state.hash_at(*h).unwrap();
            let stored = state.block(&hash).unwrap().is_some();
            assert_eq!(stored, state.entry(&hash).unwrap().has_data(), "height {h}");
            stored
        })
        .collect()
}

fn utxo(state: &ChainState) -> HashMap<OutPoint, Coin> {
    state.utxo_snapshot().unwrap().into_iter().collect()
}

#[test]
fn a_pruned_node_keeps_recent_bodies_stays_small_and_agrees_with_a_full_node() {
    let (pruned_dir, full_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pruned = open_keeping(pruned_dir.path(), MIN_KEEP_BLOCKS);
    let full = open_keeping(full_dir.path(), 0);
    assert!(pruned.is_pruned() && !full.is_pruned());
    let feed = |block: &node_chain::Block| {
        let outcome = pruned.accept_block(block).unwrap();
        assert_eq!(outcome, full.accept_block(block).unwrap());
        outcome
    };
    let mut chain = SpendingChain::new(&full, 1);
    let mut snapshots = HashMap::new();
    let mut side_block = None;
    let mut sizes = Vec::new();
    for height in 1..=800u32 {
        if matches!(height, 40 | 200 | 790) {
            snapshots.insert(height - 1, chain.clone());
        }
        feed(&chain.next_block(8));
        if height == 40 {
            // An equal-work sibling of block 40: a side branch to be pruned with it.
            let block = snapshots[&39].fork(b"side").next_block(0);
            assert_eq!(feed(&block), BlockOutcome::SideBranch);
            side_block = Some(block.hash());
        }
        if height == 400 || height == 800 {
            let kept = heights_with_bodies(&pruned);
            assert_eq!(kept.len() as u32, MIN_KEEP_BLOCKS, "at {height}");
            assert_eq!(kept[0], height - MIN_KEEP_BLOCKS + 1);
            assert_eq!(pruned.prune_height(), height - MIN_KEEP_BLOCKS);
            assert_eq!(heights_with_bodies(&full).len() as u32, height);
            assert!(pruned.block(&regtest().genesis_hash()).unwrap().is_some());
            sizes.push((pruned.disk_size(), full.disk_size()));
        }
    }
    let side = side_block.unwrap();
    let entry = pruned.entry(&side).unwrap();
    assert!(!entry.has_data() && entry.is_pruned());
    assert!(pruned.block(&side).unwrap().is_none());
    assert!(full.block(&side).unwrap().is_some());

    // Bodies come and go at the same rate, so the pruned file barely grows (the index and
    // the UTXO set still do) while the full one grows with every body.
    let [(pruned_400, full_400), (pruned_800, full_800)] = sizes[..] else {
        unreachable!()
    };
    let (pruned_growth, full_growth) = (pruned_800 - pruned_400, full_800 - full_400);
    assert!(
        pruned_growth * 4 < full_growth && pruned_800 < full_800,
        "pruned {pruned_400} -> {pruned_800}, full {full_400} -> {full_800}"
    );
    assert_eq!(utxo(&pruned), utxo(&full));
    assert_utxo_consistent(&full);

    // A reorganisation inside the kept window works as on a full node.
    let mut branch = snapshots[&789].fork(b"reorg");
    for _ in 0..12 {
        feed(&branch.next_block(2));
    }
    assert_eq!(pruned.tip(), full.tip());
    assert_eq!(pruned.tip().height, 801);
    assert_eq!(utxo(&pruned), utxo(&full));

    // One forking below the prune height cannot be connected: refused, not stored.
    let deep = snapshots[&199].fork(b"deep").next_block(0);
    let err = pruned.accept_block(&deep).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BeyondPruned {
                fork_height: 199,
                ..
            }
        ),
        "{err}"
    );
    assert!(!pruned.entry(&deep.hash()).unwrap().has_data());
    assert_eq!(full.accept_block(&deep).unwrap(), BlockOutcome::SideBranch);
    // So is a block building on a pruned side branch; old main-chain blocks are had.
    let on_side = {
        let mut side_chain = snapshots[&39].fork(b"side");
        side_chain.next_block(0);
        side_chain.next_block(0)
    };
    assert!(matches!(
        pruned.accept_block(&on_side).unwrap_err(),
        ChainError::BeyondPruned { .. }
    ));
    let old = full.block(&full.hash_at(5).unwrap()).unwrap().unwrap();
    assert_eq!(
        pruned.accept_block(&old).unwrap(),
        BlockOutcome::AlreadyHave
    );
    assert!(pruned.block(&old.hash()).unwrap().is_none());
    assert_eq!(pruned.tip(), full.tip());
}

#[test]
fn pruning_turned_on_later_catches_up_a_batch_per_block_and_stays_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = {
        let state = open_keeping(dir.path(), 0);
        let mut chain = SpendingChain::new(&state, 1);
        for _ in 0..500 {
            state.accept_block(&chain.next_block(0)).unwrap();
        }
        chain
    };
    let err = ChainState::open(
        dir.path(),
        regtest(),
        ChainOptions {
            keep_blocks: 100,
            ..ChainOptions::default()
        },
        |_| {},
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("288"), "{err}");

    let state = open_keeping(dir.path(), MIN_KEEP_BLOCKS);
    assert!(state.is_pruned());
    assert_eq!(state.prune_height(), 0);
    let mut expected = 0;
    for _ in 0..6 {
        state.accept_block(&chain.next_block(0)).unwrap();
        expected = (expected + 64).min(state.tip().height - MIN_KEEP_BLOCKS);
        assert_eq!(state.prune_height(), expected);
        assert_eq!(
            heights_with_bodies(&state).first().copied(),
            Some(expected + 1)
        );
    }
    assert_eq!(expected, state.tip().height - MIN_KEEP_BLOCKS);
    drop(state);

    // Without keep_blocks the directory stays what it is: pruned below that height.
    let state = open_keeping(dir.path(), 0);
    assert!(state.is_pruned());
    assert_eq!(state.prune_height(), expected);
    state.accept_block(&chain.next_block(0)).unwrap();
    assert_eq!(state.prune_height(), expected);
}
