//! Chain state on real LMDB files in temporary directories: connecting, fork choice,
//! reorganisations with undo data, rejection reasons, the address index, pruning, crash
//! safety under SIGKILL, and importing blocks.

mod crash;
mod import;
mod pipeline;
mod prune;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use node_chain::validation::{BlockError, TxError};
use node_chain::{BlockOutcome, ChainError, ChainEvent, ChainSpec, Coin, OutPoint};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, ChainState};

fn regtest() -> Arc<ChainSpec> {
    ChainSpec::by_name("regtest").unwrap()
}

type Events = Arc<Mutex<Vec<String>>>;

fn open(dir: &std::path::Path, address_index: bool) -> (Arc<ChainState>, Events) {
    let events: Events = Arc::default();
    let sink = events.clone();
    let options = ChainOptions {
        address_index,
        ..ChainOptions::default()
    };
    let state = ChainState::open(dir, regtest(), options, move |e| {
        let line = match e {
            ChainEvent::BlockConnected { height, .. } => format!("connect {height}"),
            ChainEvent::BlockDisconnected { height, .. } => format!("disconnect {height}"),
            ChainEvent::TipChanged { height, .. } => format!("tip {height}"),
        };
        sink.lock().unwrap().push(line);
    })
    .unwrap();
    (state, events)
}

fn rule(err: ChainError) -> BlockError {
    match err {
        ChainError::Invalid(e) => e,
        other => panic!("expected a rule violation, got {other}"),
    }
}

/// The UTXO set rebuilt by replaying the main chain's blocks from genesis.
fn replayed_utxo(state: &ChainState) -> HashMap<OutPoint, Coin> {
    let mut utxo = HashMap::new();
    for height in 1..=state.tip().height {
        let block = state
            .block(&state.hash_at(height).unwrap())
            .unwrap()
            .unwrap();
        for tx in &block.txs {
            if !tx.is_coinbase() {
                for input in &tx.inputs {
                    assert!(
                        utxo.remove(&input.prevout).is_some(),
                        "replay spends a missing coin"
                    );
                }
            }
            for (vout, out) in tx.outputs.iter().enumerate() {
                if node_chain::script::is_op_return(&out.script_pubkey) {
                    continue;
                }
                utxo.insert(
                    OutPoint {
                        txid: tx.txid(),
                        vout: vout as u32,
                    },
                    Coin {
                        value: out.value,
                        height,
                        coinbase: tx.is_coinbase(),
                        script_pubkey: out.script_pubkey.clone(),
                    },
                );
            }
        }
    }
    utxo
}

/// The stored UTXO set equals the replay; on failure, says how they differ in a few lines.
fn assert_utxo_consistent(state: &ChainState) {
    let stored: HashMap<OutPoint, Coin> = state.utxo_snapshot().unwrap().into_iter().collect();
    let replayed = replayed_utxo(state);
    if stored == replayed {
        return;
    }
    let extra: Vec<_> = stored
        .iter()
        .filter(|(k, v)| replayed.get(k) != Some(v))
        .collect();
    let missing: Vec<_> = replayed
        .iter()
        .filter(|(k, v)| stored.get(k) != Some(v))
        .collect();
    panic!(
        "UTXO set at tip {} differs from a replay: {} stored entries not in the replay \
         (first: {:?}), {} replayed entries not stored (first: {:?})",
        state.tip().height,
        extra.len(),
        extra.first(),
        missing.len(),
        missing.first()
    );
}

#[test]
fn a_new_state_starts_at_genesis_and_reopens_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    assert_eq!(state.tip().height, 0);
    assert_eq!(state.tip().hash, regtest().genesis_hash());
    let wallet = Wallet::new(1);
    let mut b = Builder::new(&state);
    for _ in 0..3 {
        let block = b.next_block(&wallet, vec![]);
        assert_eq!(state.accept_block(&block).unwrap(), BlockOutcome::BecameTip);
    }
    let tip = state.tip();
    drop(b);
    drop(state);
    let (state, _) = open(dir.path(), false);
    assert_eq!(state.tip(), tip);
    assert_utxo_consistent(&state);
}

#[test]
fn a_data_directory_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), false));
    let dev = ChainSpec::by_name("dev").unwrap();
    let err = ChainState::open(dir.path(), dev, ChainOptions::default(), |_| {})
        .err()
        .unwrap();
    assert!(err.to_string().contains("\"regtest\""), "{err}");
}

#[test]
fn spends_move_coins_and_the_address_index_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), true);
    let alice = Wallet::new(1);
    let bob = Wallet::new(2);
    let mut b = Builder::new(&state);
    let first = b.mature_coinbase(&state, &alice);
    // The first coinbase is now mature: pay bob 10 coins with a 1,000 sat fee.
    let coinbase = &first.txs[0];
    let pay = alice.pay(coinbase, 0, &bob, 10 * 100_000_000, 1_000);
    let block = b.next_block(&alice, vec![pay.clone()]);
    assert_eq!(state.accept_block(&block).unwrap(), BlockOutcome::BecameTip);

    let bob_coins = state.address_coins(&bob.hash160()).unwrap().unwrap();
    assert_eq!(bob_coins.len(), 1);
    assert_eq!(bob_coins[0].1.value, 10 * 100_000_000);
    assert!(state
        .coin(&OutPoint {
            txid: coinbase.txid(),
            vout: 0
        })
        .unwrap()
        .is_none());
    // The miner collected the fee on top of the subsidy.
    assert_eq!(block.txs[0].outputs[0].value, 50 * 100_000_000 + 1_000);
    assert_utxo_consistent(&state);
}

#[test]
fn the_most_work_branch_wins_and_a_reorg_undoes_the_losing_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (state, events) = open(dir.path(), true);
    let alice = Wallet::new(1);
    let bob = Wallet::new(2);
    let mut main = Builder::new(&state);
    let first = main.mature_coinbase(&state, &alice);
    let fork = main.clone();
    // Branch A: two blocks, the first spending alice's mature coinbase to bob.
    let pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 500);
    state
        .accept_block(&main.next_block(&alice, vec![pay]))
        .unwrap();
    state
        .accept_block(&main.next_block(&alice, vec![]))
        .unwrap();
    assert_eq!(state.tip().height, 103);
    assert_eq!(
        state.address_coins(&bob.hash160()).unwrap().unwrap().len(),
        1
    );
    events.lock().unwrap().clear();

    // Branch B from the fork: equal work is not enough, more work wins.
    let mut other = fork;
    other.set_extra(b"branch-b");
    let b1 = other.next_block(&bob, vec![]);
    let b2 = other.next_block(&bob, vec![]);
    let b3 = other.next_block(&bob, vec![]);
    assert_eq!(state.accept_block(&b1).unwrap(), BlockOutcome::SideBranch);
    assert_eq!(state.accept_block(&b2).unwrap(), BlockOutcome::SideBranch);
    assert_eq!(state.tip().height, 103);
    assert_eq!(state.accept_block(&b3).unwrap(), BlockOutcome::BecameTip);
    assert_eq!(state.tip().hash, b3.hash());
    assert_eq!(
        *events.lock().unwrap(),
        [
            "disconnect 103",
            "disconnect 102",
            "connect 102",
            "connect 103",
            "connect 104",
            "tip 104"
        ]
    );
    // Bob's payment from branch A is undone; alice's coinbase is unspent again.
    assert!(state.address_coins(&bob.hash160()).unwrap().unwrap().len() == 3);
    assert!(state
        .coin(&OutPoint {
            txid: first.txs[0].txid(),
            vout: 0
        })
        .unwrap()
        .is_some());
    assert_utxo_consistent(&state);
}

#[test]
fn blocks_arriving_before_their_parent_connect_once_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    let alice = Wallet::new(1);
    let mut b = Builder::new(&state);
    let blocks: Vec<_> = (0..3).map(|_| b.next_block(&alice, vec![])).collect();
    // Headers first, then bodies in reverse order.
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    assert_eq!(state.accept_headers(&headers).unwrap(), 3);
    assert_eq!(state.best_header().1, 3);
    assert_eq!(
        state.missing_blocks(10),
        blocks.iter().map(|b| b.hash()).collect::<Vec<_>>()
    );
    assert_eq!(
        state.accept_block(&blocks[2]).unwrap(),
        BlockOutcome::SideBranch
    );
    assert_eq!(
        state.accept_block(&blocks[1]).unwrap(),
        BlockOutcome::SideBranch
    );
    assert_eq!(state.tip().height, 0);
    assert_eq!(
        state.accept_block(&blocks[0]).unwrap(),
        BlockOutcome::BecameTip
    );
    assert_eq!(state.tip().hash, blocks[2].hash());
    // Without the header, a block of unknown parent is not the sender's fault.
    let mut lone = b.clone();
    let _skipped = lone.next_block(&alice, vec![]);
    let orphan = lone.next_block(&alice, vec![]);
    let err = rule(state.accept_block(&orphan).unwrap_err());
    assert_eq!(err, BlockError::PrevNotFound);
    assert!(!err.is_misbehaviour());
}

#[test]
fn invalid_blocks_are_rejected_with_core_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    let alice = Wallet::new(1);
    let bob = Wallet::new(2);
    let mut b = Builder::new(&state);
    let first = b.next_block(&alice, vec![]);
    state.accept_block(&first).unwrap();

    // Spending an immature coinbase.
    let early = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 0);
    let block = b.clone().next_block(&alice, vec![early]);
    let err = rule(state.accept_block(&block).unwrap_err());
    assert!(
        matches!(
            err,
            BlockError::Tx {
                error: TxError::PrematureCoinbaseSpend { .. },
                ..
            }
        ),
        "{err}"
    );
    // The invalid block is remembered.
    assert_eq!(
        rule(state.accept_block(&block).unwrap_err()),
        BlockError::KnownInvalid
    );

    for _ in 0..100 {
        state.accept_block(&b.next_block(&alice, vec![])).unwrap();
    }
    type MakeBlock<'a> = Box<dyn Fn(&mut Builder) -> node_chain::Block + 'a>;
    let cases: Vec<(&str, MakeBlock)> = vec![
        (
            "bad-txns-inputs-missingorspent",
            Box::new(|b: &mut Builder| {
                let mut fake = first.txs[0].clone();
                fake.lock_time = 99;
                b.next_block(&alice, vec![alice.pay(&fake, 0, &bob, 1, 0)])
            }),
        ),
        (
            "bad-txns-in-belowout",
            Box::new(|b: &mut Builder| {
                let mut pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 0);
                pay.outputs[0].value = 60 * 100_000_000;
                alice.resign(&mut pay, &first.txs[0].outputs[0].script_pubkey);
                b.next_block(&alice, vec![pay])
            }),
        ),
        (
            "mandatory-script-verify-flag-failed",
            Box::new(|b: &mut Builder| {
                let mut pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 0);
                pay.outputs[0].value -= 1; // changes the sighash: the signature no longer matches
                b.next_block(&alice, vec![pay])
            }),
        ),
        (
            "bad-cb-amount",
            Box::new(|b: &mut Builder| b.next_block_paying(&alice, vec![], 50 * 100_000_000 + 1)),
        ),
        (
            "bad-cb-height",
            Box::new(|b: &mut Builder| b.next_block_with_height_push(&alice, 7)),
        ),
        (
            "bad-diffbits",
            Box::new(|b: &mut Builder| b.next_block_with_bits(&alice, 0x207f_fffe)),
        ),
        (
            "time-too-old",
            Box::new(|b: &mut Builder| b.next_block_with_time(&alice, 1)),
        ),
        (
            "bad-txns-inputs-duplicate",
            Box::new(|b: &mut Builder| {
                let mut pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 0);
                pay.inputs.push(pay.inputs[0].clone());
                b.next_block(&alice, vec![pay])
            }),
        ),
        (
            "bad-txns-output-not-p2pkh",
            Box::new(|b: &mut Builder| {
                let mut pay = alice.pay(&first.txs[0], 0, &bob, 100_000_000, 0);
                pay.outputs[0].script_pubkey = vec![0x6a];
                b.next_block(&alice, vec![pay])
            }),
        ),
    ];
    for (reason, make) in cases {
        let block = make(&mut b.clone());
        let err = rule(state.accept_block(&block).unwrap_err());
        assert_eq!(err.reason(), reason, "{err}");
        assert!(err.is_misbehaviour());
        assert_eq!(
            state.tip().height,
            101,
            "an invalid block never becomes the tip"
        );
    }
    assert_utxo_consistent(&state);
}

#[test]
fn a_mutated_block_does_not_poison_its_valid_twin() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    let alice = Wallet::new(1);
    let mut b = Builder::new(&state);
    let valid = b.clone().next_block(&alice, vec![]);
    let mut mutated = valid.clone();
    mutated.txs.push(mutated.txs[0].clone());
    assert_eq!(
        rule(state.accept_block(&mutated).unwrap_err()).reason(),
        "bad-txnmrklroot"
    );
    assert_eq!(state.accept_block(&valid).unwrap(), BlockOutcome::BecameTip);
    let _ = b.next_block(&alice, vec![]);
}

#[test]
fn a_more_work_branch_with_an_invalid_block_is_abandoned() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    let alice = Wallet::new(1);
    let mut main = Builder::new(&state);
    let fork = main.clone();
    state
        .accept_block(&main.next_block(&alice, vec![]))
        .unwrap();
    let tip = state.tip();

    let mut bad = fork;
    bad.set_extra(b"bad");
    // Valid headers and merkle roots, but the first block overpays its coinbase: only
    // connecting finds out.
    let b1 = bad.next_block_paying(&alice, vec![], 51 * 100_000_000);
    let b2 = bad.next_block(&alice, vec![]);
    // Equal work: stored, not connected, so not yet found out.
    assert_eq!(state.accept_block(&b1).unwrap(), BlockOutcome::SideBranch);
    let err = rule(state.accept_block(&b2).unwrap_err());
    assert_eq!(err, BlockError::PrevInvalid);
    assert_eq!(state.tip(), tip);
}

#[test]
fn refused_blocks_leave_their_header_stored_and_an_invalid_one_no_body() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Wallet::new(1);
    let (mutated, overpaying) = {
        let (state, _) = open(dir.path(), false);
        let mut b = Builder::new(&state);
        // Refused before connecting (bad merkle root): the header is still valid.
        let mut mutated = b.clone().next_block(&alice, vec![]);
        mutated.txs.push(mutated.txs[0].clone());
        assert!(state.accept_block(&mutated).is_err());
        // Refused while connecting on the tip: marked invalid, the body never stored.
        let overpaying = b.next_block_paying(&alice, vec![], 51 * 100_000_000);
        assert_eq!(
            rule(state.accept_block(&overpaying).unwrap_err()).reason(),
            "bad-cb-amount"
        );
        (mutated, overpaying)
    };
    let (state, _) = open(dir.path(), false);
    assert!(state.entry(&mutated.hash()).is_some());
    let entry = state.entry(&overpaying.hash()).unwrap();
    assert!(entry.is_failed() && !entry.has_data());
    assert!(state.block(&overpaying.hash()).unwrap().is_none());
    assert_eq!(
        rule(state.accept_block(&overpaying).unwrap_err()),
        BlockError::KnownInvalid
    );
    assert_eq!(state.tip().height, 0);
}

#[test]
fn a_peers_low_work_headers_are_refused_unstored_until_their_chain_has_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), false);
    let alice = Wallet::new(1);
    let fork_base = Builder::new(&state);
    let mut main = fork_base.clone();
    for _ in 0..200 {
        let block = main.next_block(&alice, vec![]);
        state.accept_block(&block).unwrap();
    }
    // Every regtest block has the same work: the threshold is 144 blocks below the tip.
    let one_block = state.entry(&regtest().genesis_hash()).unwrap().chain_work;
    assert_eq!(
        state.anti_dos_work(),
        one_block * node_chain::pow::U256::from(57u64)
    );
    // A fork off genesis: 55 headers stay below (56 with genesis), 57 reach it.
    let mut fork = fork_base.clone();
    fork.set_extra(b"fork");
    let headers: Vec<_> = (0..60)
        .map(|_| fork.next_block(&alice, vec![]).header)
        .collect();
    match state.accept_peer_headers(&headers[..55]) {
        Err(ChainError::LowWork { last }) => assert_eq!(last, headers[54].hash()),
        other => panic!("{other:?}"),
    }
    assert!(state.entry(&headers[0].hash()).is_none(), "nothing stored");
    assert_eq!(state.accept_peer_headers(&headers[..56]).unwrap(), 56);
    // Known headers are skipped: the rest counts from the last stored one.
    assert_eq!(state.accept_peer_headers(&headers).unwrap(), 4);
    // The trusted path (import) stores whatever the work.
    let mut other = fork_base.clone();
    other.set_extra(b"other");
    let header = other.next_block(&alice, vec![]).header;
    assert!(matches!(
        state.accept_peer_headers(&[header]),
        Err(ChainError::LowWork { .. })
    ));
    assert_eq!(state.accept_headers(&[header]).unwrap(), 1);
}

/// External miners add OP_RETURN outputs to their coinbase (tags, the segwit witness
/// commitment): valid as in Bitcoin, kept out of the UTXO set, undone cleanly; anywhere
/// else a non-P2PKH output stays invalid.
#[test]
fn coinbase_op_return_outputs_are_valid_and_unspendable() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path(), true);
    let mut builder = Builder::new(&state);
    let miner = Wallet::new(7);
    let mut block = builder.next_block(&miner, vec![]);
    // A witness commitment output as mining software writes it: OP_RETURN, 36 bytes.
    let mut commitment = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    commitment.extend_from_slice(&[0x5c; 32]);
    block.txs[0].outputs.push(node_chain::TxOut {
        value: 0,
        script_pubkey: commitment,
    });
    let txids: Vec<_> = block.txs.iter().map(|t| t.txid()).collect();
    block.header.merkle_root = node_chain::merkle_root(&txids).0;
    let limit = regtest().pow_limit();
    while node_chain::pow::check_proof_of_work(&block.header.hash(), block.header.bits, &limit)
        .is_err()
    {
        block.header.nonce += 1;
    }
    assert_eq!(state.accept_block(&block).unwrap(), BlockOutcome::BecameTip);
    let coinbase = block.txs[0].txid();
    let out = |vout| OutPoint {
        txid: coinbase,
        vout,
    };
    assert!(state.coin(&out(0)).unwrap().is_some());
    assert!(
        state.coin(&out(1)).unwrap().is_none(),
        "OP_RETURN is unspendable"
    );
    assert_utxo_consistent(&state);

    // Beaten by a longer branch: disconnecting the block leaves no trace of either output.
    let rival = {
        let dir2 = tempfile::tempdir().unwrap();
        let (fresh, _) = open(dir2.path(), false);
        let mut b = Builder::new(&fresh);
        b.set_extra(b"rival");
        let blocks = [b.next_block(&miner, vec![]), b.next_block(&miner, vec![])];
        drop(fresh);
        blocks
    };
    for b in &rival {
        state.accept_block(b).unwrap();
    }
    assert_eq!(state.tip().hash, rival[1].hash());
    assert!(state.coin(&out(0)).unwrap().is_none());
    assert_utxo_consistent(&state);

    // In any other transaction, an OP_RETURN output is still refused.
    let spend = node_chain::Transaction {
        version: 1,
        inputs: vec![node_chain::TxIn {
            prevout: out(0),
            script_sig: vec![],
            sequence: u32::MAX,
        }],
        outputs: vec![node_chain::TxOut {
            value: 0,
            script_pubkey: vec![0x6a, 0x01, 0x01],
        }],
        lock_time: 0,
    };
    assert_eq!(
        node_chain::validation::check_transaction(&spend, regtest().max_block_size),
        Err(TxError::NonP2pkhOutput { index: 0 })
    );
}
