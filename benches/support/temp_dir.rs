//! A temporary directory for node data directories and logs, kept when a run fails so the
//! logs can be read.

use std::path::Path;

/// A temporary directory deleted when dropped, unless the thread is panicking or
/// `BENCH_NODE_LOG` asked for verbose node logs: then it is kept and its path printed on
/// stderr.
pub(crate) struct KeepOnPanic(Option<tempfile::TempDir>);

impl KeepOnPanic {
    /// A new directory in the system's temporary directory, its name starting with `prefix`.
    pub(crate) fn new(prefix: &str) -> KeepOnPanic {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("temporary directory");
        KeepOnPanic(Some(dir))
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.0.as_ref().expect("held until dropped").path()
    }
}

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::thread::panicking() || std::env::var_os("BENCH_NODE_LOG").is_some() {
                eprintln!(
                    "node logs and data directories kept in {}",
                    dir.keep().display()
                );
            }
        }
    }
}
