//! Helpers to run real `node` processes on 127.0.0.1 with temporary data directories.

use std::io::{Read, Write};
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
    bin_output(&node_bin(), args, env)
}

/// Runs `BIN ARGS` (`node` or another build of its command line) to completion with a
/// clean `NODE_` environment plus `env`.
pub(crate) fn bin_output(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
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

/// The address a running node published in `DATADIR/NAME` (`peers.addr`, `rpc.addr`:
/// written once its listener is bound, so a node started on port 0 can be found).
pub(crate) fn published_addr(datadir: &Path, name: &str) -> std::net::SocketAddr {
    let path = datadir.join(name);
    wait_for(
        &format!("{}", path.display()),
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
        },
    )
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
        NodeProcess::start_bin(&node_bin(), profile, datadir, args, env)
    }

    /// As [`NodeProcess::start`], with another build of the command line.
    pub(crate) fn start_bin(
        bin: &Path,
        profile: &Path,
        datadir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let log = datadir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(bin);
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
    /// How the process ended, if it has.
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

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

/// The regtest chain's parameters.
pub(crate) fn regtest() -> std::sync::Arc<node_chain::ChainSpec> {
    node_chain::ChainSpec::by_name("regtest").expect("regtest spec")
}

/// Profile text running `modules` on regtest, followed by `tables` (more TOML). Listen
/// addresses are left out: [`TestNode`] sets them on the command line.
pub(crate) fn modules_profile(modules: &[&str], tables: &str) -> String {
    let list: Vec<String> = modules.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "[node]\nmodules = [{}]\nchain = \"regtest\"\n\n{tables}",
        list.join(", ")
    )
}

/// A failed `node rpc` call: the client's exit code, the RPC error code and the whole
/// error text.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The client's exit code.
    pub(crate) exit: Option<i32>,
    /// The JSON-RPC error code the client printed.
    pub(crate) code: i64,
    /// Everything the client wrote to stderr.
    pub(crate) text: String,
}

/// A running test node: a `node` process on regtest with its own data directory, P2P and
/// RPC ports on 127.0.0.1 and extra `--set`s, and an RPC client that runs `node rpc` with
/// the same flags, as a user would.
pub(crate) struct TestNode {
    /// The node process.
    pub(crate) process: NodeProcess,
    /// The binary it runs (and its RPC client).
    bin: PathBuf,
    flags: Vec<String>,
    /// The P2P (and discovery) port the node bound (0 without the peers module).
    pub(crate) p2p_port: u16,
    /// The RPC port, for clients other than `node rpc`.
    pub(crate) rpc_port: u16,
    /// The temporary directory holding the profile and data directory, when the node
    /// made it.
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
        let datadir = dir.path().join("data");
        TestNode::launch(&repo_root().join(profile), &datadir, sets, Some(dir))
    }

    /// Starts a node on a profile written by the test (see [`modules_profile`]), its
    /// chain and ports overridden as for regtest.toml, and waits until it runs.
    pub(crate) fn start_text(text: &str, sets: &[String]) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = write_profile(dir.path(), "node.toml", text);
        let datadir = dir.path().join("data");
        TestNode::launch(&profile, &datadir, sets, Some(dir))
    }

    /// Starts `chain, mempool, wallet, miner, rpc` (every module an RPC method needs, no
    /// networking) plus `modules`, with the address index on, mining only when asked and
    /// `tables` appended to the profile, and waits until it runs.
    pub(crate) fn start_wallet(modules: &[&str], tables: &str, sets: &[String]) -> TestNode {
        let mut names = vec!["chain", "mempool", "wallet", "miner", "rpc"];
        names.extend_from_slice(modules);
        let text = modules_profile(
            &names,
            &format!("[chain]\naddress_index = true\n\n[miner]\nautostart = false\n\n{tables}"),
        );
        TestNode::start_text(&text, sets)
    }

    /// Starts a regtest node on an existing data directory.
    pub(crate) fn start_in(datadir: &Path, sets: &[String]) -> TestNode {
        let profile = repo_root().join("configs/regtest.toml");
        TestNode::launch(&profile, datadir, sets, None)
    }

    /// Starts a node on a profile file whose chain (a built-in name or a chain spec file)
    /// is kept, with its data directory at `datadir`; ports as for regtest.toml.
    pub(crate) fn start_on_chain(profile: &Path, datadir: &Path, sets: &[String]) -> TestNode {
        let mut all = vec!["node.chain=".to_string()];
        all.extend_from_slice(sets);
        TestNode::launch_bin(&node_bin(), profile, datadir, &all, None)
    }

    /// Starts another build of the command line (a third party's binary) on `profile`.
    pub(crate) fn start_bin(bin: &Path, profile: &Path, sets: &[String]) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = dir.path().join("data");
        TestNode::launch_bin(bin, profile, &datadir, sets, Some(dir))
    }

    /// As [`TestNode::start`], with `env` added to the node's environment.
    pub(crate) fn start_env(sets: &[String], env: &[(&str, &str)]) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let datadir = dir.path().join("data");
        let profile = repo_root().join("configs/regtest.toml");
        TestNode::launch_env(&node_bin(), &profile, &datadir, sets, Some(dir), env)
    }

    fn launch(
        profile: &Path,
        datadir: &Path,
        sets: &[String],
        dir: Option<tempfile::TempDir>,
    ) -> TestNode {
        TestNode::launch_bin(&node_bin(), profile, datadir, sets, dir)
    }

    fn launch_bin(
        bin: &Path,
        profile: &Path,
        datadir: &Path,
        sets: &[String],
        dir: Option<tempfile::TempDir>,
    ) -> TestNode {
        TestNode::launch_env(bin, profile, datadir, sets, dir, &[])
    }

    fn launch_env(
        bin: &Path,
        profile: &Path,
        datadir: &Path,
        sets: &[String],
        dir: Option<tempfile::TempDir>,
        env: &[(&str, &str)],
    ) -> TestNode {
        // Port 0 for both: the node picks free ports and publishes them in its data
        // directory (`node rpc` reads `rpc.addr` itself), so parallel tests never race
        // for a port.
        let mut flags = vec![
            "--profile".to_string(),
            profile.display().to_string(),
            "--datadir".to_string(),
            datadir.display().to_string(),
            "--set".to_string(),
            "peers.listen=127.0.0.1:0".to_string(),
            "--set".to_string(),
            "rpc.listen=127.0.0.1:0".to_string(),
        ];
        // Regtest unless the caller keeps the profile's chain (an empty `node.chain=`).
        let keep_chain = sets.first().is_some_and(|s| s == "node.chain=");
        if !keep_chain {
            flags.push("--set".to_string());
            flags.push("node.chain=regtest".to_string());
        }
        for set in sets.iter().skip(usize::from(keep_chain)) {
            flags.push("--set".to_string());
            flags.push(set.clone());
        }
        let extra: Vec<&str> = flags[4..].iter().map(String::as_str).collect();
        let mut process = NodeProcess::start_bin(bin, profile, datadir, &extra, env);
        process.wait_log("node running", Duration::from_secs(30));
        // Written before "node running" by a node that runs the peers (rpc) module.
        let published_port = |name: &str| {
            std::fs::read_to_string(datadir.join(name))
                .ok()
                .and_then(|text| text.trim().parse::<std::net::SocketAddr>().ok())
                .map_or(0, |addr| addr.port())
        };
        let p2p_port = published_port("peers.addr");
        let rpc_port = published_port("rpc.addr");
        TestNode {
            process,
            bin: bin.to_path_buf(),
            flags,
            p2p_port,
            rpc_port,
            _dir: dir,
        }
    }

    /// The address a module serves HTTP on, from the kernel's log line (a module given
    /// port 0 gets a free one; modules given the same address share its listener).
    pub(crate) fn http_addr(&mut self, module: &str) -> String {
        let needle = format!("serving HTTP module=\"{module}\" bound=");
        self.process.wait_log(&needle, Duration::from_secs(30));
        let log = self.process.log();
        log.lines()
            .find_map(|line| {
                let rest = &line[line.find(&needle)? + needle.len()..];
                rest.split_whitespace().next().map(str::to_string)
            })
            .expect("the line just waited for")
    }

    /// The node's data directory.
    pub(crate) fn datadir(&self) -> &Path {
        &self.process.datadir
    }

    /// The P2P address, for other nodes' `connect` lists.
    pub(crate) fn p2p_addr(&self) -> String {
        format!("127.0.0.1:{}", self.p2p_port)
    }

    fn output(&self, method: &str, args: &[&str]) -> Output {
        let mut all: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        all.push("rpc");
        all.push(method);
        all.extend_from_slice(args);
        bin_output(&self.bin, &all, &[])
    }

    /// Runs `node rpc WORDS...` (bitcoin-cli's options included) with the node's flags and
    /// `sets` after them, `stdin` written to its standard input.
    pub(crate) fn rpc_output(&self, words: &[&str], sets: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.flags);
        for set in sets {
            cmd.arg("--set").arg(set);
        }
        cmd.arg("rpc")
            .args(words)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        clean_env(&mut cmd);
        let mut child = cmd.spawn().expect("run node rpc");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("node rpc output")
    }

    /// Calls an RPC method: what it printed, trimmed (a string result as it is), or the
    /// error text.
    pub(crate) fn try_text(&self, method: &str, args: &[&str]) -> Result<String, String> {
        let out = self.output(method, args);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// What a call that must succeed printed, trimmed: a string result as it is.
    pub(crate) fn text(&self, method: &str, args: &[&str]) -> String {
        self.try_text(method, args).unwrap_or_else(|e| {
            panic!(
                "{method} {args:?} failed: {e}\nlog:\n{}",
                self.process.log()
            )
        })
    }

    /// A call that must succeed, its result as JSON; null when the client printed
    /// nothing (as bitcoin-cli does for null). String results are read with
    /// [`TestNode::text`].
    pub(crate) fn rpc(&self, method: &str, args: &[&str]) -> serde_json::Value {
        let text = self.text(method, args);
        if text.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {args:?} printed no JSON ({e}): {text}"))
    }

    /// A call that must fail: its exit code, error code and text.
    pub(crate) fn fail(&self, method: &str, args: &[&str]) -> Failure {
        let out = self.output(method, args);
        assert!(
            !out.status.success(),
            "{method} {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        let code = text
            .split("error code: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no error code in: {text}"));
        Failure {
            exit: out.status.code(),
            code,
            text,
        }
    }

    /// Asserts a call fails (client exit code 1) with `code` and a message containing
    /// `fragment`.
    pub(crate) fn fails_with(&self, method: &str, args: &[&str], code: i64, fragment: &str) {
        let failure = self.fail(method, args);
        assert_eq!(failure.exit, Some(1), "{failure:?}");
        assert_eq!(failure.code, code, "{method} {args:?}: {}", failure.text);
        assert!(
            failure.text.contains(fragment),
            "{fragment:?} missing from {method} {args:?}: {}",
            failure.text
        );
    }

    /// `generatetoaddress count address`: the new blocks' hashes.
    pub(crate) fn generate(&self, count: u32, address: &str) -> Vec<String> {
        let hashes = self.rpc("generatetoaddress", &[&count.to_string(), address]);
        let hashes: Vec<String> = hashes
            .as_array()
            .expect("array of hashes")
            .iter()
            .map(|h| h.as_str().expect("hash string").to_string())
            .collect();
        assert_eq!(hashes.len(), count as usize);
        hashes
    }

    /// The height of the node's tip.
    pub(crate) fn height(&self) -> u64 {
        self.rpc("getblockcount", &[]).as_u64().expect("a height")
    }

    /// The node's tip hash.
    pub(crate) fn tip(&self) -> String {
        self.text("getbestblockhash", &[])
    }

    /// The peers getpeerinfo lists.
    pub(crate) fn peer_info(&self) -> Vec<serde_json::Value> {
        self.rpc("getpeerinfo", &[])
            .as_array()
            .expect("getpeerinfo answers an array")
            .clone()
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
