//! The mempool over a real chain state: unconfirmed chains, conflicts, orphans, fees,
//! limits, confirmation, reorganisation and block selection. The pool follows the chain
//! through its listener, so every check runs right after `accept_block` returns.

use std::sync::Arc;

use node_api::chain::{Block, ChainSpec, Transaction};
use node_api::{ChainView, ChainWriter, MempoolError, MempoolService, POLICY};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, LocalChain};
use node_mempool::{Mempool, MempoolConfig};

const COIN: u64 = 100_000_000;

struct Harness {
    _dir: tempfile::TempDir,
    chain: Arc<LocalChain>,
    pool: Arc<Mempool>,
    builder: Builder,
    alice: Wallet,
    bob: Wallet,
    /// Alice's mature coinbases, oldest first.
    coinbases: Vec<Transaction>,
}

impl Harness {
    fn new(config: MempoolConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let spec = ChainSpec::by_name("regtest").unwrap();
        let chain = LocalChain::open(dir.path(), spec, ChainOptions::default(), |_| {}).unwrap();
        let policy = POLICY.build_default(&config.policy).unwrap();
        let view: Arc<dyn ChainView> = chain.clone();
        let pool = Mempool::new(view, policy, config, Default::default());
        let mut builder = Builder::new(chain.state());
        let alice = Wallet::new(1);
        let mut coinbases = Vec::new();
        for i in 0..103 {
            let block = builder.next_block(&alice, vec![]);
            if i < 3 {
                coinbases.push(block.txs[0].clone());
            }
            chain.accept_block(&block).unwrap();
        }
        Harness {
            _dir: dir,
            chain,
            pool,
            builder,
            alice,
            bob: Wallet::new(2),
            coinbases,
        }
    }

    fn mine(&mut self, txs: Vec<Transaction>) -> Block {
        let block = self.builder.next_block(&self.alice, txs);
        self.chain.accept_block(&block).unwrap();
        block
    }

    fn selected(&self) -> Vec<node_api::chain::Hash256> {
        self.pool
            .select(1_000_000, 100)
            .iter()
            .map(|s| s.tx.txid())
            .collect()
    }
}

#[test]
fn once_accept_block_returns_the_confirmed_transaction_is_out_of_the_pool_and_templates() {
    let mut h = Harness::new(MempoolConfig::default());
    let paid = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    let other = h.alice.pay(&h.coinbases[1], 0, &h.bob, COIN, 10_000);
    h.pool.accept(paid.clone()).unwrap();
    h.pool.accept(other.clone()).unwrap();
    assert_eq!(h.selected().len(), 2);

    // Issue 12's failure: the second template still offered what the first block
    // confirmed. No event loop runs here: only the chain's listener can have done this.
    h.mine(vec![paid.clone()]);
    assert!(!h.pool.contains(&paid.txid()));
    assert_eq!(h.selected(), [other.txid()]);
    // The next block from that template is accepted.
    let next = h.builder.next_block(&h.alice, vec![other.clone()]);
    h.chain.accept_block(&next).unwrap();
    assert_eq!(h.chain.tip().hash, next.hash());
    assert!(h.selected().is_empty());
    assert_eq!(h.pool.info().size, 0);
}

#[test]
fn a_second_spend_of_unconfirmed_change_is_accepted_and_both_confirm() {
    let mut h = Harness::new(MempoolConfig::default());
    let first = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    // The tutorial's failure: the second send spends the first's change before a block.
    let second = h.alice.pay(&first, 1, &h.bob, 2 * COIN, 10_000);
    h.pool.accept(first.clone()).unwrap();
    h.pool.accept(second.clone()).unwrap();
    let entry = h.pool.entry(&second.txid()).unwrap();
    assert_eq!(entry.depends, vec![first.txid()]);
    assert_eq!(h.selected(), [first.txid(), second.txid()]);
    h.mine(vec![first, second]);
    assert_eq!(h.pool.info().size, 0);
}

#[test]
fn the_first_seen_spend_wins_a_conflict() {
    let h = Harness::new(MempoolConfig::default());
    let a = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    let b = h.alice.pay(&h.coinbases[0], 0, &h.bob, 2 * COIN, 10_000);
    h.pool.accept(a).unwrap();
    assert_eq!(h.pool.accept(b).unwrap_err(), MempoolError::Conflict);
}

#[test]
fn an_orphan_waits_for_its_parent() {
    let h = Harness::new(MempoolConfig::default());
    let parent = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    let child = h.alice.pay(&parent, 1, &h.bob, COIN, 10_000);
    assert_eq!(
        h.pool.accept(child.clone()).unwrap_err(),
        MempoolError::MissingInputs
    );
    assert_eq!(
        h.pool.info().orphans,
        0,
        "local submissions are not kept as orphans"
    );
    assert_eq!(
        h.pool.accept_from_peer(child.clone()).unwrap_err(),
        MempoolError::MissingInputs
    );
    assert_eq!(h.pool.info().orphans, 1);
    h.pool.accept_from_peer(parent).unwrap();
    assert!(h.pool.contains(&child.txid()));
    assert_eq!(h.pool.info().orphans, 0);
}

#[test]
fn fees_below_the_minimum_are_refused_unless_the_policy_is_free() {
    let h = Harness::new(MempoolConfig::default());
    let cheap = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10);
    assert!(matches!(
        h.pool.accept(cheap).unwrap_err(),
        MempoolError::FeeTooLow { fee: 10, .. }
    ));

    let h = Harness::new(MempoolConfig {
        policy: "free".to_string(),
        ..Default::default()
    });
    let free = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 0);
    h.pool.accept(free).unwrap();
}

#[test]
fn chains_longer_than_the_ancestor_limit_are_refused() {
    let h = Harness::new(MempoolConfig {
        ancestor_limit: 2,
        ..Default::default()
    });
    let a = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    let b = h.alice.pay(&a, 1, &h.bob, COIN, 10_000);
    let c = h.alice.pay(&b, 1, &h.bob, COIN, 10_000);
    h.pool.accept(a).unwrap();
    h.pool.accept(b).unwrap();
    assert_eq!(
        h.pool.accept(c).unwrap_err(),
        MempoolError::TooLongChain { limit: 2 }
    );
}

#[test]
fn a_block_spending_the_same_coin_evicts_the_pooled_conflict_and_its_children() {
    let mut h = Harness::new(MempoolConfig::default());
    let pooled = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    let child = h.alice.pay(&pooled, 1, &h.bob, COIN, 10_000);
    h.pool.accept(pooled).unwrap();
    h.pool.accept(child).unwrap();
    let mined = h.alice.pay(&h.coinbases[0], 0, &h.bob, 3 * COIN, 20_000);
    h.mine(vec![mined]);
    assert_eq!(h.pool.info().size, 0);
}

#[test]
fn transactions_of_a_disconnected_block_return_to_the_pool() {
    let mut h = Harness::new(MempoolConfig::default());
    let fork = h.builder.clone();
    let tx = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    h.pool.accept(tx.clone()).unwrap();
    h.mine(vec![tx.clone()]);
    assert!(!h.pool.contains(&tx.txid()));

    let mut other = fork;
    other.set_extra(b"other");
    for _ in 0..2 {
        h.chain
            .accept_block(&other.next_block(&h.alice, vec![]))
            .unwrap();
    }
    assert!(
        h.pool.contains(&tx.txid()),
        "the reorganisation brought it back"
    );
}

#[test]
fn a_full_pool_evicts_the_lowest_fee_rate() {
    let probe = Wallet::new(1).pay(
        &Harness::new(MempoolConfig::default()).coinbases[0],
        0,
        &Wallet::new(2),
        COIN,
        1,
    );
    let size = probe.size();
    let h = Harness::new(MempoolConfig {
        max_bytes: 2 * size,
        ..Default::default()
    });
    let low = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 1_000);
    let mid = h.alice.pay(&h.coinbases[1], 0, &h.bob, COIN, 5_000);
    let high = h.alice.pay(&h.coinbases[2], 0, &h.bob, COIN, 9_000);
    h.pool.accept(low.clone()).unwrap();
    h.pool.accept(mid.clone()).unwrap();
    h.pool.accept(high.clone()).unwrap();
    assert!(!h.pool.contains(&low.txid()));
    assert!(h.pool.contains(&mid.txid()) && h.pool.contains(&high.txid()));
    // Cheaper than what was evicted: refused by the raised minimum (the evicted rate
    // plus the incremental relay fee), before the pool would have to evict it again.
    let cheaper = h.alice.pay(&h.coinbases[0], 0, &h.bob, 2 * COIN, 500);
    let evicted_rate = 1_000 * 1000 / low.size() as u64;
    let required = (cheaper.size() as u64 * (evicted_rate + 1_000)).div_ceil(1000);
    assert_eq!(
        h.pool.accept(cheaper).unwrap_err(),
        MempoolError::MinFeeNotMet { fee: 500, required }
    );
    assert_eq!(h.pool.info().min_fee_per_kb, evicted_rate + 1_000);
}

#[test]
fn the_raised_minimum_outlives_the_block_that_frees_room() {
    let size = Wallet::new(1)
        .pay(
            &Harness::new(MempoolConfig::default()).coinbases[0],
            0,
            &Wallet::new(2),
            COIN,
            1,
        )
        .size();
    let mut h = Harness::new(MempoolConfig {
        max_bytes: 2 * size,
        ..Default::default()
    });
    let low = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 1_000);
    let mid = h.alice.pay(&h.coinbases[1], 0, &h.bob, COIN, 5_000);
    let high = h.alice.pay(&h.coinbases[2], 0, &h.bob, COIN, 9_000);
    for tx in [&low, &mid, &high] {
        h.pool.accept(tx.clone()).unwrap();
    }
    // A block confirms both entries: the pool is empty, its minimum still raised.
    h.mine(vec![mid, high]);
    assert_eq!(h.pool.info().size, 0);
    let min = h.pool.info().min_fee_per_kb;
    assert_eq!(min, 1_000 * 1000 / low.size() as u64 + 1_000);
    // 1.5 sat/B, above the relay minimum, is refused while the minimum is raised.
    let cheap = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 340);
    assert!(matches!(
        h.pool.accept(cheap).unwrap_err(),
        MempoolError::MinFeeNotMet { fee: 340, .. }
    ));
}

#[test]
fn selection_puts_higher_fee_rates_first_within_the_size() {
    let h = Harness::new(MempoolConfig::default());
    let low = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 1_000);
    let high = h.alice.pay(&h.coinbases[1], 0, &h.bob, COIN, 50_000);
    h.pool.accept(low.clone()).unwrap();
    h.pool.accept(high.clone()).unwrap();
    let all: Vec<_> = h
        .pool
        .select(1_000_000, 10)
        .iter()
        .map(|s| s.tx.txid())
        .collect();
    assert_eq!(all, [high.txid(), low.txid()]);
    let one: Vec<_> = h
        .pool
        .select(high.size(), 10)
        .iter()
        .map(|s| s.tx.txid())
        .collect();
    assert_eq!(one, [high.txid()]);
    assert_eq!(h.pool.select(1_000_000, 1).len(), 1);
}

#[test]
fn a_reorganisation_returns_a_disconnected_parent_before_its_pooled_child() {
    let mut h = Harness::new(MempoolConfig::default());
    let fork = h.builder.clone();
    let parent = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    h.mine(vec![parent.clone()]);
    let child = h.alice.pay(&parent, 1, &h.bob, COIN, 10_000);
    h.pool.accept(child.clone()).unwrap();
    assert!(h.pool.entry(&child.txid()).unwrap().depends.is_empty());

    let mut other = fork;
    other.set_extra(b"other");
    for _ in 0..2 {
        h.chain
            .accept_block(&other.next_block(&h.alice, vec![]))
            .unwrap();
    }
    assert_eq!(h.pool.txids(), [parent.txid(), child.txid()]);
    assert_eq!(
        h.pool.entry(&child.txid()).unwrap().depends,
        vec![parent.txid()]
    );
    assert_eq!(h.selected(), [parent.txid(), child.txid()]);
}

#[test]
fn a_branch_spending_the_same_coin_drops_the_disconnected_transaction_and_its_child() {
    let mut h = Harness::new(MempoolConfig::default());
    let fork = h.builder.clone();
    let parent = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 10_000);
    h.mine(vec![parent.clone()]);
    let child = h.alice.pay(&parent, 1, &h.bob, COIN, 10_000);
    h.pool.accept(child.clone()).unwrap();

    let mut other = fork;
    other.set_extra(b"other");
    let rival = h.alice.pay(&h.coinbases[0], 0, &h.bob, 3 * COIN, 20_000);
    h.chain
        .accept_block(&other.next_block(&h.alice, vec![rival]))
        .unwrap();
    h.chain
        .accept_block(&other.next_block(&h.alice, vec![]))
        .unwrap();
    assert_eq!(h.pool.info().size, 0);
    assert!(h.selected().is_empty());
}

/// Asks twice the pool's rate: a policy whose fee is its own.
struct Double;

impl node_api::MempoolPolicy for Double {
    fn check_standard(&self, _tx: &Transaction) -> Result<(), MempoolError> {
        Ok(())
    }
    fn min_fee(&self, size: usize, min_relay_fee_per_kb: u64) -> u64 {
        (size as u64 * 2 * min_relay_fee_per_kb).div_ceil(1000)
    }
    fn min_fee_rate_per_kb(&self, min_relay_fee_per_kb: u64) -> u64 {
        2 * min_relay_fee_per_kb
    }
}

#[test]
fn getmempoolinfo_reports_the_policys_rates_and_a_payment_at_them_enters() {
    let h = Harness::new(MempoolConfig::default());
    let configured = MempoolConfig::default().min_relay_fee_per_kb;
    assert_eq!(h.pool.info().min_relay_fee_per_kb, configured);

    let free = Harness::new(MempoolConfig {
        policy: "free".to_string(),
        ..Default::default()
    });
    let info = free.pool.info();
    assert_eq!((info.min_relay_fee_per_kb, info.min_fee_per_kb), (0, 0));

    // Under a policy of its own, the figures are the policy's, and a payment at the
    // reported rate enters while one at the configured rate does not.
    let view: Arc<dyn ChainView> = h.chain.clone();
    let pool = Mempool::new(
        view,
        Box::new(Double),
        MempoolConfig::default(),
        Default::default(),
    );
    let info = pool.info();
    assert_eq!(info.min_relay_fee_per_kb, 2 * configured);
    assert_eq!(info.min_fee_per_kb, 2 * configured);
    let size = h.alice.pay(&h.coinbases[0], 0, &h.bob, COIN, 0).size() as u64 + 2;
    let at = |rate: u64| (size * rate).div_ceil(1000);
    let cheap = h
        .alice
        .pay(&h.coinbases[0], 0, &h.bob, COIN, at(configured));
    assert!(matches!(
        pool.accept(cheap).unwrap_err(),
        MempoolError::FeeTooLow { .. }
    ));
    let paying = h
        .alice
        .pay(&h.coinbases[1], 0, &h.bob, COIN, at(info.min_fee_per_kb));
    pool.accept(paying).unwrap();
}
