//! The `node` binary cargo built, run as a child process of a benchmark.
//!
//! A panicking benchmark must not leave nodes running (they would hold ports, data
//! directories and cores while the next run measures), so the process is killed when its
//! handle is dropped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// A running `node`; killed when dropped unless it has already exited.
pub(crate) struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts `node` with `args` from the repository root (where a relative profile such as
    /// `configs/regtest.toml` is found), its stderr written to the file `log`.
    ///
    /// The caller's `NODE_` variables are removed, as they would change the profile, and
    /// `RUST_LOG` is `info` (a verbose one would measure logging) unless `BENCH_NODE_LOG`
    /// sets it, to profile.
    pub(crate) fn spawn<S: AsRef<OsStr>>(
        args: impl IntoIterator<Item = S>,
        log: PathBuf,
    ) -> NodeProcess {
        let log_file = std::fs::File::create(&log).expect("create a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_node"));
        command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NODE_") {
                command.env_remove(key);
            }
        }
        command
            .env(
                "RUST_LOG",
                std::env::var("BENCH_NODE_LOG").unwrap_or_else(|_| "info".to_string()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = command.spawn().expect("spawn node");
        NodeProcess { child, log }
    }

    /// The file the node logs to.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// Seconds of CPU the node has used so far, user and system, from `/proc` (whose
    /// clock ticks are Linux's `USER_HZ`, 100 a second).
    #[allow(dead_code, reason = "not every benchmark accounts for the nodes' CPU")]
    pub(crate) fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read the node's /proc stat");
        // The fields after the command name, which is in parentheses and may hold spaces:
        // utime and stime are the 14th and 15th of the line.
        let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        ticks as f64 / 100.0
    }

    /// The exit status if the node has exited, as [`Child::try_wait`].
    pub(crate) fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // A node stopped cleanly has been reaped already: nothing to kill.
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
