//! The full check of the chain state after an unclean stop: a marker file lives in the
//! chain state's directory while the module runs and is removed when it stops cleanly;
//! finding it at start means the last run was killed or crashed, so every record is read
//! (in a child process, see [`node_chain_state::integrity`]) before the node uses the
//! state. A damaged state fails the start with the file named and the recovery; a child
//! that cannot run (a binary without `check-datadir`) is logged and the start goes on,
//! with the cheap check every open does.
//!
//! Cost: a read of the whole chain state after an unclean stop only.

use std::path::Path;

use node_api::{BoxError, StartContext};
use node_chain_state::integrity::{self, ChildWalkError};

/// Present while the chain module runs.
const MARKER: &str = "running";

pub(crate) fn check_after_unclean_stop(ctx: &StartContext, dir: &Path) -> Result<(), BoxError> {
    let marker = dir.join(MARKER);
    if marker.exists() {
        tracing::warn!(
            "the node did not stop cleanly last time; reading every record of the chain \
             state before starting (as `node check-datadir` does)"
        );
        match std::env::current_exe() {
            Ok(program) => match integrity::walk_in_child(&program, dir) {
                Ok(report) => tracing::info!(
                    records = report.records,
                    tables = report.tables,
                    "chain state checked: every record reads"
                ),
                Err(ChildWalkError::Corrupt(e)) => return Err(e.into()),
                Err(ChildWalkError::NotRun(reason)) => {
                    tracing::warn!("the full check of the chain state did not run: {reason}")
                }
            },
            Err(e) => tracing::warn!("the full check of the chain state did not run: {e}"),
        }
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        &marker,
        b"the node runs on this chain state; removed at a clean stop\n",
    )?;
    ctx.on_stop(move || std::fs::remove_file(&marker).map_err(Into::into));
    Ok(())
}
