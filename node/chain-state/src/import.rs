//! Importing blocks from outside the network: from another data directory's chain state,
//! or from a file of concatenated serialized blocks, accepted in order through the block
//! pipeline (the next blocks' signatures are verified while a run of blocks is written)
//! with a progress report every few seconds. `node import` runs it, and the sync benchmark uses
//! it to time validation and storage without peers.
//!
//! Blocks go through [`ChainState::accept_block`](crate::ChainState::accept_block) like blocks from peers: every rule is
//! checked and the tip follows the most work. Blocks already stored are skipped, so an
//! interrupted import can simply be run again.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::{
    run_is_full, verifiers, BlockOutcome, ChainError, ChainState, Cores, Ready, MAX_RUN_BLOCKS,
};
use node_chain::block::{Block, BlockHeader};
use node_chain::encode::{serialize, Decode, DecodeError, DecodeErrorKind, Reader};
use node_chain::hash::Hash256;

/// Time between two progress reports.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Blocks decoded and verified ahead of the run being gathered or written: two full runs
/// ([`MAX_RUN_BLOCKS`]), as the sync hands the chain, so every core keeps verifying while
/// a run is written and the next write finds a whole run ready (with one run, imports
/// reached 0.82 of the signature ceiling, with two 0.85-0.92), with the memory still
/// bounded (128 MB of 1 MB blocks).
pub const LOOKAHEAD: usize = 2 * MAX_RUN_BLOCKS;

/// Headers accepted per write by [`import_headers`] (a `headers` message's worth).
const HEADERS_PER_RUN: u32 = 2_000;

/// A block's place in the import: its verified block once the pool is done, or why the
/// blocks ended.
type Slot = Result<mpsc::Receiver<Ready>, ImportError>;

/// Bytes read from a block file at a time.
const READ_CHUNK: usize = 1 << 20;

/// Unconsumed bytes a block file reader holds before it calls the file corrupt: far above
/// any chain's block size limit, so only a corrupt length gets there.
const MAX_BUFFERED: usize = 64 << 20;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A block file cannot be read or written.
    #[error("block file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A block file holds bytes that are not a block.
    #[error("block file {path}: block starting at byte {offset}: {error}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Where the bad block starts in the file.
        offset: u64,
        /// What is wrong with it.
        error: DecodeError,
    },
    /// A block file ends inside a block.
    #[error("block file {path} ends inside the block starting at byte {offset}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the incomplete block starts.
        offset: u64,
    },
    /// The source chain state failed to read a block.
    #[error("source chain state: {0}")]
    Source(ChainError),
    /// The source chain state no longer has a main-chain block (it is pruned).
    #[error("source chain state has no data for the block at height {height} (pruned)")]
    SourcePruned {
        /// The block's height in the source.
        height: u32,
    },
    /// The chain state refused a block.
    #[error("block {hash} (number {number} of the import) was refused: {error}")]
    Refused {
        /// The block.
        hash: Hash256,
        /// Its position in the import, from 1.
        number: u64,
        /// Why (boxed: the error is large and imports fail rarely).
        error: Box<ChainError>,
    },
}

/// Where an import stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportProgress {
    /// Blocks stored by this import (connected or on a side branch).
    pub imported: u64,
    /// Blocks skipped because they were already stored.
    pub skipped: u64,
    /// The height of the tip now.
    pub height: u32,
    /// The height the import is expected to reach, if the source knows it.
    pub target_height: Option<u32>,
    /// `height` as a percentage of `target_height`.
    pub percent: Option<f64>,
    /// Blocks (imported and skipped) per second since the import started.
    pub blocks_per_sec: f64,
    /// Time since the import started.
    pub elapsed: Duration,
    /// Whether this is the final report.
    pub done: bool,
}

/// Accepts `blocks` into `state` in order, stopping at the first block refused or the
/// first source error. Calls `progress` (and logs at info level) every
/// [`PROGRESS_INTERVAL`] and once at the end; returns the final report.
///
/// It runs the block pipeline as synced blocks do: a reader thread decodes the next
/// blocks and hands each to the thread pool, which verifies their signatures on every
/// core, several blocks side by side (up to [`LOOKAHEAD`] blocks ahead), while this
/// thread writes what is verified, a whole run ([`MAX_RUN_BLOCKS`] blocks or
/// [`MAX_RUN_BYTES`](crate::MAX_RUN_BYTES)) per write transaction.
///
/// `target_height`, when known (the source's tip height), gives the percentage.
pub fn import_blocks<I>(
    state: &ChainState,
    blocks: I,
    target_height: Option<u32>,
    mut progress: impl FnMut(&ImportProgress),
) -> Result<ImportProgress, ImportError>
where
    I: IntoIterator<Item = Result<Block, ImportError>>,
    I::IntoIter: Send,
{
    let start = Instant::now();
    let mut last_report = start;
    let (mut imported, mut skipped) = (0u64, 0u64);
    let report = |imported: u64, skipped: u64, done: bool| {
        let elapsed = start.elapsed();
        let height = state.tip().height;
        ImportProgress {
            imported,
            skipped,
            height,
            target_height,
            percent: target_height.map(|t| 100.0 * f64::from(height) / f64::from(t.max(1))),
            blocks_per_sec: (imported + skipped) as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed,
            done,
        }
    };
    let blocks = blocks.into_iter();
    std::thread::scope(|scope| {
        // A slot per block, in the import's order: the reader queues it (at most
        // LOOKAHEAD wait here) and the pool fills it once the block is verified.
        let (slots, queued) = mpsc::sync_channel::<Slot>(LOOKAHEAD);
        scope.spawn(move || {
            // Each block is verified by a task of the pool, several side by side, so no
            // core waits while this thread reads and decodes the next block, nor for the
            // last signature of one block before starting the next.
            verifiers().in_place_scope(|pool| {
                for block in blocks {
                    let block = match block {
                        Ok(block) => block,
                        Err(error) => {
                            let _ = slots.send(Err(error));
                            return;
                        }
                    };
                    let (fill, slot) = mpsc::sync_channel(1);
                    // A closed channel: the writer stopped at a refused block.
                    if slots.send(Ok(slot)).is_err() {
                        return;
                    }
                    pool.spawn(move |_| {
                        let pre = state.preverify(&block, Cores::This);
                        // The writer may have stopped at a refused block.
                        let _ = fill.send(Ready::new(Arc::new(block), pre));
                    });
                }
            });
        });
        // A whole run per write, or what is left at the end: a commit costs about the
        // same (pages of the trees, an fsync) however many blocks it carries.
        let mut failure = None;
        loop {
            let mut run: Vec<Ready> = Vec::new();
            let mut bytes = 0;
            while failure.is_none() && !run_is_full(run.len(), bytes) {
                match queued.recv() {
                    Ok(Ok(slot)) => {
                        let ready = slot.recv().expect("a block's verification fills its slot");
                        bytes += ready.size;
                        run.push(ready);
                    }
                    Ok(Err(error)) => failure = Some(error),
                    // The blocks ended.
                    Err(_) => break,
                }
            }
            if run.is_empty() {
                break;
            }
            for (ready, outcome) in run.iter().zip(state.accept_preverified(&run)) {
                match outcome {
                    Ok(BlockOutcome::AlreadyHave) => skipped += 1,
                    Ok(_) => imported += 1,
                    Err(error) => {
                        return Err(ImportError::Refused {
                            hash: ready.pre.hash,
                            number: imported + skipped + 1,
                            error: Box::new(error),
                        })
                    }
                }
            }
            if last_report.elapsed() >= PROGRESS_INTERVAL {
                last_report = Instant::now();
                let now = report(imported, skipped, false);
                log(&now);
                progress(&now);
            }
        }
        failure.map_or(Ok(()), Err)
    })?;
    let end = report(imported, skipped, true);
    log(&end);
    progress(&end);
    Ok(end)
}

/// Accepts the headers of `source`'s main chain into `state` (in runs of 2,000, as a
/// `headers` message carries them), as a headers-first sync would before the bodies:
/// with the whole header chain known, an `assume_valid` block of it takes effect from
/// the first block imported. Returns how many were new.
pub fn import_headers(state: &ChainState, source: &ChainState) -> Result<usize, ImportError> {
    let tip = source.tip().height;
    let mut new = 0;
    let mut height = 1;
    while height <= tip {
        let last = tip.min(height + HEADERS_PER_RUN - 1);
        let headers: Vec<BlockHeader> = (height..=last)
            .filter_map(|h| source.hash_at(h).and_then(|hash| source.entry(&hash)))
            .map(|entry| entry.header)
            .collect();
        new += state
            .accept_headers(&headers)
            .map_err(|error| ImportError::Refused {
                hash: headers.first().map(|h| h.hash()).unwrap_or_default(),
                number: u64::from(height),
                error: Box::new(error),
            })?;
        height = last + 1;
    }
    Ok(new)
}

fn log(p: &ImportProgress) {
    tracing::info!(
        height = p.height,
        percent = p.percent.map(|v| format!("{v:.1}")),
        blocks_per_sec = format!("{:.1}", p.blocks_per_sec),
        imported = p.imported,
        skipped = p.skipped,
        done = p.done,
        "import progress"
    );
}

/// The main-chain blocks of `source` from height 1 to its tip when called, in order:
/// the source for importing another data directory (open it with its own
/// [`ChainState::open`]). Its tip height is the import's natural `target_height`.
pub fn chain_blocks(source: &ChainState) -> impl Iterator<Item = Result<Block, ImportError>> + '_ {
    let tip = source.tip().height;
    (1..=tip).map(move |height| {
        let hash = source
            .hash_at(height)
            .ok_or(ImportError::SourcePruned { height })?;
        source
            .block(&hash)
            .map_err(ImportError::Source)?
            .ok_or(ImportError::SourcePruned { height })
    })
}

/// Reads a file of serialized blocks written back to back (no framing), one block at a
/// time with bounded memory.
pub struct BlockFileReader {
    path: PathBuf,
    file: File,
    buffer: Vec<u8>,
    /// Start of the unconsumed bytes in `buffer`.
    start: usize,
    /// File offset of `buffer[start]`.
    offset: u64,
    eof: bool,
    failed: bool,
}

impl BlockFileReader {
    /// Opens `path` for reading.
    pub fn open(path: &Path) -> Result<BlockFileReader, ImportError> {
        let file = File::open(path).map_err(|source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(BlockFileReader {
            path: path.to_path_buf(),
            file,
            buffer: Vec::new(),
            start: 0,
            offset: 0,
            eof: false,
            failed: false,
        })
    }

    /// Appends up to one chunk from the file; sets `eof` when nothing came.
    fn fill(&mut self) -> Result<(), ImportError> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let old = self.buffer.len();
        self.buffer.resize(old + READ_CHUNK, 0);
        let read = loop {
            match self.file.read(&mut self.buffer[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.buffer.truncate(old);
                    return Err(ImportError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        };
        self.buffer.truncate(old + read);
        self.eof = read == 0;
        Ok(())
    }

    fn next_block(&mut self) -> Result<Option<Block>, ImportError> {
        loop {
            let mut reader = Reader::new(&self.buffer[self.start..]);
            let error = match Block::decode(&mut reader) {
                Ok(block) => {
                    let used = reader.offset();
                    self.start += used;
                    self.offset += used as u64;
                    return Ok(Some(block));
                }
                Err(error) => error,
            };
            // Too few bytes buffered looks like either of these; only the end of the
            // file makes them final.
            let short = matches!(
                error.kind,
                DecodeErrorKind::UnexpectedEnd { .. } | DecodeErrorKind::CountExceedsInput { .. }
            );
            let buffered = self.buffer.len() - self.start;
            if !short || buffered > MAX_BUFFERED {
                return Err(ImportError::Decode {
                    path: self.path.clone(),
                    offset: self.offset,
                    error,
                });
            }
            if self.eof {
                return if buffered == 0 {
                    Ok(None)
                } else {
                    Err(ImportError::Truncated {
                        path: self.path.clone(),
                        offset: self.offset,
                    })
                };
            }
            self.fill()?;
        }
    }
}

impl Iterator for BlockFileReader {
    type Item = Result<Block, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_block().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

/// Writes `blocks` back to back to a new file at `path` (the format
/// [`BlockFileReader`] reads); returns how many were written.
pub fn write_block_file(
    path: &Path,
    blocks: impl IntoIterator<Item = Result<Block, ImportError>>,
) -> Result<u64, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    let mut count = 0;
    for block in blocks {
        out.write_all(&serialize(&block?)).map_err(io)?;
        count += 1;
    }
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SpendingChain;
    use crate::ChainOptions;
    use crate::ChainSpec;

    fn regtest_state(dir: &Path) -> std::sync::Arc<ChainState> {
        let spec = ChainSpec::by_name("regtest").unwrap();
        ChainState::open(dir, spec, ChainOptions::default(), |_| {}).unwrap()
    }

    #[test]
    fn a_block_file_round_trips_and_damage_is_reported_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let state = regtest_state(&dir.path().join("chain"));
        let mut chain = SpendingChain::new(&state, 1);
        let blocks: Vec<Block> = (0..105).map(|_| chain.next_block(2)).collect();
        let path = dir.path().join("blocks.dat");
        let written = write_block_file(&path, blocks.iter().cloned().map(Ok)).unwrap();
        assert_eq!(written, 105);
        let read: Vec<Block> = BlockFileReader::open(&path)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, blocks);

        let bytes = std::fs::read(&path).unwrap();
        let first_len = serialize(&blocks[0]).len() as u64;
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let results: Vec<_> = BlockFileReader::open(&path).unwrap().collect();
        assert_eq!(results.len(), 105);
        assert!(matches!(results[104], Err(ImportError::Truncated { .. })));

        let mut corrupt = bytes.clone();
        // The second block's transaction count: a non-canonical CompactSize.
        corrupt[first_len as usize + 80] = 0xfd;
        corrupt[first_len as usize + 81] = 1;
        corrupt[first_len as usize + 82] = 0;
        std::fs::write(&path, &corrupt).unwrap();
        let results: Vec<_> = BlockFileReader::open(&path).unwrap().collect();
        assert_eq!(results.len(), 2, "stops after the first error");
        match &results[1] {
            Err(ImportError::Decode { offset, .. }) => assert_eq!(*offset, first_len),
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
}
