//! Chain stream assertions: a follower that applies each step to the chain it holds
//! and checks it applies.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use node_api::chain::Hash256;
use node_api::{BlockId, ChainStep, ChainSubscription, ChainView};

use crate::DEADLINE;

/// Follows a chain subscription, holding the chain its steps built: the main chain up
/// to the snapshot, then each step applied. Its methods panic, as `assert!` does, when
/// a step does not apply (a revert of a block that is not the tip, a commit whose
/// parent is not the tip) or when no step comes within [`DEADLINE`].
pub struct StreamFollower {
    view: Arc<dyn ChainView>,
    subscription: Box<dyn ChainSubscription>,
    chain: Vec<BlockId>,
    /// Commits less reverts, per block.
    net: HashMap<Hash256, i32>,
    initial: HashSet<Hash256>,
    steps: Vec<ChainStep>,
}

impl StreamFollower {
    /// Starts from the subscription's snapshot, reading the chain below it from `view`.
    pub fn new(view: Arc<dyn ChainView>, subscription: Box<dyn ChainSubscription>) -> Self {
        let snapshot = subscription.snapshot();
        let chain: Vec<BlockId> = (0..=snapshot.height)
            .map(|height| BlockId {
                hash: view.hash_at(height).unwrap_or_default(),
                height,
            })
            .collect();
        assert_eq!(
            chain.last(),
            Some(&snapshot),
            "the snapshot is on the main chain"
        );
        StreamFollower {
            initial: chain.iter().map(|b| b.hash).collect(),
            view,
            subscription,
            chain,
            net: HashMap::new(),
            steps: Vec::new(),
        }
    }

    /// Applies a step, checking that it applies to the chain held.
    pub fn apply(&mut self, step: ChainStep) {
        assert!(
            !step.reverted().is_empty() || !step.committed().is_empty(),
            "an empty step"
        );
        for block in step.reverted() {
            assert_eq!(self.chain.last(), Some(block), "reverts the tip: {step:?}");
            self.chain.pop();
            *self.net.entry(block.hash).or_default() -= 1;
        }
        if let ChainStep::Reverted { tip, .. } = &step {
            assert_eq!(self.chain.last(), Some(tip), "the tip after a revert");
        }
        for block in step.committed() {
            let tip = *self.chain.last().expect("genesis is never reverted");
            assert_eq!(
                block.height,
                tip.height + 1,
                "commits above the tip: {step:?}"
            );
            let parent = self.view.entry(&block.hash).map(|e| e.header.prev_block);
            assert_eq!(parent, Some(tip.hash), "commits on the tip: {step:?}");
            self.chain.push(*block);
            *self.net.entry(block.hash).or_default() += 1;
        }
        assert_eq!(Some(&step.tip()), self.chain.last());
        self.steps.push(step);
    }

    /// Waits for the next step and applies it.
    pub async fn next(&mut self) -> ChainStep {
        let step = tokio::time::timeout(DEADLINE, self.subscription.next())
            .await
            .expect("a chain step within the deadline")
            .expect("the chain stream reads the store");
        self.apply(step.clone());
        step
    }

    /// Applies steps until the tip held is `hash`.
    pub async fn follow_to(&mut self, hash: Hash256) {
        while self.subscription.position().hash != hash {
            self.next().await;
        }
    }

    /// Applies steps until the tip held is the chain's tip.
    pub async fn follow_to_tip(&mut self) {
        let tip = self.view.tip().hash;
        self.follow_to(tip).await;
    }

    /// The steps applied so far.
    pub fn steps(&self) -> &[ChainStep] {
        &self.steps
    }

    /// The chain held, genesis first.
    pub fn chain(&self) -> &[BlockId] {
        &self.chain
    }

    /// The subscription, for its blocks.
    pub fn subscription(&self) -> &dyn ChainSubscription {
        &*self.subscription
    }

    /// Checks that the chain held is the main chain and that each block was committed
    /// exactly once (net of reverts): the main chain's blocks after the snapshot once,
    /// every other block as often reverted as committed.
    pub fn assert_exactly_once(&self) {
        let tip = self.view.tip();
        assert_eq!(
            self.chain.len() as u32,
            tip.height + 1,
            "follows to the tip"
        );
        for (height, block) in self.chain.iter().enumerate() {
            assert_eq!(Some(block.hash), self.view.hash_at(height as u32));
        }
        for (hash, net) in &self.net {
            // Blocks held from the start count as committed before it.
            let expected =
                i32::from(self.view.is_main(hash)) - i32::from(self.initial.contains(hash));
            assert_eq!(*net, expected, "block {hash}: commits less reverts");
        }
    }
}
