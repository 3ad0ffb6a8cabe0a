//! The wallet over a real chain state and mempool: receiving, maturity, two payments in a
//! row from one address, and balances after confirmation.

use std::sync::{Arc, Mutex};

use node_chain::testing::{Builder, Wallet as TestKey};
use node_chain::{Address, ChainEvent, ChainOptions, ChainSpec, ChainState};
use node_kernel::{registered_strategies, EventBus};
use node_mempool::{Mempool, MempoolConfig, MempoolPolicy};
use node_wallet::{Wallet, WalletError};

const COIN: u64 = 100_000_000;

fn standard_policy() -> Box<dyn MempoolPolicy> {
    registered_strategies()
        .into_iter()
        .find(|s| s.name == "standard")
        .and_then(|s| s.build_as::<Box<dyn MempoolPolicy>>())
        .unwrap()
}

#[test]
fn two_payments_in_a_row_from_one_address_both_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let events: Arc<Mutex<Vec<ChainEvent>>> = Arc::default();
    let sink = events.clone();
    let spec = ChainSpec::by_name("regtest").unwrap();
    let chain = ChainState::open(
        &dir.path().join("chain"),
        spec,
        ChainOptions {
            address_index: true,
            ..Default::default()
        },
        move |e| sink.lock().unwrap().push(e),
    )
    .unwrap();
    let pool = Mempool::new(
        chain.clone(),
        standard_policy(),
        MempoolConfig::default(),
        EventBus::default(),
    );
    let feed = || {
        for e in events.lock().unwrap().drain(..) {
            pool.on_chain_event(&e);
        }
    };
    let wallet = Wallet::open(
        chain.clone(),
        pool.clone(),
        dir.path().join("wallet.json"),
        2000,
    )
    .unwrap();
    let mine_to = wallet.new_address("mining").unwrap();
    let friend = wallet.new_address("friend").unwrap();

    // A miner paying the wallet: the block builder pays a test key, so mine to a key
    // whose address the wallet does not know, then check immature coins via our own.
    let miner = TestKey::new(9);
    let mut builder = Builder::new(&chain);
    let first = builder.next_block_paying_script(mine_to.script_pubkey(), 50 * COIN);
    chain.accept_block(&first).unwrap();
    let balance = Wallet::balance_of(&wallet.coins().unwrap());
    assert_eq!(balance.immature, 50 * COIN);
    assert!(matches!(
        wallet.send(&friend, COIN, Some(&mine_to)).unwrap_err(),
        WalletError::InsufficientFunds { .. }
    ));
    for _ in 0..100 {
        chain
            .accept_block(&builder.next_block(&miner, vec![]))
            .unwrap();
    }
    feed();
    assert_eq!(
        Wallet::balance_of(&wallet.coins().unwrap()).confirmed,
        50 * COIN
    );

    // Two sends in a row from one address: the second spends the first's change.
    let (tx1, fee1) = wallet.send(&friend, 10 * COIN, Some(&mine_to)).unwrap();
    let (tx2, fee2) = wallet.send(&friend, 5 * COIN, Some(&mine_to)).unwrap();
    assert_eq!(pool.entry(&tx2).unwrap().depends, vec![tx1]);
    let from_coins = wallet.coins_of(&[mine_to]).unwrap();
    assert_eq!(
        Wallet::balance_of(&from_coins).unconfirmed,
        35 * COIN - fee1 - fee2
    );

    let txs: Vec<_> = pool
        .select(1_000_000, 100)
        .iter()
        .map(|s| (*s.tx).clone())
        .collect();
    chain
        .accept_block(&builder.next_block(&miner, txs))
        .unwrap();
    feed();
    assert_eq!(pool.info().size, 0);
    let friend_balance = Wallet::balance_of(&wallet.coins_of(&[friend]).unwrap());
    assert_eq!(friend_balance.confirmed, 15 * COIN);
    let from_balance = Wallet::balance_of(&wallet.coins_of(&[mine_to]).unwrap());
    assert_eq!(from_balance.confirmed, 35 * COIN - fee1 - fee2);
    let unknown: Address = miner_address(&miner, spec);
    assert!(!wallet.is_mine(&unknown));
}

fn miner_address(key: &TestKey, spec: &ChainSpec) -> Address {
    Address {
        version: spec.address_version,
        hash: key.hash160(),
    }
}
