//! The wallet over a real chain state and the test kit's mempool: receiving,
//! maturity, two payments in a row from one address, balances after confirmation, and
//! no output counted twice when the mempool is behind the chain.

use std::sync::Arc;

use node_api::chain::{Address, ChainSpec};
use node_api::{ChainView, ChainWriter, MempoolService, WalletService};
use node_chain_state::testing::{Builder, Wallet as TestKey};
use node_chain_state::{ChainOptions, LocalChain};
use node_wallet::{Wallet, WalletError};

// The kit's pool: inputs checked against the chain, following it or behind it.
use node_testkit::MemoryPool as TestPool;

const COIN: u64 = 100_000_000;

struct Harness {
    dir: tempfile::TempDir,
    chain: Arc<LocalChain>,
    builder: Builder,
    /// Mines the blocks that do not pay the wallet.
    miner: TestKey,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let spec = ChainSpec::by_name("regtest").unwrap();
        let options = ChainOptions {
            address_index: true,
            ..Default::default()
        };
        let chain = LocalChain::open(&dir.path().join("chain"), spec, options, |_| {}).unwrap();
        let builder = Builder::new(chain.state());
        Harness {
            dir,
            chain,
            builder,
            miner: TestKey::new(9),
        }
    }

    fn wallet(&self, pool: &Arc<TestPool>) -> Arc<Wallet> {
        let mempool: Arc<dyn MempoolService> = pool.clone();
        Wallet::open(
            self.chain.clone(),
            mempool,
            self.dir.path().join("wallet.json"),
            2000,
        )
        .unwrap()
    }

    /// Pays 50 coins to `to`, then buries it under 100 blocks so that it matures.
    fn fund(&mut self, to: &Address) {
        let block = self
            .builder
            .next_block_paying_script(to.script_pubkey(), 50 * COIN);
        self.chain.accept_block(&block).unwrap();
        for _ in 0..100 {
            self.mine(vec![]);
        }
    }

    fn mine(&mut self, txs: Vec<node_api::chain::Transaction>) {
        let block = self.builder.next_block(&self.miner, txs);
        self.chain.accept_block(&block).unwrap();
    }
}

#[test]
fn two_payments_in_a_row_from_one_address_both_confirm() {
    let mut h = Harness::new();
    let pool = TestPool::following(h.chain.clone());
    let wallet = h.wallet(&pool);
    let mine_to = wallet.new_address("mining").unwrap();
    let friend = wallet.new_address("friend").unwrap();

    let first = h
        .builder
        .next_block_paying_script(mine_to.script_pubkey(), 50 * COIN);
    h.chain.accept_block(&first).unwrap();
    let balance = Wallet::balance_of(&wallet.coins().unwrap());
    assert_eq!(balance.immature, 50 * COIN);
    assert!(matches!(
        wallet.send(&friend, COIN, Some(&mine_to)).unwrap_err(),
        WalletError::InsufficientFunds { .. }
    ));
    for _ in 0..100 {
        h.mine(vec![]);
    }
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
    h.mine(txs);
    assert_eq!(pool.info().size, 0);
    let friend_balance = Wallet::balance_of(&wallet.coins_of(&[friend]).unwrap());
    assert_eq!(friend_balance.confirmed, 15 * COIN);
    let from_balance = Wallet::balance_of(&wallet.coins_of(&[mine_to]).unwrap());
    assert_eq!(from_balance.confirmed, 35 * COIN - fee1 - fee2);
    let spec = h.chain.spec();
    let unknown = Address {
        version: spec.address_version,
        hash: h.miner.hash160(),
    };
    assert!(!wallet.is_mine(&unknown));
}

#[test]
fn an_output_confirmed_and_still_listed_by_a_lagging_mempool_counts_once() {
    let mut h = Harness::new();
    let pool = TestPool::checking(h.chain.clone());
    let wallet = h.wallet(&pool);
    let from = wallet.new_address("from").unwrap();
    let friend = wallet.new_address("friend").unwrap();
    h.fund(&from);

    let (txid, fee) = wallet.send(&friend, 10 * COIN, Some(&from)).unwrap();
    let balance = Wallet::balance_of(&wallet.coins().unwrap());
    assert_eq!(
        (balance.confirmed, balance.unconfirmed),
        (0, 50 * COIN - fee)
    );

    // The block confirms the payment; the pool never hears of it and still lists both
    // of its outputs.
    let tx = (*pool.get(&txid).unwrap()).clone();
    h.mine(vec![tx]);
    assert!(pool.contains(&txid));
    let coins = wallet.coins().unwrap();
    let balance = Wallet::balance_of(&coins);
    assert_eq!(
        (balance.confirmed, balance.unconfirmed),
        (50 * COIN - fee, 0)
    );
    assert_eq!(coins.len(), 2, "{coins:?}");
    // Asked one address at a time, too.
    let friend_coins = wallet.coins_of(&[friend]).unwrap();
    assert_eq!(Wallet::balance_of(&friend_coins).confirmed, 10 * COIN);
    assert_eq!(Wallet::balance_of(&friend_coins).unconfirmed, 0);
}

#[test]
fn a_coin_spent_by_a_block_connecting_between_the_reads_is_not_listed() {
    let mut h = Harness::new();
    let pool = TestPool::following(h.chain.clone());
    let wallet = h.wallet(&pool);
    let from = wallet.new_address("from").unwrap();
    let friend = wallet.new_address("friend").unwrap();
    h.fund(&from);
    let funded = wallet.coins_of(&[from]).unwrap();
    assert_eq!(funded.len(), 1);
    let (txid, _) = wallet.send(&friend, 10 * COIN, Some(&from)).unwrap();

    // The block confirming the payment connects after the wallet read the address
    // index (the funding coin unspent there) and before it asks the pool, which has
    // dropped the payment by then.
    let tx = (*pool.get(&txid).unwrap()).clone();
    let block = h.builder.next_block(&h.miner, vec![tx]);
    let chain = h.chain.clone();
    pool.before_next_is_spent(move || {
        chain.accept_block(&block).unwrap();
    });
    let coins = wallet.coins_of(&[from]).unwrap();
    assert!(!pool.contains(&txid));
    assert!(
        coins.iter().all(|c| c.outpoint != funded[0].outpoint),
        "a spent coin is listed: {coins:?}"
    );
    // The next call lists the payment's change, confirmed.
    let coins = wallet.coins_of(&[from]).unwrap();
    assert_eq!(coins.len(), 1, "{coins:?}");
    assert_eq!(coins[0].outpoint.txid, txid);
    assert!(coins[0].confirmations >= 1);
}

#[test]
fn the_wallet_service_hands_out_addresses_it_knows() {
    let h = Harness::new();
    let pool = TestPool::following(h.chain.clone());
    let service: Arc<dyn WalletService> = h.wallet(&pool);
    let address = service.new_address("mining").unwrap();
    assert!(service.is_mine(&address));
    assert_eq!(service.addresses(), vec![(address, "mining".to_string())]);
}
