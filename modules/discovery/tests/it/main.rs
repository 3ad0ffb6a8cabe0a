//! Discovery against the Python `kademlia` package the tutorial uses (driven through
//! `tests/kad_peer.py`), both directions, and between our own nodes.
//!
//! Needs `pip install kademlia==2.2.3`; without it the Python tests fail saying so.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use node_discovery::{Contact, Discovery, DiscoveryConfig, NodeId};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Python's own requests wait 5 s for an answer; leave room for a few of those.
const DEADLINE: Duration = Duration::from_secs(30);

/// A `python3 kad_peer.py` process, killed when dropped (even when a test panics).
struct PyKad {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

/// One Python node: its index in the script, UDP address and id.
struct PyNode {
    index: u64,
    addr: SocketAddr,
    id: String,
}

impl PyKad {
    async fn spawn() -> PyKad {
        let check = std::process::Command::new("python3")
            .args(["-c", "import kademlia"])
            .stderr(Stdio::null())
            .status()
            .expect("python3 must be installed to run the discovery tests");
        assert!(
            check.success(),
            "Python package `kademlia` missing: run `pip install kademlia==2.2.3`"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kad_peer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn python3 kad_peer.py");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut py = PyKad {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        };
        let ready = py.read().await;
        assert_eq!(ready["ready"], true, "kad_peer.py did not start: {ready}");
        py
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(DEADLINE, self.lines.next_line())
            .await
            .expect("kad_peer.py answers in time")
            .expect("read kad_peer.py")
            .expect("kad_peer.py exited early");
        serde_json::from_str(&line).expect("kad_peer.py prints JSON")
    }

    async fn call(&mut self, command: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("write command");
        stdin.flush().await.expect("flush command");
        let reply = self.read().await;
        assert_eq!(reply["ok"], true, "{command} failed: {reply}");
        reply
    }

    async fn start_node(&mut self, bootstrap: &[SocketAddr]) -> PyNode {
        let addrs: Vec<Value> = bootstrap
            .iter()
            .map(|a| json!([a.ip().to_string(), a.port()]))
            .collect();
        let reply = self.call(json!({"op": "start", "bootstrap": addrs})).await;
        let port = reply["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("port");
        PyNode {
            index: reply["node"].as_u64().expect("node index"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            id: reply["id"].as_str().expect("id").to_owned(),
        }
    }

    /// (id hex, port) of each contact in a node's routing table.
    async fn contacts(&mut self, node: &PyNode) -> Vec<(String, u64)> {
        let reply = self
            .call(json!({"op": "contacts", "node": node.index}))
            .await;
        triples(&reply["contacts"])
    }

    /// Closes stdin so the script stops its nodes and exits; kills it if it lingers.
    async fn shutdown(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn triples(list: &Value) -> Vec<(String, u64)> {
    list.as_array()
        .expect("contact list")
        .iter()
        .map(|t| {
            (
                t[0].as_str().expect("id").to_owned(),
                t[2].as_u64().expect("port"),
            )
        })
        .collect()
}

fn id_hex(id: NodeId) -> String {
    id.to_string()
}

async fn start_ours(bootstrap: Vec<SocketAddr>) -> (Discovery, JoinHandle<()>, CancellationToken) {
    let config = DiscoveryConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        bootstrap,
        ..DiscoveryConfig::default()
    };
    let cancel = CancellationToken::new();
    let (node, task) = Discovery::start(config, cancel.clone())
        .await
        .expect("start discovery");
    (node, task, cancel)
}

async fn stop(task: JoinHandle<()>, cancel: CancellationToken) {
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("no panic");
}

/// Polls `has` until it holds or the deadline passes.
async fn wait_for_contact(node: &Discovery, what: &str, has: impl Fn(&[Contact]) -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let contacts = node.contacts();
        if has(&contacts) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never learned {what}: {contacts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn has_py(contacts: &[Contact], node: &PyNode) -> bool {
    contacts
        .iter()
        .any(|c| id_hex(c.id) == node.id && c.addr == node.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_node_bootstraps_from_python_and_learns_its_peers() {
    let mut py = PyKad::spawn().await;
    let p1 = py.start_node(&[]).await;
    let p2 = py.start_node(&[p1.addr]).await;
    let (ours, task, cancel) = start_ours(vec![p1.addr]).await;
    wait_for_contact(&ours, "the bootstrap node", |c| has_py(c, &p1)).await;
    wait_for_contact(&ours, "the bootstrap node's peer", |c| has_py(c, &p2)).await;
    // The Python nodes learned us from our requests (they insert callers at once).
    let ours_hex = id_hex(ours.id());
    let port = u64::from(ours.local_addr().port());
    assert!(py.contacts(&p1).await.contains(&(ours_hex.clone(), port)));
    // Our lookup through Python nodes finds a Python node by id.
    let target = NodeId::from_slice(&hex_bytes(&p2.id)).expect("20-byte id");
    let found = ours.lookup(target).await;
    assert_eq!(found.first().map(|c| c.addr), Some(p2.addr), "{found:?}");
    stop(task, cancel).await;
    py.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_nodes_bootstrap_from_ours_find_it_and_store_on_it() {
    let mut py = PyKad::spawn().await;
    let (ours, task, cancel) = start_ours(Vec::new()).await;
    let mut announced = ours.subscribe();
    let ours_entry = (id_hex(ours.id()), u64::from(ours.local_addr().port()));
    let p = py.start_node(&[ours.local_addr()]).await;
    assert!(
        py.contacts(&p).await.contains(&ours_entry),
        "Python node's table lacks us"
    );
    // We ping it back before it enters our table, then announce it to the peers module.
    let first = tokio::time::timeout(DEADLINE, announced.recv())
        .await
        .expect("announced in time");
    assert_eq!(first.expect("announcement"), p.addr);
    wait_for_contact(&ours, "the Python node", |c| has_py(c, &p)).await;

    // A second Python node finds the first through our find_node answers. (A Python lookup
    // of an id never returns the node holding it: its routing table skips exact matches.)
    let q = py.start_node(&[ours.local_addr()]).await;
    assert!(
        py.contacts(&q).await.contains(&ours_entry),
        "second Python node lacks us"
    );
    let lookup = py
        .call(json!({"op": "lookup", "node": q.index, "id": p.id}))
        .await;
    assert!(
        triples(&lookup["contacts"])
            .iter()
            .any(|(id, _)| *id == p.id),
        "{lookup}"
    );

    // The tutorial's set/get: the value lands on our node, which serves it back.
    let set = py
        .call(json!({"op": "set", "node": p.index, "key": "chapter", "value": "seven"}))
        .await;
    assert_eq!(set["stored"], true);
    let addr = json!(["127.0.0.1", ours.local_addr().port()]);
    let direct = py
        .call(json!({"op": "find_value", "node": q.index, "addr": addr, "key": "chapter"}))
        .await;
    assert_eq!(
        (direct["answered"].clone(), direct["value"].clone()),
        (json!(true), json!("seven"))
    );
    let got = py
        .call(json!({"op": "get", "node": q.index, "key": "chapter"}))
        .await;
    assert_eq!(got["value"], "seven");
    stop(task, cancel).await;
    py.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_nodes_find_each_other_through_a_bootstrap_node() {
    let (a, task_a, cancel_a) = start_ours(Vec::new()).await;
    let (b, task_b, cancel_b) = start_ours(vec![a.local_addr()]).await;
    wait_for_contact(&b, "a", |c| c.iter().any(|c| c.id == a.id())).await;
    let (c, task_c, cancel_c) = start_ours(vec![a.local_addr()]).await;
    wait_for_contact(&c, "b through a", |cs| cs.iter().any(|x| x.id == b.id())).await;
    wait_for_contact(&b, "c, which looked itself up through b", |cs| {
        cs.iter().any(|x| x.id == c.id())
    })
    .await;
    let found = a.lookup(c.id()).await;
    assert_eq!(found.first().map(|x| x.addr), Some(c.local_addr()));
    for (task, cancel) in [(task_a, cancel_a), (task_b, cancel_b), (task_c, cancel_c)] {
        stop(task, cancel).await;
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .filter_map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
