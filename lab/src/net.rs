//! Where the nodes live: a network namespace each on one bridge, with their uploads shaped
//! by the kernel's traffic control, when the lab may (root, or CAP_NET_ADMIN); else
//! distinct loopback addresses, unshaped.
//!
//! A lab takes a *slot* (1 to 250) by creating `/tmp/node-lab/slot-N.json` exclusively;
//! the file records what the lab made (namespaces, bridge, processes, data directory) as
//! it makes them, so `node lab cleanup` removes all of it after a crash. A slot gives
//! the addresses: `198.18.N.I` in namespaces (RFC 2544's range for benchmarking networks,
//! never routed, bridged only between namespaces this lab made), `127.N.0.I` on loopback,
//! with node `I` from 1 to [`MAX_NODES`].

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Nodes one lab can run: the host part of a /24 left after the bridge's own address.
pub(crate) const MAX_NODES: usize = 250;

/// Where slots are recorded.
pub(crate) fn state_dir() -> PathBuf {
    PathBuf::from("/tmp/node-lab")
}

/// What a lab made, written as it makes it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The lab process.
    pub(crate) pid: u32,
    /// The slot.
    pub(crate) slot: u8,
    /// Namespaces made.
    pub(crate) namespaces: Vec<String>,
    /// The bridge, once made.
    pub(crate) bridge: Option<String>,
    /// Node processes started (killed on cleanup when still alive).
    pub(crate) pids: Vec<u32>,
    /// The data directory of every node.
    pub(crate) dir: Option<PathBuf>,
}

/// A slot held by this process; [`Slot::record`] keeps its file current.
pub(crate) struct Slot {
    path: PathBuf,
    record: Record,
}

impl Slot {
    /// Takes the first free slot. A slot whose lab process is gone is cleaned and taken.
    pub(crate) fn take() -> anyhow::Result<Slot> {
        let dir = state_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for slot in 1..=250u8 {
            let path = dir.join(format!("slot-{slot}.json"));
            if path.exists() {
                match read_record(&path) {
                    Some(record) if alive(record.pid) => continue,
                    Some(record) => remove(&record),
                    None => {}
                }
                let _ = std::fs::remove_file(&path);
            }
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            if created.is_ok() {
                let slot_ = Slot {
                    path,
                    record: Record {
                        pid: std::process::id(),
                        slot,
                        ..Record::default()
                    },
                };
                slot_.save()?;
                return Ok(slot_);
            }
        }
        bail!(
            "every lab slot in {} is taken by a running lab",
            dir.display()
        )
    }

    /// The slot number.
    pub(crate) fn number(&self) -> u8 {
        self.record.slot
    }

    /// Changes the record and writes it at once.
    pub(crate) fn record(&mut self, change: impl FnOnce(&mut Record)) -> anyhow::Result<()> {
        change(&mut self.record);
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&self.record)?;
        std::fs::write(&self.path, text)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// A copy of what is recorded.
    pub(crate) fn snapshot(&self) -> Record {
        self.record.clone()
    }

    /// Removes everything recorded and the slot itself.
    pub(crate) fn release(self) {
        remove(&self.record);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_record(path: &Path) -> Option<Record> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills the recorded processes, deletes namespaces, the bridge and the data directory.
pub(crate) fn remove(record: &Record) {
    for &pid in &record.pids {
        if alive(pid) {
            // SIGKILL: the lab is going away and its nodes' data with it.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
    for pid in &record.pids {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while alive(*pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    for ns in &record.namespaces {
        let _ = quiet(Command::new("ip").args(["netns", "delete", ns]));
    }
    if let Some(bridge) = &record.bridge {
        let _ = quiet(Command::new("ip").args(["link", "delete", bridge]));
        let _ = quiet(Command::new("ip").args(["link", "delete", &format!("{bridge}b")]));
    }
    if let Some(dir) = &record.dir {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `node lab cleanup`: every slot whose lab is gone (or every slot with `all`).
pub(crate) fn cleanup(all: bool) -> anyhow::Result<usize> {
    let mut cleaned = 0;
    let Ok(entries) = std::fs::read_dir(state_dir()) else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") {
            if let Some(record) = read_record(&path) {
                if all || !alive(record.pid) {
                    if alive(record.pid) && record.pid != std::process::id() {
                        let _ = Command::new("kill")
                            .args(["-TERM", &record.pid.to_string()])
                            .status();
                    }
                    remove(&record);
                    let _ = std::fs::remove_file(&path);
                    cleaned += 1;
                }
            }
        }
    }
    Ok(cleaned)
}

fn quiet(cmd: &mut Command) -> std::io::Result<std::process::ExitStatus> {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
}

/// Runs a command and fails with its standard error.
fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// How the nodes are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// A network namespace per node on a bridge, links shaped.
    Namespaces,
    /// Distinct loopback addresses, links unshaped.
    Loopback,
}

/// Whether this process may make namespaces: it tries one.
pub(crate) fn can_use_namespaces() -> bool {
    let name = format!("nlab-probe-{}", std::process::id());
    let made = quiet(Command::new("ip").args(["netns", "add", &name])).is_ok_and(|s| s.success());
    if made {
        let _ = quiet(Command::new("ip").args(["netns", "delete", &name]));
    }
    made
}

/// Whether the kernel has `netem` (delay and loss), tried on a throwaway namespace.
pub(crate) fn has_netem() -> bool {
    let name = format!("nlab-netem-{}", std::process::id());
    if !quiet(Command::new("ip").args(["netns", "add", &name])).is_ok_and(|s| s.success()) {
        return false;
    }
    let ok = quiet(Command::new("ip").args([
        "netns", "exec", &name, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
    ]))
    .is_ok_and(|s| s.success());
    let _ = quiet(Command::new("ip").args(["netns", "delete", &name]));
    ok
}

/// The network of one lab run.
pub(crate) struct Network {
    /// How nodes are placed.
    pub(crate) mode: Mode,
    slot: u8,
    bridge: String,
}

impl Network {
    /// Makes the bridge (namespaces) or nothing (loopback).
    pub(crate) fn new(mode: Mode, slot: &mut Slot) -> anyhow::Result<Network> {
        let number = slot.number();
        let bridge = format!("nlab{number}");
        if mode == Mode::Namespaces {
            let _ = quiet(Command::new("ip").args(["link", "delete", &bridge]));
            slot.record(|r| r.bridge = Some(bridge.clone()))?;
            run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]))?;
            run(Command::new("ip").args([
                "addr",
                "add",
                &format!("198.18.{number}.254/24"),
                "dev",
                &bridge,
            ]))?;
            run(Command::new("ip").args(["link", "set", &bridge, "up"]))?;
        }
        Ok(Network {
            mode,
            slot: number,
            bridge,
        })
    }

    /// Node `index`'s address (index from 0).
    pub(crate) fn ip(&self, index: usize) -> Ipv4Addr {
        let host = (index + 1) as u8;
        match self.mode {
            Mode::Namespaces => Ipv4Addr::new(198, 18, self.slot, host),
            Mode::Loopback => Ipv4Addr::new(127, self.slot, 0, host),
        }
    }

    /// The namespace of node `index`, or `None` on loopback.
    pub(crate) fn namespace(&self, index: usize) -> Option<String> {
        (self.mode == Mode::Namespaces).then(|| format!("nlab{}-{index}", self.slot))
    }

    /// The host side of node `index`'s link, whose received bytes are what the node sent.
    pub(crate) fn host_link(&self, index: usize) -> Option<String> {
        (self.mode == Mode::Namespaces).then(|| format!("nl{}v{index}", self.slot))
    }

    /// Makes node `index`'s namespace, link and shaping.
    pub(crate) fn add_node(
        &self,
        index: usize,
        link: &crate::scenario::Link,
        slot: &mut Slot,
    ) -> anyhow::Result<()> {
        let (Some(ns), Some(host)) = (self.namespace(index), self.host_link(index)) else {
            return Ok(());
        };
        // A namespace deleted by the run before may still be taking its link down.
        let _ = quiet(Command::new("ip").args(["netns", "delete", &ns]));
        let _ = quiet(Command::new("ip").args(["link", "delete", &host]));
        slot.record(|r| r.namespaces.push(ns.clone()))?;
        run(Command::new("ip").args(["netns", "add", &ns]))?;
        run(Command::new("ip").args([
            "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]))?;
        run(Command::new("ip").args(["link", "set", &host, "master", &self.bridge, "up"]))?;
        let ip = format!("{}/24", self.ip(index));
        run(Command::new("ip").args(["-n", &ns, "addr", "add", &ip, "dev", "eth0"]))?;
        run(Command::new("ip").args(["-n", &ns, "link", "set", "eth0", "up"]))?;
        run(Command::new("ip").args(["-n", &ns, "link", "set", "lo", "up"]))?;
        self.shape(&ns, link)
    }

    fn shape(&self, ns: &str, link: &crate::scenario::Link) -> anyhow::Result<()> {
        let tc = |args: &[&str]| {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns, "tc"]).args(args);
            run(&mut cmd)
        };
        let netem = link.delay_ms > 0.0 || link.loss_percent > 0.0;
        if netem {
            let mut args = vec![
                "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem",
            ];
            let delay = format!("{}ms", link.delay_ms);
            let loss = format!("{}%", link.loss_percent);
            if link.delay_ms > 0.0 {
                args.extend(["delay", delay.as_str()]);
            }
            if link.loss_percent > 0.0 {
                args.extend(["loss", loss.as_str()]);
            }
            tc(&args)?;
        }
        if link.rate_mbit > 0.0 {
            let rate = format!("{}kbit", (link.rate_mbit * 1000.0).round() as u64);
            // A burst of 10 ms at the rate (at least 16 kB, above one full-size packet),
            // and a queue of 200 ms of data before tbf drops: TCP then paces itself.
            let burst = format!(
                "{}",
                ((link.rate_mbit * 1e6 / 8.0 / 100.0) as u64).max(16_384)
            );
            let parent: &[&str] = if netem {
                &["parent", "1:1", "handle", "10:"]
            } else {
                &["root"]
            };
            let mut args = vec!["qdisc", "add", "dev", "eth0"];
            args.extend_from_slice(parent);
            args.extend(["tbf", "rate", &rate, "burst", &burst, "latency", "200ms"]);
            tc(&args)?;
        }
        Ok(())
    }

    /// Cuts the network in two: the nodes of `side_b` move to a second bridge, so they
    /// reach each other but not the rest, and the lab reaches them by host routes.
    pub(crate) fn partition(&self, side_b: &[usize]) -> anyhow::Result<()> {
        let other = format!("{}b", self.bridge);
        let _ = quiet(Command::new("ip").args(["link", "delete", &other]));
        // The same hardware address as the first bridge: nodes moved over keep the lab's
        // address in their ARP caches, and their answers must still reach the lab.
        let mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", self.bridge))
            .with_context(|| format!("cannot read the address of {}", self.bridge))?;
        run(Command::new("ip").args([
            "link",
            "add",
            &other,
            "address",
            mac.trim(),
            "type",
            "bridge",
        ]))?;
        run(Command::new("ip").args(["link", "set", &other, "up"]))?;
        for &index in side_b {
            if let Some(host) = self.host_link(index) {
                run(Command::new("ip").args(["link", "set", &host, "master", &other]))?;
                let ip = format!("{}/32", self.ip(index));
                run(Command::new("ip").args(["route", "add", &ip, "dev", &other]))?;
            }
        }
        Ok(())
    }

    /// Joins the two halves again.
    pub(crate) fn heal(&self, side_b: &[usize]) -> anyhow::Result<()> {
        for &index in side_b {
            if let Some(host) = self.host_link(index) {
                run(Command::new("ip").args(["link", "set", &host, "master", &self.bridge]))?;
                let ip = format!("{}/32", self.ip(index));
                let _ = quiet(Command::new("ip").args(["route", "delete", &ip]));
            }
        }
        let _ = quiet(Command::new("ip").args(["link", "delete", &format!("{}b", self.bridge)]));
        Ok(())
    }

    /// Bytes node `index` has sent over its link, from the kernel's counters.
    pub(crate) fn sent_bytes(&self, index: usize) -> Option<u64> {
        let host = self.host_link(index)?;
        std::fs::read_to_string(format!("/sys/class/net/{host}/statistics/rx_bytes"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

/// Removes what slot `slot`'s record lists, and the record (the signal handler's path:
/// the lab's own state may be mid-change, the file is always whole).
pub(crate) fn cleanup_slot(slot: u8) {
    let path = state_dir().join(format!("slot-{slot}.json"));
    if let Some(record) = read_record(&path) {
        remove(&record);
    }
    let _ = std::fs::remove_file(&path);
}
