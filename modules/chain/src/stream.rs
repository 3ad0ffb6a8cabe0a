//! The chain stream over the chain service: the `chain-stream` service.
//!
//! The writer side is a [`ChainListener`]: inside each step that connects or
//! disconnects blocks it gathers them, and when the step ends (the tip changed) it
//! appends one [`ChainStep`] to a ring and wakes subscribers. It never waits on a
//! subscriber: the ring drops its oldest steps when it holds more than its bound of
//! block ids.
//!
//! A subscriber keeps the number of the next step it wants and the tip it has reached.
//! While that step is in the ring it is handed out; once the ring has moved past it,
//! the subscriber catches up from the store: from its tip back to where it meets the
//! main chain (reverting what left), then the main chain by height up to the ring's
//! latest tip, in chunks of at most [`CATCH_UP_CHUNK`] block ids, each checked link by
//! link (every block's parent is the one before it). Landing on the ring's latest tip,
//! it continues from the step after it. A chunk read while the chain moved is either
//! still a valid extension of what the subscriber holds (a later step reverts it if
//! needed) or fails its checks and is read again.
//!
//! Costs: per step, one short lock and a few dozen bytes per block id; per subscriber,
//! nothing on the writer's side. Catching up reads one index entry per block (memory).
//! Memory: the ring holds at most [`RING_BLOCK_IDS`] block ids (~40 bytes each) and
//! [`RECENT_BLOCKS`] recently connected blocks (shared with the chain's own handles).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use node_api::chain::{Block, ChainError, ChainEvent, Hash256};
use node_api::{
    async_trait, BlockId, ChainListener, ChainStep, ChainStream, ChainSubscription, ChainView,
    StreamError, StreamStart,
};
use tokio::sync::watch;

/// Block ids the ring keeps across its steps: at one block a step (a synced node), the
/// last 4,096 steps, enough that a subscriber a few seconds behind a sync reads none of
/// them from the store. About 160 KiB.
pub const RING_BLOCK_IDS: usize = 4096;

/// The most block ids one catch-up step carries, so a subscriber far behind never holds
/// its whole distance in memory: ~40 KiB a step.
pub const CATCH_UP_CHUNK: usize = 1024;

/// Connected blocks kept in memory for [`ChainSubscription::block`]: a subscriber close
/// behind the tip reads none from the store. At most this many blocks of the chain's
/// maximum size, held only as long as nothing newer replaces them.
pub const RECENT_BLOCKS: usize = 8;

/// The stream: what the chain module provides as `chain-stream` and registers as a
/// listener of the chain.
pub struct LocalStream {
    shared: Arc<Shared>,
}

struct Shared {
    chain: Arc<dyn ChainView>,
    ring: Mutex<Ring>,
    /// The number of the last step, for waking subscribers.
    wake: watch::Sender<u64>,
    /// The writer's step in progress.
    pending: Mutex<Pending>,
    recent: Mutex<VecDeque<(Hash256, Arc<Block>)>>,
}

struct Ring {
    /// Steps and their numbers, oldest first; the last is `last`.
    steps: VecDeque<(u64, Arc<ChainStep>)>,
    /// The number of the last step (0: none yet) and the tip after it.
    last: u64,
    tip: BlockId,
    /// Block ids across `steps`.
    ids: usize,
    max_ids: usize,
}

impl Ring {
    fn push(&mut self, step: ChainStep) {
        self.last += 1;
        self.tip = step.tip();
        self.ids += ids(&step);
        self.steps.push_back((self.last, Arc::new(step)));
        while self.ids > self.max_ids && self.steps.len() > 1 {
            if let Some((_, old)) = self.steps.pop_front() {
                self.ids -= ids(&old);
            }
        }
    }

    /// Step `number` if the ring still holds it.
    fn get(&self, number: u64) -> Option<Arc<ChainStep>> {
        let first = self.steps.front()?.0;
        let index = usize::try_from(number.checked_sub(first)?).ok()?;
        self.steps.get(index).map(|(_, step)| step.clone())
    }
}

fn ids(step: &ChainStep) -> usize {
    step.reverted().len() + step.committed().len()
}

#[derive(Default)]
struct Pending {
    /// Disconnected, highest first, and the parent of the last.
    reverted: Vec<BlockId>,
    parent: Option<BlockId>,
    /// Connected, lowest first.
    committed: Vec<BlockId>,
}

impl Pending {
    fn take(&mut self) -> Option<ChainStep> {
        let reverted = std::mem::take(&mut self.reverted);
        let committed = std::mem::take(&mut self.committed);
        let parent = self.parent.take();
        match (reverted.is_empty(), committed.is_empty()) {
            (true, true) => None,
            (true, false) => Some(ChainStep::Committed { blocks: committed }),
            (false, true) => Some(ChainStep::Reverted {
                blocks: reverted,
                tip: parent?,
            }),
            (false, false) => Some(ChainStep::Reorged {
                old: reverted,
                new: committed,
            }),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl LocalStream {
    /// A stream over `chain` starting at its tip, keeping at most `ring_block_ids` block
    /// ids in memory ([`RING_BLOCK_IDS`] for the module). Register it as a listener of
    /// the same chain before anything writes to it.
    pub fn new(chain: Arc<dyn ChainView>, ring_block_ids: usize) -> Arc<LocalStream> {
        let tip = chain.tip();
        let (wake, _) = watch::channel(0);
        Arc::new(LocalStream {
            shared: Arc::new(Shared {
                chain,
                ring: Mutex::new(Ring {
                    steps: VecDeque::new(),
                    last: 0,
                    tip: BlockId {
                        hash: tip.hash,
                        height: tip.height,
                    },
                    ids: 0,
                    max_ids: ring_block_ids.max(1),
                }),
                wake,
                pending: Mutex::default(),
                recent: Mutex::default(),
            }),
        })
    }

    fn publish(&self, step: ChainStep) {
        let number = {
            let mut ring = lock(&self.shared.ring);
            ring.push(step);
            ring.last
        };
        self.shared.wake.send_replace(number);
    }
}

impl ChainListener for LocalStream {
    fn on_chain_event(&self, event: &ChainEvent) {
        let mut pending = lock(&self.shared.pending);
        match event {
            ChainEvent::BlockConnected {
                hash,
                height,
                block,
                ..
            } => {
                pending.committed.push(BlockId {
                    hash: *hash,
                    height: *height,
                });
                let mut recent = lock(&self.shared.recent);
                if recent.len() == RECENT_BLOCKS {
                    recent.pop_front();
                }
                recent.push_back((*hash, block.clone()));
            }
            ChainEvent::BlockDisconnected {
                hash,
                height,
                block,
            } => {
                // A disconnect after connects (a branch that failed half way): what was
                // connected is a step of its own, so each step stays revert-then-commit.
                if !pending.committed.is_empty() {
                    if let Some(step) = pending.take() {
                        drop(pending);
                        self.publish(step);
                        pending = lock(&self.shared.pending);
                    }
                }
                pending.reverted.push(BlockId {
                    hash: *hash,
                    height: *height,
                });
                pending.parent = Some(BlockId {
                    hash: block.header.prev_block,
                    height: height.saturating_sub(1),
                });
            }
            ChainEvent::TipChanged { .. } => {
                if let Some(step) = pending.take() {
                    drop(pending);
                    self.publish(step);
                }
            }
        }
    }
}

impl ChainStream for LocalStream {
    fn subscribe(&self, start: StreamStart) -> Result<Box<dyn ChainSubscription>, StreamError> {
        let ring = lock(&self.shared.ring);
        let (last, tip) = (ring.last, ring.tip);
        // Taken under the ring's lock: the first step this subscriber is handed applies
        // to exactly this tip.
        let wake = self.shared.wake.subscribe();
        drop(ring);
        let (position, next) = match start {
            StreamStart::Tip => (tip, Some(last + 1)),
            StreamStart::Height(height) if height > tip.height => {
                return Err(StreamError::AboveTip {
                    height,
                    tip: tip.height,
                })
            }
            StreamStart::Height(height) => {
                // Behind the ring by construction: the first steps are read from the
                // store, up to the ring's latest tip.
                let hash = self
                    .shared
                    .chain
                    .hash_at(height)
                    .ok_or(StreamError::AboveTip {
                        height,
                        tip: tip.height,
                    })?;
                (BlockId { hash, height }, None)
            }
        };
        Ok(Box::new(Subscription {
            shared: self.shared.clone(),
            wake,
            snapshot: position,
            position,
            next,
        }))
    }
}

struct Subscription {
    shared: Arc<Shared>,
    wake: watch::Receiver<u64>,
    snapshot: BlockId,
    position: BlockId,
    /// The number of the next step to hand out; `None` while catching up from the store.
    next: Option<u64>,
}

/// What one catch-up attempt found.
enum CatchUp {
    /// A step towards the target.
    Step(ChainStep),
    /// The subscriber stands on the target: it continues from the step after it.
    Landed,
    /// The chain moved while it was read: read again.
    Moved,
}

impl Subscription {
    /// The next step without waiting: from the ring, or from the store when behind it.
    fn poll(&mut self) -> Result<Option<ChainStep>, StreamError> {
        loop {
            let (target_number, target) = {
                let ring = lock(&self.shared.ring);
                if let Some(next) = self.next {
                    if next > ring.last {
                        return Ok(None);
                    }
                    if let Some(step) = ring.get(next) {
                        drop(ring);
                        self.next = Some(next + 1);
                        self.position = step.tip();
                        return Ok(Some((*step).clone()));
                    }
                    self.next = None;
                }
                (ring.last, ring.tip)
            };
            match self.catch_up(target)? {
                CatchUp::Step(step) => {
                    self.position = step.tip();
                    return Ok(Some(step));
                }
                CatchUp::Landed => self.next = Some(target_number + 1),
                CatchUp::Moved => continue,
            }
        }
    }

    /// One chunk from the subscriber's tip towards `target` (the ring's latest tip).
    fn catch_up(&self, target: BlockId) -> Result<CatchUp, ChainError> {
        let chain = &*self.shared.chain;
        // Down to where the subscriber's chain meets the main chain, at most at the
        // target's height.
        let mut old = Vec::new();
        let mut at = self.position;
        while at.height > target.height || !chain.is_main(&at.hash) {
            if old.len() == CATCH_UP_CHUNK || at.height == 0 {
                break;
            }
            let Some(entry) = chain.entry(&at.hash) else {
                return Err(ChainError::Corrupt(format!(
                    "block {} followed by a subscriber is not in the index",
                    at.hash
                )));
            };
            old.push(at);
            at = BlockId {
                hash: entry.header.prev_block,
                height: at.height - 1,
            };
        }
        if old.len() == CATCH_UP_CHUNK {
            return Ok(CatchUp::Step(ChainStep::Reverted {
                blocks: old,
                tip: at,
            }));
        }
        // Then up the main chain, each block's parent checked against the one before.
        let room = CATCH_UP_CHUNK - old.len();
        let end = target.height.min(at.height.saturating_add(room as u32));
        let mut new = Vec::new();
        let mut parent = at.hash;
        for height in at.height + 1..=end {
            let Some(hash) = chain.hash_at(height) else {
                return Ok(CatchUp::Moved);
            };
            match chain.entry(&hash) {
                Some(entry) if entry.header.prev_block == parent => {}
                _ => return Ok(CatchUp::Moved),
            }
            new.push(BlockId { hash, height });
            parent = hash;
        }
        if end == target.height && parent != target.hash {
            // The main chain is no longer the target's: a later tip is in the ring.
            return Ok(CatchUp::Moved);
        }
        Ok(match (old.is_empty(), new.is_empty()) {
            (true, true) => CatchUp::Landed,
            (true, false) => CatchUp::Step(ChainStep::Committed { blocks: new }),
            (false, true) => CatchUp::Step(ChainStep::Reverted {
                blocks: old,
                tip: at,
            }),
            (false, false) => CatchUp::Step(ChainStep::Reorged { old, new }),
        })
    }
}

#[async_trait]
impl ChainSubscription for Subscription {
    fn snapshot(&self) -> BlockId {
        self.snapshot
    }

    fn position(&self) -> BlockId {
        self.position
    }

    async fn next(&mut self) -> Result<ChainStep, StreamError> {
        loop {
            // Marked seen before looking, so a step pushed after the look wakes us.
            self.wake.borrow_and_update();
            if let Some(step) = self.poll()? {
                return Ok(step);
            }
            // The sender lives in `shared`, which this subscription holds: never closed.
            let _ = self.wake.changed().await;
        }
    }

    fn try_next(&mut self) -> Result<Option<ChainStep>, StreamError> {
        self.poll()
    }

    fn block(&self, hash: &Hash256) -> Result<Option<Arc<Block>>, ChainError> {
        let recent = lock(&self.shared.recent)
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, block)| block.clone());
        match recent {
            Some(block) => Ok(Some(block)),
            None => Ok(self.shared.chain.block(hash)?.map(Arc::new)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(height: u32) -> BlockId {
        BlockId {
            hash: Hash256([height as u8; 32]),
            height,
        }
    }

    #[test]
    fn the_ring_keeps_at_most_its_block_ids_and_at_least_the_last_step() {
        let mut ring = Ring {
            steps: VecDeque::new(),
            last: 0,
            tip: id(0),
            ids: 0,
            max_ids: 4,
        };
        for height in 1..=10 {
            ring.push(ChainStep::Committed {
                blocks: vec![id(height)],
            });
            assert!(ring.ids <= 4 && ring.steps.len() <= 4);
        }
        assert_eq!(ring.last, 10);
        assert!(ring.get(6).is_none());
        assert_eq!(ring.get(7).unwrap().tip(), id(7));
        assert!(ring.get(11).is_none());
        // A step larger than the bound is still kept, alone, until the next.
        ring.push(ChainStep::Reorged {
            old: vec![id(10), id(9), id(8)],
            new: vec![id(8), id(9), id(10)],
        });
        assert_eq!(ring.steps.len(), 1);
        assert_eq!(ring.tip, id(10));
    }
}
