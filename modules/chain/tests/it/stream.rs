//! The chain stream over a real chain state: subscribers slowed on purpose, behind a
//! ring far smaller than the chain's changes, through 1,000 blocks, a 10-block
//! reorganisation and blocks after it, each see every step in order exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use node_api::chain::{ChainSpec, Hash256};
use node_api::{
    BlockId, ChainStep, ChainStream, ChainSubscription, ChainView, ChainWriter, StreamError,
    StreamStart,
};
use node_chain_module::{LocalStream, RING_BLOCK_IDS};
use node_chain_state::testing::{Builder, Wallet};
use node_chain_state::{ChainOptions, LocalChain};
use tokio::sync::watch;

/// Bounds every wait, so a stream that loses a step fails the test instead of hanging.
const DEADLINE: Duration = Duration::from_secs(60);

/// A ring of 16 block ids: every subscriber that pauses falls out of it.
const TINY_RING: usize = 16;

/// A subscriber's view of the chain, built only from the steps it was handed.
struct Follower {
    chain: Vec<BlockId>,
    /// Commits less reverts, per block.
    net: HashMap<Hash256, i32>,
    /// The blocks it started with.
    initial: HashSet<Hash256>,
    steps: Vec<ChainStep>,
}

impl Follower {
    /// Starts from the main chain up to the subscription's snapshot.
    fn new(view: &dyn ChainView, snapshot: BlockId) -> Follower {
        let chain: Vec<BlockId> = (0..=snapshot.height)
            .map(|height| BlockId {
                hash: view.hash_at(height).unwrap(),
                height,
            })
            .collect();
        assert_eq!(chain.last(), Some(&snapshot));
        Follower {
            initial: chain.iter().map(|b| b.hash).collect(),
            chain,
            net: HashMap::new(),
            steps: Vec::new(),
        }
    }

    /// Applies a step, checking it applies to what the follower holds.
    fn apply(&mut self, view: &dyn ChainView, step: ChainStep) {
        for block in step.reverted() {
            assert_eq!(self.chain.last(), Some(block), "reverts the tip: {step:?}");
            self.chain.pop();
            *self.net.entry(block.hash).or_default() -= 1;
        }
        if let ChainStep::Reverted { tip, .. } = &step {
            assert_eq!(self.chain.last(), Some(tip));
        }
        for block in step.committed() {
            let tip = self.chain.last().unwrap();
            assert_eq!(block.height, tip.height + 1, "{step:?}");
            let entry = view.entry(&block.hash).unwrap();
            assert_eq!(entry.header.prev_block, tip.hash, "commits on the tip");
            self.chain.push(*block);
            *self.net.entry(block.hash).or_default() += 1;
        }
        assert!(!step.reverted().is_empty() || !step.committed().is_empty());
        assert_eq!(Some(&step.tip()), self.chain.last());
        self.steps.push(step);
    }

    /// Every block of the final main chain above the snapshot committed once (net),
    /// every other block as often reverted as committed.
    fn check_exactly_once(&self, view: &dyn ChainView, snapshot: u32) {
        let tip = view.tip();
        assert_eq!(self.chain.len() as u32, tip.height + 1);
        for (height, block) in self.chain.iter().enumerate() {
            assert_eq!(Some(block.hash), view.hash_at(height as u32));
        }
        for (hash, net) in &self.net {
            // Blocks the follower started with count as committed before it started.
            let expected = i32::from(view.is_main(hash)) - i32::from(self.initial.contains(hash));
            assert_eq!(
                *net,
                expected,
                "block {hash} at {:?}, main {}",
                view.entry(hash).map(|e| e.height),
                view.is_main(hash)
            );
        }
        for block in &self.chain[snapshot as usize + 1..] {
            assert_eq!(self.net.get(&block.hash), Some(&1));
        }
    }
}

/// Follows `subscription` until it reaches `end`, pausing `pause` after each step and
/// first waiting for `gate` to open when one is given.
async fn follow(
    view: Arc<LocalChain>,
    mut subscription: Box<dyn ChainSubscription>,
    end: Hash256,
    pause: Duration,
    mut gate: Option<watch::Receiver<bool>>,
) -> Follower {
    let snapshot = subscription.snapshot();
    let mut follower = Follower::new(&*view, snapshot);
    if let Some(gate) = &mut gate {
        gate.wait_for(|open| *open).await.unwrap();
    }
    while subscription.position().hash != end {
        let step = tokio::time::timeout(DEADLINE, subscription.next())
            .await
            .expect("a step in time")
            .unwrap();
        follower.apply(&*view, step);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    follower
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscribers_see_every_step_in_order_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ChainSpec::by_name("regtest").unwrap();
    let chain = LocalChain::open(dir.path(), spec, ChainOptions::default(), |_| {}).unwrap();
    let tiny = LocalStream::new(chain.clone(), TINY_RING);
    chain.listen(tiny.clone());
    let full = LocalStream::new(chain.clone(), RING_BLOCK_IDS);
    chain.listen(full.clone());

    // Build the whole history first, so the subscribers know where it ends: 1,000
    // blocks, a branch from height 990 that overtakes it at 1,001 (10 blocks leave the
    // chain, 11 join), and 20 blocks after it.
    let wallet = Wallet::new(1);
    let mut builder = Builder::new(chain.state());
    let mut first = Vec::new();
    let mut fork_point = None;
    for height in 1..=1000 {
        first.push(builder.next_block(&wallet, vec![]));
        if height == 990 {
            fork_point = Some(builder.clone());
        }
    }
    let mut branch = fork_point.unwrap();
    branch.set_extra(b"branch");
    let reorg: Vec<_> = (0..11)
        .map(|_| branch.next_block(&wallet, vec![]))
        .collect();
    let after: Vec<_> = (0..20)
        .map(|_| branch.next_block(&wallet, vec![]))
        .collect();
    let end = after.last().unwrap().header.hash();
    let reorg_tip = reorg.last().unwrap().header.hash();

    // From the tip (genesis), slowed by a millisecond a step, beside the writer.
    let slow = tokio::spawn(follow(
        chain.clone(),
        tiny.subscribe(StreamStart::Tip).unwrap(),
        end,
        Duration::from_millis(1),
        None,
    ));
    // From the tip too, but held still until the writer is done: all from the store.
    let (open, gate) = watch::channel(false);
    let stalled = tokio::spawn(follow(
        chain.clone(),
        tiny.subscribe(StreamStart::Tip).unwrap(),
        end,
        Duration::ZERO,
        Some(gate.clone()),
    ));
    // With a ring holding every step, read at the end: the steps exactly as they came.
    let exact = tokio::spawn(follow(
        chain.clone(),
        full.subscribe(StreamStart::Tip).unwrap(),
        end,
        Duration::ZERO,
        Some(gate.clone()),
    ));

    let writer = chain.clone();
    let first_blocks = first.clone();
    tokio::task::spawn_blocking(move || {
        for block in &first_blocks {
            writer.accept_block(block).unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(chain.tip().height, 1000);

    // Standing on the branch that is about to leave, and never reading until it has.
    let on_old_branch = tiny.subscribe(StreamStart::Tip).unwrap();
    assert_eq!(on_old_branch.snapshot().height, 1000);
    let on_old_branch = tokio::spawn(follow(
        chain.clone(),
        on_old_branch,
        end,
        Duration::ZERO,
        Some(gate.clone()),
    ));
    // From a height below the tip: the first steps come from the store.
    let from_height = tokio::spawn(follow(
        chain.clone(),
        tiny.subscribe(StreamStart::Height(500)).unwrap(),
        end,
        Duration::from_millis(1),
        None,
    ));
    match tiny.subscribe(StreamStart::Height(1001)) {
        Err(StreamError::AboveTip {
            height: 1001,
            tip: 1000,
        }) => {}
        other => panic!("{:?}", other.map(|s| s.snapshot())),
    }

    let writer = chain.clone();
    tokio::task::spawn_blocking(move || {
        for block in reorg.iter().chain(&after) {
            writer.accept_block(block).unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(chain.tip().hash, end);
    assert_eq!(chain.tip().height, 1021);
    open.send_replace(true);

    let slow = slow.await.unwrap();
    slow.check_exactly_once(&*chain, 0);
    let stalled = stalled.await.unwrap();
    stalled.check_exactly_once(&*chain, 0);
    // Caught up from the store in chunks, never block by block.
    assert!(stalled.steps.len() < 10, "{} steps", stalled.steps.len());
    let on_old_branch = on_old_branch.await.unwrap();
    on_old_branch.check_exactly_once(&*chain, 1000);
    match &on_old_branch.steps[0] {
        ChainStep::Reorged { old, new } => {
            assert_eq!(old.len(), 10);
            assert_eq!(old[0].height, 1000);
            assert_eq!(new.len(), 31);
        }
        other => panic!("expected the reorganisation first, got {other:?}"),
    }
    from_height.await.unwrap().check_exactly_once(&*chain, 500);

    let exact = exact.await.unwrap();
    exact.check_exactly_once(&*chain, 0);
    assert_eq!(exact.steps.len(), 1000 + 1 + 20);
    for (i, step) in exact.steps[..1000].iter().enumerate() {
        let expected = BlockId {
            hash: first[i].header.hash(),
            height: i as u32 + 1,
        };
        assert_eq!(
            step,
            &ChainStep::Committed {
                blocks: vec![expected]
            }
        );
    }
    match &exact.steps[1000] {
        ChainStep::Reorged { old, new } => {
            let old: Vec<u32> = old.iter().map(|b| b.height).collect();
            assert_eq!(old, (991..=1000).rev().collect::<Vec<_>>());
            assert_eq!(new.len(), 11);
            assert_eq!(new[0].height, 991);
            assert_eq!(new.last().unwrap().hash, reorg_tip);
        }
        other => panic!("expected the reorganisation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_subscriber_gets_blocks_from_memory_or_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ChainSpec::by_name("regtest").unwrap();
    let chain = LocalChain::open(dir.path(), spec, ChainOptions::default(), |_| {}).unwrap();
    let stream = LocalStream::new(chain.clone(), TINY_RING);
    chain.listen(stream.clone());
    let mut subscription = stream.subscribe(StreamStart::Tip).unwrap();
    let mut builder = Builder::new(chain.state());
    let blocks: Vec<_> = (0..20)
        .map(|_| builder.next_block(&Wallet::new(2), vec![]))
        .collect();
    for block in &blocks {
        chain.accept_block(block).unwrap();
    }
    let mut seen = Vec::new();
    while let Some(step) = subscription.try_next().unwrap() {
        seen.extend(step.committed().to_vec());
    }
    assert_eq!(seen.len(), 20);
    for (id, block) in seen.iter().zip(&blocks) {
        let read = subscription.block(&id.hash).unwrap().unwrap();
        assert_eq!(read.header, block.header);
    }
    assert!(subscription.try_next().unwrap().is_none());
}
