//! Building the transaction index (`[chain] tx_index`) over a chain stored before it was
//! turned on: a supervised blocking task that indexes batch after batch while the node
//! serves, with a progress line every 10 s and one when it is done. Blocks that connect
//! meanwhile are indexed by the chain state itself; `getindexinfo` reports `synced:
//! false` until the task ends. Stopping the node stops it between batches; the next
//! start resumes where the last batch ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use node_api::chain::ChainError;
use node_api::StartContext;
use node_chain_state::ChainState;

/// At most one progress line this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Starts the build when the index is on and not synced yet.
pub(crate) fn start_build(ctx: &StartContext, state: &Arc<ChainState>) {
    let Some(info) = state.tx_index_info().filter(|info| !info.synced) else {
        return;
    };
    tracing::info!(
        from = info.best_block_height,
        tip_height = state.tip().height,
        "building the tx index in the background"
    );
    let state = state.clone();
    let cancel = ctx.cancel_token();
    ctx.spawn_blocking("tx index build", move || -> Result<(), ChainError> {
        let started = Instant::now();
        let mut logged = Instant::now();
        while !cancel.is_cancelled() {
            let Some(info) = state.build_tx_index_batch()? else {
                return Ok(());
            };
            if info.synced {
                tracing::info!(
                    height = info.best_block_height,
                    secs = started.elapsed().as_secs(),
                    "tx index built"
                );
                return Ok(());
            }
            if logged.elapsed() >= PROGRESS_EVERY {
                logged = Instant::now();
                tracing::info!(
                    height = info.best_block_height,
                    tip_height = state.tip().height,
                    "building the tx index"
                );
            }
        }
        Ok(())
    });
}
