//! Building an index over a chain stored before it was turned on (`[chain] tx_index`,
//! `block_filter_index`): a supervised blocking task per index that indexes batch after
//! batch while the node serves, with a progress line every 10 s and one when it is done.
//! Blocks that connect meanwhile are indexed by the chain state itself; `getindexinfo`
//! reports `synced: false` until the task ends. Stopping the node stops it between
//! batches; the next start resumes where the last batch ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::chain::ChainError;
use node_api::StartContext;
use node_chain_state::ChainState;

/// At most one progress line this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How far an index got: whether it covers the whole main chain, and the height of the
/// last block it holds.
pub(crate) struct Progress {
    synced: bool,
    height: u32,
}

/// An index the chain state builds batch by batch.
pub(crate) struct Index {
    /// How the log names it.
    name: &'static str,
    /// Where it stands; `None` when it is off.
    progress: fn(&ChainState) -> Option<Progress>,
    /// Indexes the next batch; `None` when it is off.
    batch: fn(&ChainState) -> Result<Option<Progress>, ChainError>,
}

pub(crate) const TX_INDEX: Index = Index {
    name: "tx index",
    progress: |s| {
        s.tx_index_info().map(|i| Progress {
            synced: i.synced,
            height: i.best_block_height,
        })
    },
    batch: |s| {
        Ok(s.build_tx_index_batch()?.map(|i| Progress {
            synced: i.synced,
            height: i.best_block_height,
        }))
    },
};

pub(crate) const FILTER_INDEX: Index = Index {
    name: "block filter index",
    progress: |s| {
        s.filter_index_info().map(|i| Progress {
            synced: i.synced,
            height: i.best_block_height,
        })
    },
    batch: |s| {
        Ok(s.build_filter_index_batch()?.map(|i| Progress {
            synced: i.synced,
            height: i.best_block_height,
        }))
    },
};

/// Starts the build of `index` when it is on and not synced yet.
pub(crate) fn start_build(ctx: &StartContext, state: &Arc<ChainState>, index: &'static Index) {
    let Some(progress) = (index.progress)(state).filter(|p| !p.synced) else {
        return;
    };
    let name = index.name;
    tracing::info!(
        from = progress.height,
        tip_height = state.tip().height,
        "building the {name} in the background"
    );
    let state = state.clone();
    let cancel = ctx.cancel_token();
    ctx.spawn_blocking(name, move || -> Result<(), ChainError> {
        let started = Instant::now();
        let mut logged = Instant::now();
        while !cancel.is_cancelled() {
            let Some(progress) = (index.batch)(&state)? else {
                return Ok(());
            };
            if progress.synced {
                tracing::info!(
                    height = progress.height,
                    secs = started.elapsed().as_secs(),
                    "{name} built"
                );
                return Ok(());
            }
            if logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                tracing::info!(
                    height = progress.height,
                    tip_height = state.tip().height,
                    "building the {name}"
                );
            }
        }
        Ok(())
    });
}
