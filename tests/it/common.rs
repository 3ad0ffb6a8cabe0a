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

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most resident memory the process has used so far (VmHWM), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| panic!("no VmHWM line in:\n{status}"))
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
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node of a test network: a `node` process on `configs/regtest.toml` with its own data
/// directory, P2P and RPC ports on 127.0.0.1, extra `--set`s, and an RPC client that runs
/// `node rpc` with the same flags, as a user would.
pub(crate) struct TestNode {
    pub(crate) process: NodeProcess,
    flags: Vec<String>,
    /// The P2P (and discovery) port.
    pub(crate) p2p_port: u16,
    /// The temporary directory holding the data directory, when the node made it.
    _dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// Starts a node on `configs/regtest.toml` and waits until it runs.
    pub(crate) fn start(sets: &[String]) -> TestNode {
        TestNode::start_profile("configs/regtest.toml", sets)
    }

    /// Starts a node on another profile of `configs/` (its chain, ports and data
    /// directory overridden as for regtest.toml) and waits until it runs.
    pub(crate) fn start_profile(profile: &str, sets: &[String]) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut node = TestNode::start_with(profile, &dir.path().join("data"), sets);
        node._dir = Some(dir);
        node
    }

    /// Starts a regtest node on an existing data directory.
    pub(crate) fn start_in(datadir: &Path, sets: &[String]) -> TestNode {
        TestNode::start_with("configs/regtest.toml", datadir, sets)
    }

    fn start_with(profile: &str, datadir: &Path, sets: &[String]) -> TestNode {
        let p2p_port = free_port();
        let rpc_port = free_port();
        let profile = repo_root().join(profile);
        let datadir = datadir.to_path_buf();
        let mut flags = vec![
            "--profile".to_string(),
            profile.display().to_string(),
            "--datadir".to_string(),
            datadir.display().to_string(),
            "--set".to_string(),
            format!("peers.listen=127.0.0.1:{p2p_port}"),
            "--set".to_string(),
            format!("rpc.listen=127.0.0.1:{rpc_port}"),
            "--set".to_string(),
            "node.chain=regtest".to_string(),
        ];
        for set in sets {
            flags.push("--set".to_string());
            flags.push(set.clone());
        }
        let extra: Vec<&str> = flags[4..].iter().map(String::as_str).collect();
        let mut process = NodeProcess::start(&profile, &datadir, &extra, &[]);
        process.wait_log("node running", Duration::from_secs(30));
        TestNode {
            process,
            flags,
            p2p_port,
            _dir: None,
        }
    }

    /// The node's data directory.
    pub(crate) fn datadir(&self) -> &Path {
        &self.process.datadir
    }

    /// The P2P address, for other nodes' `connect` lists.
    pub(crate) fn p2p_addr(&self) -> String {
        format!("127.0.0.1:{}", self.p2p_port)
    }

    /// Calls an RPC method; the result as JSON, or the error text.
    pub(crate) fn try_rpc(&self, method: &str, args: &[&str]) -> Result<serde_json::Value, String> {
        let mut all: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        all.push("rpc");
        all.push(method);
        all.extend_from_slice(args);
        let out = node_output(&all, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        if stdout.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_str(&stdout).unwrap_or(serde_json::Value::String(stdout)))
    }

    /// Calls an RPC method that must succeed.
    pub(crate) fn rpc(&self, method: &str, args: &[&str]) -> serde_json::Value {
        self.try_rpc(method, args).unwrap_or_else(|e| {
            panic!(
                "{method} {args:?} failed: {e}
log:
{}",
                self.process.log()
            )
        })
    }

    /// The height of the node's tip.
    pub(crate) fn height(&self) -> u64 {
        self.rpc("getblockcount", &[]).as_u64().expect("a height")
    }

    /// The node's tip hash.
    pub(crate) fn tip(&self) -> String {
        self.rpc("getbestblockhash", &[])
            .as_str()
            .expect("a hash")
            .to_string()
    }
}

/// Bytes of every file under `path`, recursively.
pub(crate) fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).expect("read a directory").flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            total += dir_size(&entry.path());
        } else {
            total += meta.len();
        }
    }
    total
}
