//! Crash safety: a child process connecting blocks is killed with SIGKILL at random
//! instants, again and again; after each kill the state must have a valid tip, a UTXO set
//! equal to a replay of its main chain, and every block the child reported stored.
//!
//! The child is this test binary run again for `crash_child_entry` alone, told by
//! environment variables where the data directory and the blocks are, so no extra build
//! target is needed. Kill instants come from a fixed-seed generator, so a failure
//! reproduces (set `NODE_CHAIN_CRASH_SEED` to try other seeds).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use node_chain::{Block, BlockOutcome, Hash256};
use node_chain_state::{testing::SpendingChain, write_block_file, BlockFileReader};

use super::{assert_utxo_consistent, open};

const CHILD_DIR_ENV: &str = "NODE_CHAIN_CRASH_CHILD_DIR";
const CHILD_BLOCKS_ENV: &str = "NODE_CHAIN_CRASH_CHILD_BLOCKS";
/// Kills before the last run, which is left to finish.
const KILLS: usize = 100;
/// How long the parent waits for a child's next line before calling it hung.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The child's side: accept every block of the file not already stored, reporting each
/// right after `accept_block` returns. Does nothing in a normal test run.
#[test]
fn crash_child_entry() {
    let (Ok(dir), Ok(blocks)) = (
        std::env::var(CHILD_DIR_ENV),
        std::env::var(CHILD_BLOCKS_ENV),
    ) else {
        return;
    };
    let (state, _) = open(Path::new(&dir), false);
    let mut out = std::io::stdout().lock();
    for block in BlockFileReader::open(Path::new(&blocks)).unwrap() {
        let block = block.unwrap();
        let hash = block.hash();
        if state.entry(&hash).is_some_and(|e| e.has_data()) {
            continue;
        }
        let outcome = match state.accept_block(&block).unwrap() {
            BlockOutcome::BecameTip => "tip",
            BlockOutcome::SideBranch => "side",
            BlockOutcome::AlreadyHave => unreachable!("checked above"),
        };
        let height = state.entry(&hash).unwrap().height;
        writeln!(out, "accepted {height} {hash} {outcome}").unwrap();
        out.flush().unwrap();
    }
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
}

/// SplitMix64: a tiny deterministic generator for kill instants.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Blocks with spends and, every 40 blocks, a branch from three blocks back that
/// overtakes the main chain, so kills also land inside reorganisations. The last block
/// is the final tip.
fn block_sequence(scratch: &Path) -> Vec<Block> {
    let (genesis_state, _) = open(scratch, false);
    let mut chain = SpendingChain::new(&genesis_state, 3);
    let mut fork_from = None;
    let mut blocks = Vec::new();
    for step in 1..=700u32 {
        if step % 40 == 36 {
            fork_from = Some(chain.clone());
        }
        if step % 40 == 0 {
            let mut branch = fork_from
                .take()
                .unwrap()
                .fork(format!("branch {step}").as_bytes());
            for _ in 0..4 {
                blocks.push(branch.next_block(1));
            }
            chain = branch;
        } else {
            blocks.push(chain.next_block(3));
        }
    }
    blocks
}

/// A block the child reported stored, with the line that said so.
struct Reported {
    hash: Hash256,
    line: String,
}

/// Reads the child's stdout on a thread, handing over complete lines.
fn line_reader(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // A line cut by the kill has no newline: it was never fully reported.
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
            if tx.send(line.trim_end().to_string()).is_err() {
                break;
            }
            line.clear();
        }
    });
    rx
}

/// Records an `accepted` line; returns whether the line was `done`.
fn record(line: String, reported: &mut Vec<Reported>) -> bool {
    let Some(rest) = line.strip_prefix("accepted ") else {
        return line == "done";
    };
    let hash = rest.split(' ').nth(1).unwrap().parse().unwrap();
    reported.push(Reported { hash, line });
    false
}

/// What must hold after every crash.
fn check_after_crash(dir: &Path, reported: &[Reported], round: usize) {
    let (state, _) = open(dir, false);
    let tip = state.tip();
    for height in 1..=tip.height {
        let hash = state.hash_at(height).unwrap();
        let entry = state.entry(&hash).unwrap();
        assert_eq!(entry.height, height, "round {round}");
        assert_eq!(
            Some(entry.header.prev_block),
            state.hash_at(height - 1),
            "round {round}: main chain broken at height {height}"
        );
        assert!(entry.has_data(), "round {round}: height {height}");
    }
    assert_eq!(state.entry(&tip.hash).unwrap().chain_work, tip.chain_work);
    assert_utxo_consistent(&state);
    for r in reported {
        let entry = state
            .entry(&r.hash)
            .unwrap_or_else(|| panic!("round {round}: reported block lost: {}", r.line));
        assert!(
            entry.has_data(),
            "round {round}: reported block has no data: {}",
            r.line
        );
        // The tip only ever moves to more work, and it was at least this block.
        assert!(
            entry.chain_work <= tip.chain_work,
            "round {round}: the tip has less work than a reported block: {}",
            r.line
        );
    }
}

fn spawn_child(dir: &Path, blocks: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash::crash_child_entry", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_BLOCKS_ENV, blocks)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_instants_loses_no_reported_block_and_leaves_a_valid_state() {
    let work = tempfile::tempdir().unwrap();
    let blocks = block_sequence(&work.path().join("scratch"));
    let file = work.path().join("blocks.dat");
    write_block_file(&file, blocks.iter().cloned().map(Ok)).unwrap();
    let dir = work.path().join("chain");
    let seed = std::env::var("NODE_CHAIN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_601);
    let mut rng = Rng(seed);
    let mut reported = Vec::new();
    let mut kills = 0;
    let mut finished = false;
    while !finished {
        let mut child = spawn_child(&dir, &file);
        let lines = line_reader(&mut child);
        let kill = kills < KILLS;
        let deadline = if kill && rng.below(5) == 0 {
            // While the child opens the state and perhaps finishes a reorganisation.
            Some(Instant::now() + Duration::from_millis(rng.below(40)))
        } else {
            None
        };
        let mut wanted = if kill { 1 + rng.below(10) } else { u64::MAX };
        while wanted > 0 && !finished {
            let timeout = deadline.map_or(CHILD_TIMEOUT, |d| {
                d.saturating_duration_since(Instant::now())
            });
            match lines.recv_timeout(timeout) {
                Ok(line) => {
                    finished = record(line, &mut reported);
                    wanted -= 1;
                }
                Err(RecvTimeoutError::Timeout) if deadline.is_some() => break,
                Err(RecvTimeoutError::Timeout) => panic!("the child hung"),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if kill && !finished {
            // Somewhere inside the next block's accept (or still opening).
            std::thread::sleep(Duration::from_micros(rng.below(3_000)));
            child.kill().unwrap();
            kills += 1;
        }
        let status = child.wait().unwrap();
        // Lines written before the kill are reported too.
        for line in lines.iter() {
            finished |= record(line, &mut reported);
        }
        if !kill {
            assert!(status.success() && finished, "the last run must finish");
        }
        check_after_crash(&dir, &reported, kills);
    }
    assert!(kills >= 20, "only {kills} kills");
    let (state, _) = open(&dir, false);
    assert_eq!(state.tip().hash, blocks.last().unwrap().hash());
    assert!(blocks
        .iter()
        .all(|b| state.entry(&b.hash()).is_some_and(|e| e.has_data())));
}
