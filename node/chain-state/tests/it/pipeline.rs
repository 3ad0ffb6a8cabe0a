//! The block pipeline and `assume_valid`: blocks accepted from many threads in any order,
//! or handed over ahead and accepted side by side, end on the same chain, blocks written in runs are announced one by one and a bad one
//! in a run is found, and signatures are skipped only below an assumed-valid block on the
//! best header chain.

use std::sync::{mpsc, Arc};

use node_chain::validation::{BlockError, TxError};
use node_chain::{Block, BlockOutcome, Hash256};
use node_chain_state::testing::{Builder, SpendingChain, Wallet};
use node_chain_state::{import_blocks, ChainOptions, ChainState, ImportError};

use super::{assert_utxo_consistent, open, regtest, rule};

fn open_assuming(dir: &std::path::Path, assume_valid: Option<Hash256>) -> Arc<ChainState> {
    let options = ChainOptions {
        assume_valid,
        ..ChainOptions::default()
    };
    ChainState::open(dir, regtest(), options, |_| {}).unwrap()
}

/// 105 blocks whose 101st spends the first coinbase with an invalid signature (the
/// output was changed after signing).
fn chain_with_bad_signature() -> Vec<Block> {
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), None);
    let wallet = Wallet::new(1);
    let mut builder = Builder::new(&state);
    let mut blocks: Vec<Block> = (0..100)
        .map(|_| builder.next_block(&wallet, vec![]))
        .collect();
    let coinbase = &blocks[0].txs[0];
    let value = coinbase.outputs[0].value;
    let mut bad = wallet.pay(coinbase, 0, &wallet, value - 2_000, 1_000);
    bad.outputs[0].value += 500;
    blocks.push(builder.next_block(&wallet, vec![bad]));
    blocks.extend((0..4).map(|_| builder.next_block(&wallet, vec![])));
    blocks
}

/// `count` blocks of four payments each, connected in a source state (returned with its
/// directory: its tip is the one to reach).
fn spending_blocks(count: usize) -> (tempfile::TempDir, Arc<ChainState>, Vec<Block>) {
    let dir = tempfile::tempdir().unwrap();
    let source = open_assuming(dir.path(), None);
    let mut chain = SpendingChain::new(&source, 3);
    let blocks: Vec<Block> = (0..count).map(|_| chain.next_block(4)).collect();
    for block in &blocks {
        source.accept_block(block).unwrap();
    }
    (dir, source, blocks)
}

/// A fresh state in `dir` that knows the headers of `blocks`, as after a headers-first
/// sync's headers.
fn with_headers(dir: &std::path::Path, blocks: &[Block]) -> Arc<ChainState> {
    let state = open_assuming(dir, None);
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    state.accept_headers(&headers).unwrap();
    state
}

fn headers_then_blocks(state: &ChainState, blocks: &[Block]) -> Result<(), BlockError> {
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    state.accept_headers(&headers).unwrap();
    for block in blocks {
        state.accept_block(block).map_err(rule)?;
    }
    Ok(())
}

/// Imports `blocks` (headers known) and checks that the 101st is refused for a script,
/// with the 100 before it connected; returns the reason.
fn import_refused_at_101(state: &ChainState, blocks: &[Block]) -> BlockError {
    let error = import_blocks(state, blocks.iter().cloned().map(Ok), None, |_| {}).unwrap_err();
    let ImportError::Refused { number, error, .. } = error else {
        panic!("expected a refused block, got {error}");
    };
    assert_eq!(number, 101);
    let error = rule(*error);
    assert!(is_bad_signature(&error), "{error}");
    assert_eq!(state.tip().height, 100);
    assert_utxo_consistent(state);
    error
}

fn is_bad_signature(error: &BlockError) -> bool {
    matches!(
        error,
        BlockError::Tx {
            error: TxError::Script { .. },
            ..
        }
    )
}

#[test]
fn a_bad_signature_below_the_assumed_valid_block_is_accepted() {
    let blocks = chain_with_bad_signature();
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), Some(blocks[103].hash()));
    headers_then_blocks(&state, &blocks).unwrap();
    assert_eq!(state.tip().height, 105);
    assert_utxo_consistent(&state);
}

#[test]
fn a_bad_signature_above_the_assumed_valid_block_is_rejected_with_its_reason() {
    let blocks = chain_with_bad_signature();
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), Some(blocks[99].hash()));
    let error = headers_then_blocks(&state, &blocks).unwrap_err();
    assert!(is_bad_signature(&error), "{error}");
    assert!(error
        .to_string()
        .contains("mandatory-script-verify-flag-failed"));
    assert_eq!(state.tip().height, 100);
}

#[test]
fn an_assumed_valid_block_off_the_best_header_chain_vouches_for_nothing() {
    let blocks = chain_with_bad_signature();
    // Not known at all: its header has not arrived.
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), Some(blocks[103].hash()));
    let error = blocks
        .iter()
        .map(|b| state.accept_block(b))
        .find_map(Result::err)
        .map(rule)
        .unwrap();
    assert!(is_bad_signature(&error), "{error}");
    assert_eq!(state.tip().height, 100);

    // Known, but on a branch with less work than the best header chain.
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), Some(blocks[101].hash()));
    let longer = {
        let mut builder = Builder::new(&state);
        let wallet = Wallet::new(2);
        builder.set_extra(b"other");
        (0..110)
            .map(|_| builder.next_block(&wallet, vec![]))
            .collect::<Vec<_>>()
    };
    let headers: Vec<_> = longer.iter().map(|b| b.header).collect();
    state.accept_headers(&headers).unwrap();
    let error = headers_then_blocks(&state, &blocks).unwrap_err();
    assert!(is_bad_signature(&error), "{error}");
}

#[test]
fn blocks_accepted_from_many_threads_in_any_order_build_one_chain() {
    let (_source_dir, source, blocks) = spending_blocks(160);
    let dir = tempfile::tempdir().unwrap();
    let state = with_headers(dir.path(), &blocks);
    // Four threads take every fourth block, so children often arrive before parents.
    std::thread::scope(|scope| {
        for lane in 0..4 {
            let (state, blocks) = (&state, &blocks);
            scope.spawn(move || {
                for block in blocks.iter().skip(lane).step_by(4) {
                    let outcome = state.accept_block(block).unwrap();
                    assert_ne!(outcome, BlockOutcome::AlreadyHave);
                }
            });
        }
    });
    assert_eq!(state.tip(), source.tip());
    assert_utxo_consistent(&state);
}

#[test]
fn a_run_with_a_bad_signature_connects_the_blocks_before_it_and_names_the_culprit() {
    let blocks = chain_with_bad_signature();
    let dir = tempfile::tempdir().unwrap();
    let state = with_headers(dir.path(), &blocks);
    // The import writes whatever is verified in runs, so the bad block sits in a run.
    import_refused_at_101(&state, &blocks);
}

#[test]
fn a_signature_verified_ahead_for_another_key_does_not_unlock_the_coin_it_spends() {
    // The pipeline verifies each signature against the P2PKH script of the input's own
    // key, before the coin is known: a thief's valid signature passes that, and only the
    // coin's real script, checked when the block connects, refuses it.
    let dir = tempfile::tempdir().unwrap();
    let state = open_assuming(dir.path(), None);
    let (owner, thief) = (Wallet::new(1), Wallet::new(2));
    let mut builder = Builder::new(&state);
    let mut blocks: Vec<Block> = (0..100)
        .map(|_| builder.next_block(&owner, vec![]))
        .collect();
    let coinbase = &blocks[0].txs[0];
    let mut theft = owner.pay(
        coinbase,
        0,
        &thief,
        coinbase.outputs[0].value - 1_000,
        1_000,
    );
    thief.resign(&mut theft, &thief.script());
    blocks.push(builder.next_block(&owner, vec![theft]));
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    state.accept_headers(&headers).unwrap();
    let error = import_refused_at_101(&state, &blocks);
    assert!(
        error.to_string().contains("public key does not match"),
        "{error}"
    );
}

#[test]
fn blocks_written_in_runs_are_announced_in_order_with_one_tip_per_run() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = open_assuming(source_dir.path(), None);
    let mut chain = SpendingChain::new(&source, 3);
    let blocks: Vec<Block> = (0..150).map(|_| chain.next_block(4)).collect();
    let dir = tempfile::tempdir().unwrap();
    let (state, events) = open(dir.path(), false);
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    state.accept_headers(&headers).unwrap();
    import_blocks(&state, blocks.iter().cloned().map(Ok), None, |_| {}).unwrap();
    let events = events.lock().unwrap().clone();
    let connects: Vec<&String> = events.iter().filter(|e| e.starts_with("connect")).collect();
    let expected: Vec<String> = (1..=150).map(|h| format!("connect {h}")).collect();
    assert_eq!(connects, expected.iter().collect::<Vec<_>>());
    // A tip per run (as Core announces one per step), each right after the connect of
    // the block it names, the last at the end.
    let tips: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].starts_with("tip"))
        .collect();
    for &i in &tips {
        let height = events[i].strip_prefix("tip ").unwrap();
        assert_eq!(events[i - 1], format!("connect {height}"), "{events:?}");
    }
    assert!(tips.len() < 150 / 2, "{} tips for 150 blocks", tips.len());
    assert_eq!(events.last().map(String::as_str), Some("tip 150"));
    assert_utxo_consistent(&state);
}

/// Hands `blocks` to `state` ahead, in the order given, as the sync does; returns the
/// outcomes in that order.
fn accept_ahead_side_by_side(
    state: &Arc<ChainState>,
    blocks: &[Block],
) -> Vec<Result<BlockOutcome, node_chain::ChainError>> {
    let outcomes: Vec<_> = blocks
        .iter()
        .map(|block| {
            let (done, outcome) = mpsc::channel();
            state.accept_ahead(Arc::new(block.clone()), move |result| {
                done.send(result).unwrap()
            });
            outcome
        })
        .collect();
    outcomes.into_iter().map(|o| o.recv().unwrap()).collect()
}

#[test]
fn blocks_handed_over_ahead_in_any_order_build_one_chain() {
    let (_source_dir, source, blocks) = spending_blocks(160);
    let dir = tempfile::tempdir().unwrap();
    let state = with_headers(dir.path(), &blocks);
    // In order, then children ahead of their parents (each chunk of 10 reversed), as
    // blocks from several peers come.
    let (in_order, shuffled) = blocks.split_at(80);
    let mut shuffled = shuffled.to_vec();
    shuffled.chunks_mut(10).for_each(<[Block]>::reverse);
    for outcome in accept_ahead_side_by_side(&state, in_order) {
        assert_eq!(outcome.unwrap(), BlockOutcome::BecameTip);
    }
    for outcome in accept_ahead_side_by_side(&state, &shuffled) {
        assert_ne!(outcome.unwrap(), BlockOutcome::AlreadyHave);
    }
    assert_eq!(state.tip(), source.tip());
    assert_utxo_consistent(&state);
}

#[test]
fn a_bad_signature_handed_over_ahead_is_refused_with_its_reason() {
    let blocks = chain_with_bad_signature();
    let dir = tempfile::tempdir().unwrap();
    let state = with_headers(dir.path(), &blocks);
    let mut outcomes = accept_ahead_side_by_side(&state, &blocks);
    let error = rule(outcomes.remove(100).unwrap_err());
    assert!(is_bad_signature(&error), "{error}");
    assert!(outcomes[..100].iter().all(|o| o.is_ok()), "{outcomes:?}");
    assert!(outcomes[100..].iter().all(|o| o.is_err()), "{outcomes:?}");
    assert_eq!(state.tip().height, 100);
    assert_utxo_consistent(&state);
}

#[test]
fn a_block_handed_over_twice_and_accepted_beside_is_stored_once() {
    let (_source_dir, source, blocks) = spending_blocks(40);
    let dir = tempfile::tempdir().unwrap();
    let state = with_headers(dir.path(), &blocks);
    // Two peers deliver every block, and a third caller (`submitblock`) accepts every
    // fifth one itself, all at once.
    let twice: Vec<Block> = blocks.iter().flat_map(|b| [b.clone(), b.clone()]).collect();
    let (ahead, beside) = std::thread::scope(|scope| {
        let beside = scope.spawn(|| {
            (blocks.iter().step_by(5))
                .map(|b| state.accept_block(b))
                .collect::<Vec<_>>()
        });
        let ahead = accept_ahead_side_by_side(&state, &twice);
        (ahead, beside.join().unwrap())
    });
    let all: Vec<BlockOutcome> = ahead
        .into_iter()
        .chain(beside)
        .map(Result::unwrap)
        .collect();
    // Each block is new to exactly one of the callers that had it.
    let new = all
        .iter()
        .filter(|o| **o != BlockOutcome::AlreadyHave)
        .count();
    assert_eq!(new, blocks.len(), "{all:?}");
    assert_eq!(state.tip(), source.tip());
    assert_utxo_consistent(&state);
}
