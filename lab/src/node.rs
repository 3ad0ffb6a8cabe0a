//! One node of the lab: a real `node` process (in its namespace when there is one), its
//! RPC client, the arrivals its `/events` stream reports, and its CPU and memory from
//! `/proc`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::rpc::Rpc;

/// The ports every node uses on its own address.
const P2P_PORT: u16 = 18444;
const RPC_PORT: u16 = 18443;
const EVENTS_PORT: u16 = 8090;

/// How a node is started.
#[derive(Clone)]
pub(crate) struct Launch {
    /// The `node` binary (or a third party's build of its command line).
    pub(crate) bin: PathBuf,
    /// Its profile.
    pub(crate) profile: PathBuf,
    /// `--set` overrides after the lab's own.
    pub(crate) sets: Vec<String>,
    /// Its log filter (`RUST_LOG`).
    pub(crate) log: String,
}

/// What a node's event stream reported: when each object arrived (microseconds since the
/// Unix epoch, by the node's clock, which every node of one machine shares).
#[derive(Default)]
pub(crate) struct Arrivals {
    /// Transactions accepted into the mempool.
    pub(crate) txs: HashMap<String, u64>,
    /// Blocks connected.
    pub(crate) blocks: HashMap<String, u64>,
    /// The latest tip and its height.
    pub(crate) tip: Option<(String, u64)>,
}

/// Arrivals of every node, and a condition variable rung at each one.
pub(crate) struct Board {
    /// One entry per node index.
    pub(crate) nodes: Mutex<Vec<Arrivals>>,
    /// Notified on every arrival.
    pub(crate) changed: Condvar,
}

impl Board {
    /// A board for `n` nodes.
    pub(crate) fn new(n: usize) -> Arc<Board> {
        Arc::new(Board {
            nodes: Mutex::new((0..n).map(|_| Arrivals::default()).collect()),
            changed: Condvar::new(),
        })
    }

    /// Waits until `done` holds over the arrivals, or `timeout`; returns whether it held.
    pub(crate) fn wait(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[Arrivals]) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&nodes) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            nodes = self
                .changed
                .wait_timeout(nodes, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn grow(&self, n: usize) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        while nodes.len() < n {
            nodes.push(Arrivals::default());
        }
    }
}

/// A running node.
pub(crate) struct LabNode {
    /// Its index.
    pub(crate) index: usize,
    /// Its address.
    pub(crate) ip: Ipv4Addr,
    namespace: Option<String>,
    launch: Launch,
    /// Its data directory.
    pub(crate) datadir: PathBuf,
    child: Option<Child>,
    /// Its RPC client, once up.
    pub(crate) rpc: Option<Rpc>,
}

impl LabNode {
    /// Starts the process; returns its pid. The node is not up until [`LabNode::ready`].
    pub(crate) fn start(
        index: usize,
        ip: Ipv4Addr,
        namespace: Option<String>,
        launch: Launch,
        datadir: PathBuf,
        connect: &[SocketAddr],
    ) -> anyhow::Result<LabNode> {
        let mut node = LabNode {
            index,
            ip,
            namespace,
            launch,
            datadir,
            child: None,
            rpc: None,
        };
        node.spawn(connect)?;
        Ok(node)
    }

    fn spawn(&mut self, connect: &[SocketAddr]) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.datadir)?;
        let list: Vec<String> = connect.iter().map(|a| format!("\"{a}\"")).collect();
        let mut sets = vec![
            format!("peers.listen={}:{P2P_PORT}", self.ip),
            format!("rpc.listen={}:{RPC_PORT}", self.ip),
            format!("events.listen={}:{EVENTS_PORT}", self.ip),
            format!("peers.connect=[{}]", list.join(",")),
        ];
        sets.extend(self.launch.sets.iter().cloned());
        let mut cmd = match &self.namespace {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(&self.launch.bin);
                cmd
            }
            None => Command::new(&self.launch.bin),
        };
        cmd.arg("--profile")
            .arg(&self.launch.profile)
            .arg("--datadir")
            .arg(&self.datadir);
        for set in &sets {
            cmd.arg("--set").arg(set);
        }
        let log = std::fs::File::create(self.log())?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // The lab's own variables would override the profile's values.
        for (key, _) in std::env::vars() {
            if key.starts_with("NODE_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("RUST_LOG", &self.launch.log);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.launch.bin.display()))?;
        self.child = Some(child);
        self.rpc = None;
        Ok(())
    }

    /// The node's log file.
    pub(crate) fn log(&self) -> PathBuf {
        self.datadir.with_extension("log")
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until its RPC answers; fails with its log's last lines if it exits.
    pub(crate) fn ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let addr = SocketAddr::from((self.ip, RPC_PORT));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "node {} exited ({status}):\n{}",
                        self.index,
                        tail(&self.log(), 15)
                    );
                }
            }
            // The event stream is bound after RPC: both must be up.
            let streaming = self.datadir.join("events.addr").exists();
            if let Some(rpc) = Rpc::new(addr, &self.datadir).ok().filter(|_| streaming) {
                if rpc.call("getblockcount", Value::Array(vec![])).is_ok() {
                    self.rpc = Some(rpc);
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "node {} did not answer RPC within {timeout:?}; log {}",
                    self.index,
                    self.log().display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its RPC client (the node is up).
    pub(crate) fn rpc(&self) -> anyhow::Result<&Rpc> {
        self.rpc
            .as_ref()
            .with_context(|| format!("node {} is not up", self.index))
    }

    /// Follows its `/events` stream on a thread, writing arrivals into `board`; the
    /// thread ends when the stream does (the node stopped).
    pub(crate) fn follow(&self, board: &Arc<Board>) {
        // Every kept event from the first: what happened before the stream connected (or
        // before a restart) arrives too, with the time the node saw it.
        let url = format!("http://{}:{EVENTS_PORT}/events?last_event_id=0", self.ip);
        let board = board.clone();
        let index = self.index;
        board.grow(index + 1);
        let spawned = std::thread::Builder::new()
            .name(format!("events-{index}"))
            .spawn(move || {
                // A stream that ends is a node that stopped; the step that needs its
                // arrivals reports them missing.
                let _ = stream_events(&url, index, &board);
            });
        if let Err(e) = spawned {
            eprintln!("lab: cannot follow node {index}'s events: {e}");
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.rpc = None;
    }

    /// Starts it again on its data directory.
    pub(crate) fn restart(&mut self, connect: &[SocketAddr]) -> anyhow::Result<()> {
        self.kill();
        self.spawn(connect)
    }

    /// CPU seconds (user + system) the process has used, from `/proc/PID/stat`.
    pub(crate) fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / clock_ticks())
    }

    /// Resident memory in MiB, from `/proc/PID/status`.
    pub(crate) fn rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for LabNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Linux reports `/proc` times in USER_HZ, which its ABI fixes at 100 on the
/// architectures this runs on (x86, arm), whatever the kernel's own tick rate.
fn clock_ticks() -> f64 {
    100.0
}

fn stream_events(url: &str, index: usize, board: &Board) -> anyhow::Result<()> {
    let response = ureq::get(url).call()?;
    let reader = BufReader::new(response.into_reader());
    let mut kind = String::new();
    for line in reader.lines() {
        let line = line?;
        if let Some(name) = line.strip_prefix("event: ") {
            kind = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let Ok(data) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            let Some(time) = data.get("time_us").and_then(Value::as_u64) else {
                continue;
            };
            let mut nodes = board.nodes.lock().unwrap_or_else(|e| e.into_inner());
            let arrivals = &mut nodes[index];
            match kind.as_str() {
                "tx_accepted" => {
                    if let Some(txid) = data.get("txid").and_then(Value::as_str) {
                        arrivals.txs.entry(txid.to_string()).or_insert(time);
                    }
                }
                "block_connected" => {
                    if let Some(hash) = data.get("hash").and_then(Value::as_str) {
                        arrivals.blocks.entry(hash.to_string()).or_insert(time);
                    }
                }
                "tip_changed" => {
                    if let (Some(hash), Some(height)) = (
                        data.get("hash").and_then(Value::as_str),
                        data.get("height").and_then(Value::as_u64),
                    ) {
                        arrivals.tip = Some((hash.to_string(), height));
                    }
                }
                _ => {}
            }
            drop(nodes);
            board.changed.notify_all();
        }
    }
    Ok(())
}

/// The last `n` lines of a file.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
