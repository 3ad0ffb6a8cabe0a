//! Helpers to run real `node` processes on 127.0.0.1 with temporary data directories.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The `node` binary built by cargo for these tests.
pub(crate) fn node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_node"))
}

/// The repository root, where `configs/` lives.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `node ARGS` to completion with a clean `NODE_` environment plus `env`.
pub(crate) fn node_output(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(node_bin());
    cmd.args(args).current_dir(repo_root());
    clean_env(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run node")
}

fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("NODE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info");
}

/// Writes a profile file into `dir` and returns its path.
pub(crate) fn write_profile(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write profile");
    path
}

/// A free TCP port on 127.0.0.1 (bound then released; the kernel rebinds it at once).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let udp_free = std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
    if udp_free {
        port
    } else {
        free_port()
    }
}

/// Polls `condition` until it returns `Some` or the deadline passes.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A running `node` process; killed when dropped.
pub(crate) struct NodeProcess {
    child: Child,
    /// The data directory in use.
    pub(crate) datadir: PathBuf,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts `node --profile PROFILE --datadir DATADIR ARGS...`, logging to a file in the
    /// data directory's parent.
    pub(crate) fn start(
        profile: &Path,
        datadir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = datadir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(node_bin());
        cmd.arg("--profile")
            .arg(profile)
            .arg("--datadir")
            .arg(datadir)
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        clean_env(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn node");
        NodeProcess {
            child,
            datadir: datadir.to_path_buf(),
            log,
        }
    }

    /// What the node logged so far.
    pub(crate) fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Waits until the log contains `needle`.
    pub(crate) fn wait_log(&mut self, needle: &str, timeout: Duration) {
        wait_for(&format!("log line {needle:?}"), timeout, || {
            if self.log().contains(needle) {
                return Some(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "node exited ({status}) before logging {needle:?}; log:\n{}",
                    self.log()
                );
            }
            None
        })
    }

    /// Sends a signal to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit and returns its status.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_for("node to exit", timeout, || {
            self.child.try_wait().ok().flatten()
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
