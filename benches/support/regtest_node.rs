//! `node` processes on `configs/regtest.toml` on 127.0.0.1, each with its own data
//! directory and ports, for the benchmarks that run several nodes.
//!
//! Needs `process.rs` included beside it as `mod process`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::process::NodeProcess;

/// A node that has not bound its listeners within this time is reported as broken.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running `node` on `configs/regtest.toml`; killed when dropped.
pub(crate) struct RegtestNode {
    pub(crate) process: NodeProcess,
    pub(crate) datadir: PathBuf,
    /// Where it listens for peers.
    pub(crate) p2p: SocketAddr,
    /// Where it listens for RPC calls.
    pub(crate) rpc: SocketAddr,
}

impl RegtestNode {
    /// Starts `node` on `configs/regtest.toml` with data directory `datadir`, listening
    /// for peers and RPC on ports the system picks (port 0), with the `--set` overrides
    /// `sets` after the ports, logging to `datadir.log`. Returns once the node has
    /// published both addresses in its data directory (`peers.addr`, `rpc.addr`).
    pub(crate) fn spawn(datadir: PathBuf, sets: &[String]) -> RegtestNode {
        let mut args: Vec<OsString> = vec![
            "--profile".into(),
            "configs/regtest.toml".into(),
            "--datadir".into(),
            datadir.clone().into(),
        ];
        let ports = [
            "peers.listen=127.0.0.1:0".to_string(),
            "rpc.listen=127.0.0.1:0".to_string(),
        ];
        for set in ports.iter().chain(sets) {
            args.push("--set".into());
            args.push(set.into());
        }
        let mut process = NodeProcess::spawn(args, datadir.with_extension("log"));
        let mut published = |name: &str| -> SocketAddr {
            let path = datadir.join(name);
            let deadline = Instant::now() + START_DEADLINE;
            loop {
                let found = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                if let Some(addr) = found {
                    return addr;
                }
                if let Ok(Some(status)) = process.try_wait() {
                    panic!("node exited ({status}); log {}", process.log().display());
                }
                assert!(
                    Instant::now() < deadline,
                    "no {} after {START_DEADLINE:?}; log {}",
                    path.display(),
                    process.log().display()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let p2p = published("peers.addr");
        let rpc = published("rpc.addr");
        RegtestNode {
            process,
            datadir,
            p2p,
            rpc,
        }
    }

    /// The address a module serves HTTP on (the kernel logs it when the listener is
    /// bound; a module given port 0 gets a free one).
    #[allow(dead_code, reason = "only the benchmarks that run HTTP plugins ask")]
    pub(crate) fn http_addr(&mut self, module: &str) -> SocketAddr {
        let needle = format!("serving HTTP module=\"{module}\" bound=");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let log = std::fs::read_to_string(self.process.log()).unwrap_or_default();
            let found = log.lines().find_map(|line| {
                let rest = &line[line.find(&needle)? + needle.len()..];
                rest.split_whitespace().next()?.parse().ok()
            });
            if let Some(addr) = found {
                return addr;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{module} served no HTTP within {START_DEADLINE:?}; log {}",
                self.process.log().display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The cookie file holding the node's RPC credentials.
    pub(crate) fn cookie(&self) -> PathBuf {
        self.datadir.join(node_rpc::COOKIE_FILE)
    }

    /// Panics, naming the log, if the node has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.process.try_wait() {
            panic!(
                "node exited ({status}); log {}",
                self.process.log().display()
            );
        }
    }
}
