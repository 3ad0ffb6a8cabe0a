//! `node` processes on `configs/regtest.toml` on 127.0.0.1, each with its own data
//! directory and ports, for the benchmarks that run several nodes.
//!
//! Needs `process.rs` included beside it as `mod process`.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use crate::process::NodeProcess;

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
    /// Starts `node` on `configs/regtest.toml` with data directory `datadir`, listening on
    /// `p2p` and `rpc`, with the `--set` overrides `sets` after the ports, logging to
    /// `datadir.log`.
    pub(crate) fn spawn(
        datadir: PathBuf,
        p2p: SocketAddr,
        rpc: SocketAddr,
        sets: &[String],
    ) -> RegtestNode {
        let mut args: Vec<OsString> = vec![
            "--profile".into(),
            "configs/regtest.toml".into(),
            "--datadir".into(),
            datadir.clone().into(),
        ];
        let ports = [format!("peers.listen={p2p}"), format!("rpc.listen={rpc}")];
        for set in ports.iter().chain(sets) {
            args.push("--set".into());
            args.push(set.into());
        }
        let process = NodeProcess::spawn(args, datadir.with_extension("log"));
        RegtestNode {
            process,
            datadir,
            p2p,
            rpc,
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

/// `count` distinct free ports on 127.0.0.1 (all bound at once, then released).
pub(crate) fn free_addrs(count: usize) -> Vec<SocketAddr> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound address"))
        .collect()
}
