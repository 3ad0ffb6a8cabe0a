//! The block pipeline: a block's signatures are verified before it takes the writer lock,
//! and verified blocks that extend the tip are connected several to a write transaction,
//! so the commit (which waits for the disk) no longer costs one fsync per block and the
//! cores keep verifying later blocks while earlier ones are written.
//!
//! Verifying ahead needs no chain state. A P2PKH input can only be valid against the
//! script `p2pkh_script(hash160(pubkey))`, so its signature hash is known from the block
//! alone, whatever order blocks arrive in. When every signature verified, connecting the
//! block only checks that each coin spent has that script (no hashing, no signature);
//! otherwise the valid signatures wait in the signature cache
//! ([`SigCache`](node_chain::validation::SigCache)) and each input is verified again against
//! the coin it really spends, finding its signature there unless it is the bad one. Blocks
//! stored ahead of their parent connect later from storage the same way.
//!
//! A caller with many blocks (the sync) hands each over as it arrives
//! ([`ChainState::accept_ahead`]): the block counts as in flight at once and is verified
//! on the verifying threads ([`verifiers`]) in that order, one block per thread; no thread
//! waits for it, its outcome is handed to a callback. A block accepted by a caller that
//! waits ([`ChainState::accept_block`]) is verified on every core, then its thread waits.
//! After verifying, a block joins the ready queue. One thread at a time leads (a waiting
//! one, or the chain's writing thread while blocks handed over ahead are in flight): it
//! takes the writer lock, connects the longest run of ready blocks that extends the tip
//! (at most [`MAX_RUN_BLOCKS`] and [`MAX_RUN_BYTES`]) in one transaction, hands every
//! block's outcome to its thread or callback, and repeats while runs are there (a group
//! commit). When no run is left, the ready blocks whose parent is not in flight are
//! written too: blocks fetched ahead of their parent (from another peer) are stored
//! together in one transaction and connect from storage, a run at a time, once the parent
//! connects; a side branch goes through the one-block path. So blocks fetched from
//! several peers at once are verified side by side and connect in order. No lock is held
//! while a block is verified.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use super::{BlockOutcome, ChainError, ChainState, MAX_RUN_BLOCKS, MAX_RUN_BYTES};
use node_chain::block::Block;
use node_chain::hash::Hash256;
use node_chain::transaction::Transaction;
use node_chain::validation::check_block;
use node_chain::verify::preverify_p2pkh_input;

/// The threads that verify blocks ahead of the writer ([`ChainState::preverify`]), one
/// per core, apart from rayon's global pool: the writer verifies the blocks it connects
/// from storage on the global pool, and behind a hundred blocks queued for verifying ahead
/// it waited for all of them first (a fifth of a second at the start of a sync, where a
/// few blocks always arrive ahead of their parent).
pub(crate) fn verifiers() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        ThreadPoolBuilder::new()
            .thread_name(|i| format!("verify-{i}"))
            .build()
            .expect("start the block verifying threads")
    })
}

/// Where [`ChainState::preverify`] verifies a block's signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cores {
    /// Split over the verifying threads: a block verified alone is done soonest.
    All,
    /// On the calling thread: blocks handed over together, each verified by one thread,
    /// finish in the order they were handed over. Split, a thread waiting for the last
    /// signatures of its block took up the next blocks meanwhile and could finish its
    /// own only after them: the blocks in line were done last and the writer waited.
    This,
}

/// Whether a run of `blocks` blocks and `bytes` serialized bytes is full.
pub(crate) fn run_is_full(blocks: usize, bytes: usize) -> bool {
    blocks >= MAX_RUN_BLOCKS || bytes >= MAX_RUN_BYTES
}

/// What was done to a block before it took the writer lock.
#[derive(Debug, Clone)]
pub(crate) struct Preverified {
    /// The block's hash.
    pub(crate) hash: Hash256,
    /// Once it passed `check_block`, the transaction ids that returned (so the locked
    /// path neither checks it again nor hashes its transactions).
    pub(crate) txids: Option<Arc<[Hash256]>>,
    /// Every signature verified against the P2PKH script of its own public key, so
    /// connecting only checks that each spent coin has that script
    /// ([`Scripts::Preverified`](super::connect::Scripts)).
    pub(crate) signatures: bool,
}

/// A verified block waiting for the writer.
#[derive(Clone)]
pub(crate) struct Ready {
    pub(crate) block: Arc<Block>,
    pub(crate) pre: Preverified,
    /// The block's serialized size, counted once: runs are measured by it each time a
    /// leader looks at the queue.
    pub(crate) size: usize,
}

impl Ready {
    pub(crate) fn new(block: Arc<Block>, pre: Preverified) -> Ready {
        let size = block.size();
        Ready { block, pre, size }
    }
}

pub(super) type Outcome = Result<BlockOutcome, ChainError>;

/// The blocks inside `accept_block` and the ready queue, under one mutex.
///
/// Each thread waiting for its block's turn sleeps on a condition variable of its own,
/// woken only when its block was written or it may lead: with one shared by all, every
/// change woke every waiting thread (the sync hands the chain dozens of blocks at once)
/// and the wake-ups cost more CPU than the assumed-valid blocks' own checks.
#[derive(Default)]
pub(super) struct Pipeline {
    queue: Mutex<Queue>,
    /// A leader gathering its run sleeps here, woken only by a change to the block it
    /// waits for (the child of its run's last block queued, or no longer arriving): woken
    /// by every block's change, it woke twice per block written and held the queue's
    /// mutex each time, as the written blocks' threads fought for it.
    run_grew: Condvar,
    /// Threads whose block another thread carries sleep here until that one took it.
    unqueued: Condvar,
    /// The thread that writes the blocks handed over ahead sleeps here while it may not
    /// lead ([`Pipeline::ahead_turn`]).
    ahead_writer: Condvar,
}

#[derive(Default)]
struct Queue {
    /// Blocks being accepted right now, by hash: the parent and a count (two peers may
    /// deliver one block).
    arriving: HashMap<Hash256, (Hash256, usize)>,
    /// Verified blocks waiting to be written, by hash; `true` once a leader took it.
    ready: HashMap<Hash256, (Ready, bool)>,
    /// Outcomes of blocks a leader wrote, for their threads to take, with the queued
    /// block: its thread frees it, not the leader (a block is hundreds of allocations,
    /// and the leader is the one thread every block waits for).
    done: HashMap<Hash256, (Outcome, Option<Ready>)>,
    /// A thread is leading (writing runs for everyone).
    leading: bool,
    /// Threads waiting for their block's turn, by block: its parent and what the thread
    /// sleeps on.
    waiting: HashMap<Hash256, (Hash256, Arc<Condvar>)>,
    /// The queued blocks by parent: a run is followed child by child, and the queue
    /// holds up to a few hundred blocks (a scan of them per step cost a leader more than
    /// the rest of its gathering).
    children: HashMap<Hash256, Vec<Hash256>>,
    /// The last block of the run a gathering leader waits to extend.
    gathering_after: Option<Hash256>,
    /// Threads in `wait_unqueued`.
    unqueued_waiters: usize,
    /// What to call with the outcome of each queued block that was handed over ahead
    /// ([`ChainState::accept_ahead`]): no thread waits for those, and their outcomes
    /// never go to `done`.
    completions: HashMap<Hash256, Completion>,
    /// Blocks handed over ahead whose outcome is not delivered yet.
    ahead: usize,
    /// The thread that writes blocks handed over ahead runs (until `ahead` is 0).
    ahead_writing: bool,
}

impl Queue {
    /// The queued block not taken yet whose parent is `parent`.
    fn untaken_child(&self, parent: &Hash256) -> Option<Hash256> {
        self.children
            .get(parent)?
            .iter()
            .find(|hash| !self.ready[*hash].1)
            .copied()
    }

    /// Wakes the threads of `wait_unqueued`, if any: a block's thread took its outcome.
    fn wake_unqueued(&self, unqueued: &Condvar) {
        if self.unqueued_waiters > 0 {
            unqueued.notify_all();
        }
    }

    /// Wakes the waiting threads `wake` picks, given a block's hash and its parent.
    fn wake(&self, wake: impl Fn(&Hash256, &Hash256) -> bool) {
        for (hash, (parent, waiter)) in &self.waiting {
            if wake(hash, parent) {
                waiter.notify_one();
            }
        }
    }

    /// Whether a queued block not taken yet waits for nothing in flight: a leader would
    /// write it (in a run from the tip, or stored ahead of its parent).
    fn has_writable(&self) -> bool {
        self.ready.values().any(|(ready, taken)| {
            !*taken && !self.arriving.contains_key(&ready.block.header.prev_block)
        })
    }

    /// Ends one acceptance of `hash` counted by [`Pipeline::arrive`]; returns whether a
    /// leader gathering a run waits for it.
    fn leave(&mut self, hash: &Hash256) -> bool {
        let Some((parent, count)) = self.arriving.get_mut(hash) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        let waited_for = self.gathering_after == Some(*parent);
        self.arriving.remove(hash);
        // Its children's threads may lead now.
        self.wake(|_, parent| parent == hash);
        waited_for
    }

    /// Whether the queued blocks not taken yet that extend `tip` in a chain make a full
    /// run, and the last of them (`tip` when none).
    fn run_from(&self, tip: Hash256) -> (bool, Hash256) {
        let (mut blocks, mut bytes, mut last) = (0, 0, tip);
        while !run_is_full(blocks, bytes) {
            let Some(next) = self.untaken_child(&last) else {
                return (false, last);
            };
            blocks += 1;
            bytes += self.ready[&next].0.size;
            last = next;
        }
        (true, last)
    }
}

/// What a waiting thread does next.
pub(super) enum Turn<'a> {
    /// A leader wrote the block: its outcome.
    Done(Outcome),
    /// This thread leads until the guard is dropped.
    Lead(Leading<'a>),
}

/// Ends a thread's lead when dropped, even by a panic, so the others never wait for a
/// leader that is gone.
pub(super) struct Leading<'a>(&'a Pipeline);

/// Leaves the pipeline when dropped, however the acceptance ended.
pub(super) struct Arrival<'a> {
    pipeline: &'a Pipeline,
    hash: Hash256,
}

impl Pipeline {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn enter(&self, hash: Hash256, parent: Hash256) -> Arrival<'_> {
        self.arrive(hash, parent);
        Arrival {
            pipeline: self,
            hash,
        }
    }

    /// Counts `hash` (child of `parent`) as being accepted until [`Pipeline::leave`];
    /// returns whether it is the only block being accepted.
    fn arrive(&self, hash: Hash256, parent: Hash256) -> bool {
        let mut queue = self.lock();
        queue.arriving.entry(hash).or_insert((parent, 0)).1 += 1;
        queue.arriving.len() == 1 && queue.arriving[&hash].1 == 1
    }

    /// Ends one acceptance of `hash` counted by [`Pipeline::arrive`].
    fn leave(&self, hash: &Hash256) {
        let (waited_for, ahead_writing) = {
            let mut queue = self.lock();
            (queue.leave(hash), queue.ahead_writing)
        };
        if ahead_writing {
            // It may lead now.
            self.ahead_writer.notify_one();
        }
        if waited_for {
            self.run_grew.notify_all();
        }
    }

    /// Whether `hash` is the only block being accepted: nothing to overlap with.
    pub(super) fn is_alone(&self, hash: &Hash256) -> bool {
        let queue = self.lock();
        queue.arriving.len() == 1 && queue.arriving.get(hash).is_some_and(|a| a.1 == 1)
    }

    /// Queues a verified block. Returns `false`, queuing nothing, when another thread
    /// already queued the same block.
    pub(super) fn enqueue(&self, ready: Ready) -> bool {
        self.enqueue_with(ready, None).is_ok()
    }

    /// [`Pipeline::enqueue`] for a block handed over ahead: `done` is called with its
    /// outcome once a leader wrote it. Gives `done` back, queuing nothing, when another
    /// acceptance already queued the same block.
    fn enqueue_ahead(&self, ready: Ready, done: Completion) -> Result<(), Completion> {
        self.enqueue_with(ready, Some(done))
            .map_err(|done| done.expect("given"))
    }

    fn enqueue_with(
        &self,
        ready: Ready,
        done: Option<Completion>,
    ) -> Result<(), Option<Completion>> {
        let mut queue = self.lock();
        let hash = ready.pre.hash;
        if queue.ready.contains_key(&hash) || queue.done.contains_key(&hash) {
            return Err(done);
        }
        if let Some(done) = done {
            queue.completions.insert(hash, done);
        }
        let parent = ready.block.header.prev_block;
        queue.ready.insert(hash, (ready, false));
        queue.children.entry(parent).or_default().push(hash);
        let extends_gathered = queue.gathering_after == Some(parent);
        let ahead_writing = queue.ahead_writing;
        drop(queue);
        if extends_gathered {
            self.run_grew.notify_all();
        }
        if ahead_writing {
            self.ahead_writer.notify_one();
        }
        Ok(())
    }

    /// Counts a block handed over ahead until its [`Completion`] is dropped; returns
    /// whether the thread that writes such blocks must be started.
    fn start_ahead(&self) -> bool {
        let mut queue = self.lock();
        queue.ahead += 1;
        !std::mem::replace(&mut queue.ahead_writing, true)
    }

    /// Ends the count of [`Pipeline::start_ahead`].
    fn end_ahead(&self) {
        let mut queue = self.lock();
        queue.ahead -= 1;
        if queue.ahead == 0 {
            drop(queue);
            self.ahead_writer.notify_one();
        }
    }

    /// The turn of the thread that writes blocks handed over ahead: it leads when no
    /// thread does and a queued block waits for nothing in flight, and stops once every
    /// block handed over ahead has its outcome (`None`).
    fn ahead_turn(&self) -> Option<Leading<'_>> {
        let mut queue = self.lock();
        loop {
            if queue.ahead == 0 {
                queue.ahead_writing = false;
                return None;
            }
            if !queue.leading && queue.has_writable() {
                queue.leading = true;
                return Some(Leading(self));
            }
            // Woken by a block queued, an arrival ended, a lead ended, the last outcome.
            queue = self
                .ahead_writer
                .wait(queue)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits until no thread has `hash` queued or unclaimed.
    pub(super) fn wait_unqueued(&self, hash: &Hash256) {
        let mut queue = self.lock();
        while queue.ready.contains_key(hash) || queue.done.contains_key(hash) {
            queue.unqueued_waiters += 1;
            queue = self.unqueued.wait(queue).unwrap_or_else(|e| e.into_inner());
            queue.unqueued_waiters -= 1;
        }
    }

    /// Waits until the queued block `hash` (child of `parent`) was written, or until no
    /// thread leads and the block is worth leading for: its parent is not in flight (it
    /// is stored, or nobody delivers it), so waiting would gain nothing. A parent waits
    /// only for its own ancestors, so the waits cannot form a cycle.
    pub(super) fn next_turn(&self, hash: &Hash256, parent: &Hash256) -> Turn<'_> {
        let mut queue = self.lock();
        loop {
            if let Some((outcome, ready)) = queue.done.remove(hash) {
                queue.waiting.remove(hash);
                // Another thread with the same block may be waiting for it to be taken.
                queue.wake_unqueued(&self.unqueued);
                drop(queue);
                drop(ready);
                return Turn::Done(outcome);
            }
            if !queue.leading && !queue.arriving.contains_key(parent) {
                queue.waiting.remove(hash);
                queue.leading = true;
                return Turn::Lead(Leading(self));
            }
            // Woken by `finish` (written), by the end of a lead or of the parent's
            // arrival (may lead).
            let waiter = queue
                .waiting
                .entry(*hash)
                .or_insert_with(|| (*parent, Arc::new(Condvar::new())))
                .1
                .clone();
            queue = waiter.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits while the queued blocks that extend `tip` do not make a full run and the
    /// next one is being verified by another thread: it comes within one block's
    /// verification, and a commit costs about the same (the trees' pages, an fsync)
    /// whatever it carries (written whenever something was ready, runs carried two or
    /// three blocks while verified blocks kept coming). Never waits for a block that is
    /// not in flight (a block relayed at the tip connects at once). Callers that hand the
    /// chain two runs' worth of blocks at once keep every core verifying while a run is
    /// written.
    pub(super) fn gather(&self, tip: Hash256) {
        let mut queue = self.lock();
        loop {
            let (full, last) = queue.run_from(tip);
            // In flight: being accepted and neither queued nor written (a block stored
            // ahead of its parent is written, and connects from storage).
            let next_in_flight = queue.arriving.iter().any(|(hash, (parent, _))| {
                *parent == last && !queue.ready.contains_key(hash) && !queue.done.contains_key(hash)
            });
            if full || !next_in_flight {
                queue.gathering_after = None;
                return;
            }
            queue.gathering_after = Some(last);
            queue = self.run_grew.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes the longest run of queued blocks that extends `tip`, each the parent of the
    /// next, until the run is full ([`MAX_RUN_BLOCKS`], [`MAX_RUN_BYTES`]).
    pub(super) fn take_run(&self, tip: Hash256) -> Vec<Ready> {
        let mut queue = self.lock();
        let mut run: Vec<Ready> = Vec::new();
        let mut bytes = 0;
        let mut last = tip;
        while !run_is_full(run.len(), bytes) {
            let Some(next) = queue.untaken_child(&last) else {
                break;
            };
            let (ready, taken) = queue.ready.get_mut(&next).expect("just found");
            *taken = true;
            bytes += ready.size;
            last = ready.pre.hash;
            run.push(ready.clone());
        }
        run
    }

    /// Takes every queued block whose parent is not in flight, or is one of the blocks
    /// taken: what a leader stores when no run extends the tip (a chain of blocks fetched
    /// ahead of their parent goes in one write, not one write per block).
    pub(super) fn take_unwaiting(&self) -> Vec<Ready> {
        let mut queue = self.lock();
        let Queue {
            arriving, ready, ..
        } = &mut *queue;
        let mut taken: HashSet<Hash256> = HashSet::new();
        loop {
            let before = taken.len();
            for (hash, (r, was_taken)) in ready.iter() {
                let parent = &r.block.header.prev_block;
                if !*was_taken && (!arriving.contains_key(parent) || taken.contains(parent)) {
                    taken.insert(*hash);
                }
            }
            if taken.len() == before {
                break;
            }
        }
        taken
            .iter()
            .map(|hash| {
                let (r, was_taken) = ready.get_mut(hash).expect("just found");
                *was_taken = true;
                r.clone()
            })
            .collect()
    }

    /// Hands the outcomes of written blocks to their threads, or to their completions
    /// (called here, after the queue's lock).
    pub(super) fn finish(&self, outcomes: Vec<(Hash256, Outcome)>) {
        let mut completed: Vec<(Completion, Outcome, Option<Ready>)> = Vec::new();
        let mut queue = self.lock();
        for (hash, outcome) in outcomes {
            let ready = queue.ready.remove(&hash).map(|(ready, _)| ready);
            if let Some(ready) = &ready {
                let parent = ready.block.header.prev_block;
                if let Some(children) = queue.children.get_mut(&parent) {
                    children.retain(|child| *child != hash);
                    if children.is_empty() {
                        queue.children.remove(&parent);
                    }
                }
            }
            if let Some(done) = queue.completions.remove(&hash) {
                completed.push((done, outcome, ready));
                continue;
            }
            queue.done.insert(hash, (outcome, ready));
            if let Some((_, waiter)) = queue.waiting.get(&hash) {
                waiter.notify_one();
            }
        }
        if !completed.is_empty() {
            // Another acceptance of one of these blocks may wait for it to leave the queue.
            queue.wake_unqueued(&self.unqueued);
        }
        drop(queue);
        if completed.is_empty() {
            return;
        }
        let mut blocks = Vec::with_capacity(completed.len());
        for (done, outcome, ready) in completed {
            done.complete(outcome);
            blocks.push(ready);
        }
        // A block is hundreds of allocations, and the leader is the one thread every
        // block waits for: the verifying threads free them.
        verifiers().spawn(move || drop(blocks));
    }

    /// The outcome of `hash` if a leader wrote it, for its thread.
    pub(super) fn take_done(&self, hash: &Hash256) -> Option<Outcome> {
        let mut queue = self.lock();
        let done = queue.done.remove(hash);
        // Another thread with the same block may be waiting for it to be taken.
        queue.wake_unqueued(&self.unqueued);
        drop(queue);
        done.map(|(outcome, _)| outcome)
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.leading = false;
        // The threads that may lead next.
        queue.wake(|_, parent| !queue.arriving.contains_key(parent));
        let ahead_writing = queue.ahead_writing;
        drop(queue);
        if ahead_writing {
            self.0.ahead_writer.notify_one();
        }
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.pipeline.leave(&self.hash);
    }
}

/// What receives the outcome of a block handed over ahead ([`ChainState::accept_ahead`]).
/// It counts the block as in flight until it is dropped, called or not (a panic drops
/// it unused), so a block's children never wait for an acceptance that is gone.
pub(super) struct Completion {
    state: Arc<ChainState>,
    hash: Hash256,
    done: Option<Box<dyn FnOnce(Outcome) + Send>>,
}

impl Completion {
    fn complete(mut self, outcome: Outcome) {
        if let Some(done) = self.done.take() {
            done(outcome);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.state.pipeline.leave(&self.hash);
        self.state.pipeline.end_ahead();
    }
}

impl ChainState {
    /// Starts accepting `block` and returns at once; `done` is called with what
    /// [`ChainState::accept_shared_block`] would return, on a thread of the chain's
    /// (it must be quick: hand the outcome on). From this call the block counts as in
    /// flight (its children wait for it rather than being stored ahead of it), and its
    /// signatures are verified on the verifying threads in the order of these calls.
    ///
    /// A sync hands blocks over in the order they arrived. Started from threads that
    /// waited for them, they were verified in the order those threads happened to start,
    /// so a run's last block was often verified with the next run's, and the cores idled
    /// while both runs were written. And no thread waits for a block handed over ahead:
    /// with one parked per block, each written run woke its 64 threads at once, and they
    /// took the cores from the thread writing the next run (a tenth of an assumed-valid
    /// sync). One thread writes them, started with the first and stopped after the last.
    pub fn accept_ahead(
        self: &Arc<Self>,
        block: Arc<Block>,
        done: impl FnOnce(Result<BlockOutcome, ChainError>) + Send + 'static,
    ) {
        let hash = block.hash();
        let alone = self.pipeline.arrive(hash, block.header.prev_block);
        if self.pipeline.start_ahead() {
            let state = Arc::clone(self);
            std::thread::Builder::new()
                .name("chain-writer".into())
                .spawn(move || state.write_ahead())
                .expect("start the chain's writing thread");
        }
        let done = Completion {
            state: Arc::clone(self),
            hash,
            done: Some(Box::new(done)),
        };
        let state = Arc::clone(self);
        verifiers().spawn_fifo(move || {
            if let Some(outcome) = state.accept_alone(&block, hash) {
                done.complete(outcome);
                return;
            }
            let cores = if alone { Cores::All } else { Cores::This };
            let pre = state.preverify(&block, cores);
            let ready = Ready::new(Arc::clone(&block), pre.clone());
            if let Err(done) = state.pipeline.enqueue_ahead(ready, done) {
                // Rare, and waiting here would hold a verifying thread that blocks in
                // line may need.
                std::thread::spawn(move || done.complete(state.accept_duplicate(&block, pre)));
            }
        });
    }

    /// A block another acceptance has queued already: once that one is written, the
    /// one-block path finds it had (or refused).
    fn accept_duplicate(&self, block: &Block, pre: Preverified) -> Outcome {
        self.pipeline.wait_unqueued(&pre.hash);
        let _writer = self.lock_writer();
        self.accept_held(block, pre)
    }

    /// The thread that writes blocks handed over ahead: it leads whenever it may, until
    /// every such block has its outcome.
    fn write_ahead(&self) {
        while let Some(_leading) = self.pipeline.ahead_turn() {
            self.lead(None);
        }
    }

    /// The pipeline's path for a block [`ChainState::preverify`] has seen: queue it, then
    /// wait until a leader wrote it, or lead.
    pub(super) fn accept_queued(&self, block: Arc<Block>, pre: Preverified) -> Outcome {
        let (hash, parent) = (pre.hash, block.header.prev_block);
        let ready = Ready::new(block.clone(), pre.clone());
        if !self.pipeline.enqueue(ready) {
            return self.accept_duplicate(&block, pre);
        }
        loop {
            match self.pipeline.next_turn(&hash, &parent) {
                Turn::Done(outcome) => return outcome,
                Turn::Lead(_leading) => {
                    if let Some(outcome) = self.lead(Some(&hash)) {
                        return outcome;
                    }
                }
            }
        }
    }

    /// Writes runs that extend the tip while there are some (blocks verified while one
    /// run is written make the next), then the blocks that wait for nothing in flight,
    /// until nothing is left to write. Returns this thread's outcome for `hash`, or
    /// `None` when it was not written (its parent is in flight: the thread waits) or
    /// this thread has no block of its own.
    fn lead(&self, hash: Option<&Hash256>) -> Option<Outcome> {
        loop {
            // Not in one statement: the tree's read guard would live through the wait.
            let tip = self.tree().tip();
            self.pipeline.gather(tip);
            let _writer = self.lock_writer();
            let tip = self.tree().tip();
            let run = self.pipeline.take_run(tip);
            let (blocks, outcomes) = if !run.is_empty() {
                let outcomes = self.accept_run(&run);
                (run, outcomes)
            } else {
                // Nothing extends the tip: the blocks that wait for nothing in flight
                // (mostly ones fetched ahead of their parents) are stored in one write.
                let early = self.pipeline.take_unwaiting();
                if early.is_empty() {
                    return hash.and_then(|hash| self.pipeline.take_done(hash));
                }
                let outcomes = self.store_early(&early);
                tracing::debug!(blocks = early.len(), "stored blocks ahead of their parent");
                (early, outcomes)
            };
            let hashes: Vec<Hash256> = blocks.iter().map(|r| r.pre.hash).collect();
            // The queue then holds the last copy of each block, which its own thread frees.
            drop(blocks);
            self.pipeline
                .finish(hashes.into_iter().zip(outcomes).collect());
        }
    }

    /// Whether `hash` is covered by the assumed-valid block, so its signatures are not
    /// checked.
    pub(super) fn is_assumed_valid(&self, hash: &Hash256) -> bool {
        self.options
            .assume_valid
            .is_some_and(|anchor| self.tree().is_assumed_valid(hash, &anchor))
    }

    /// The work on `block` that needs no lock: the context-free rules, then every
    /// signature, on the `cores` given, into the signature cache. Skipped for a block
    /// already stored or known invalid, one that breaks a context-free rule (the locked
    /// path reports it) and an assumed-valid one.
    pub(crate) fn preverify(&self, block: &Block, cores: Cores) -> Preverified {
        let hash = block.hash();
        let skip = Preverified {
            hash,
            txids: None,
            signatures: false,
        };
        if self
            .tree()
            .get(&hash)
            .is_some_and(|e| e.has_data() || e.is_failed())
        {
            return skip;
        }
        let Ok(txids) = check_block(block, self.spec.max_block_size) else {
            return skip;
        };
        // Valid signatures are also stored in the signature cache: a block with a bad one
        // (found again and reported with its reason when it connects) and a block stored
        // ahead of its parent (connected later from storage) find them there. A block that
        // connects as preverified leaves its entries, true facts that age out of the
        // bounded cache.
        fn inputs(tx: &Transaction) -> impl Iterator<Item = (&Transaction, usize)> {
            (0..tx.inputs.len()).map(move |index| (tx, index))
        }
        let verifies = |(tx, index): (&Transaction, usize)| preverify_p2pkh_input(tx, index);
        let signatures = !self.is_assumed_valid(&hash)
            && match cores {
                Cores::All => block.txs[1..]
                    .par_iter()
                    .flat_map_iter(inputs)
                    .all(verifies),
                Cores::This => block.txs[1..].iter().flat_map(inputs).all(verifies),
            };
        Preverified {
            hash,
            txids: Some(txids.into()),
            signatures,
        }
    }
}
