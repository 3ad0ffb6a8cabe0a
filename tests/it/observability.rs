//! The observability plugins in real nodes: a real Prometheus server (Debian's
//! `prometheus`, which scripts/test.sh installs) scrapes two connected nodes' `/metrics`
//! and agrees with their RPC; the shipped alert rules load; `/ready` follows a node's
//! sync and its peer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{modules_profile, repo_root, wait_for, TestNode};

/// Generous: Prometheus and two debug nodes share two loaded cores.
const DEADLINE: Duration = Duration::from_secs(120);

/// A blocking HTTP/1.1 GET: the status and the body.
pub(crate) fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The body of a response that may be chunked (Prometheus chunks its API answers).
fn dechunk(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus server on a free port, scraping `targets` every second with the shipped
/// alert rules loaded; killed when dropped.
struct Prometheus {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(targets: &[String]) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = repo_root().join("observability/prometheus/alerts.yml");
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - '{}'\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{}]\n",
            rules.display(),
            list.join(", ")
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", prometheus_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus (scripts/test.sh installs Debian's package)");
        let prometheus = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        wait_for("Prometheus to be ready", DEADLINE, || {
            http_get(&prometheus.addr, "/-/ready").filter(|(status, _)| *status == 200)
        });
        prometheus
    }

    /// An instant query's result vector.
    fn query(&self, expr: &str) -> Vec<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let Some((200, body)) = http_get(&self.addr, &path) else {
            return Vec::new();
        };
        let answer: Value = serde_json::from_str(&dechunk(&body)).unwrap_or(Value::Null);
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The value of `expr` for one scrape target.
    fn value(&self, expr: &str, instance: &str) -> Option<f64> {
        self.query(expr)
            .iter()
            .find(|r| r["metric"]["instance"] == instance)
            .and_then(|r| r["value"][1].as_str()?.parse().ok())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The full set of modules of a wallet node that relays, plus `extra`.
fn node_with(extra: &[&str], tables: &str, sets: &[String]) -> TestNode {
    let mut modules = vec![
        "chain", "mempool", "wallet", "miner", "peers", "sync", "relay", "rpc",
    ];
    modules.extend_from_slice(extra);
    let text = modules_profile(
        &modules,
        &format!("[chain]\naddress_index = true\n\n[miner]\nautostart = false\n\n{tables}"),
    );
    TestNode::start_text(&text, sets)
}

/// Sum of a `getpeerinfo` per-command byte count over every peer.
fn peer_bytes(node: &TestNode, field: &str, command: &str) -> f64 {
    node.peer_info()
        .iter()
        .map(|p| p[field][command].as_f64().unwrap_or(0.0))
        .sum()
}

#[test]
fn shipped_alert_rules_pass_promtool() {
    let rules = repo_root().join("observability/prometheus/alerts.yml");
    let out = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("run promtool (scripts/test.sh installs Debian's prometheus package)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 5 rules found"), "{text}");
}

#[test]
fn shipped_dashboard_covers_every_area() {
    let path = repo_root().join("observability/grafana/node.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let text = dashboard.to_string();
    for metric in [
        "node_chain_height",
        "node_p2p_bytes_total",
        "node_mempool_transactions",
        "node_relay_first_seen_to_announced_seconds_bucket",
        "node_rpc_requests_total",
        "node_miner_hashes_total",
    ] {
        assert!(text.contains(metric), "the dashboard shows {metric}");
    }
}

#[test]
fn prometheus_scrapes_two_nodes_and_agrees_with_rpc() {
    // A dials nobody, so each node has exactly one connection, B's to A.
    let mut a = node_with(
        &["metrics"],
        "",
        &[
            "metrics.listen=127.0.0.1:0".to_string(),
            "peers.max_outbound=0".to_string(),
        ],
    );
    let metrics_a = a.http_addr("metrics");
    let mut b = node_with(
        &["metrics"],
        "",
        &[
            "metrics.listen=127.0.0.1:0".to_string(),
            format!("peers.connect=[\"{}\"]", a.p2p_addr()),
        ],
    );
    let metrics_b = b.http_addr("metrics");
    wait_for("the nodes to connect", DEADLINE, || {
        (!b.peer_info().is_empty()).then_some(())
    });
    let prometheus = Prometheus::start(&[metrics_a.clone(), metrics_b.clone()]);

    // Mature one coinbase, then a payment from A to B that both mempools hold.
    let from = a.text("getnewaddress", &[]);
    a.generate(101, &from);
    wait_for("B to sync", DEADLINE, || (b.height() == 101).then_some(()));
    let to = b.text("getnewaddress", &[]);
    a.text("sendtoaddress", &[&to, "1"]);
    wait_for("the payment in both mempools", DEADLINE, || {
        (a.rpc("getmempoolinfo", &[])["size"] == 1 && b.rpc("getmempoolinfo", &[])["size"] == 1)
            .then_some(())
    });

    for (node, instance) in [(&a, &metrics_a), (&b, &metrics_b)] {
        let height = node.height() as f64;
        wait_for("node_chain_height to match getblockcount", DEADLINE, || {
            (prometheus.value("node_chain_height", instance) == Some(height)).then_some(())
        });
        let pooled = node.rpc("getmempoolinfo", &[])["size"]
            .as_f64()
            .expect("size");
        wait_for(
            "node_mempool_transactions to match getmempoolinfo",
            DEADLINE,
            || {
                (prometheus.value("node_mempool_transactions", instance) == Some(pooled))
                    .then_some(())
            },
        );
        let rate = wait_for("a P2P byte rate", DEADLINE, || {
            prometheus
                .value(
                    "sum by (instance) (rate(node_p2p_bytes_total[1m]))",
                    instance,
                )
                .filter(|rate| *rate > 0.0)
        });
        assert!(rate.is_finite(), "{rate}");
    }

    // No block has moved since the sync, so block bytes agree exactly with getpeerinfo's
    // per-command counts (every connection of each node is still open).
    for (node, instance, direction, field) in [
        (&b, &metrics_b, "received", "bytesrecv_per_msg"),
        (&a, &metrics_a, "sent", "bytessent_per_msg"),
    ] {
        let expected = peer_bytes(node, field, "block");
        assert!(expected > 101.0 * 80.0, "{direction}: {expected}");
        let expr = format!(
            "sum by (instance) (node_p2p_bytes_total{{direction=\"{direction}\",command=\"block\"}})"
        );
        wait_for("block bytes to match getpeerinfo", DEADLINE, || {
            (prometheus.value(&expr, instance) == Some(expected)).then_some(())
        });
    }

    // The shipped rules are loaded and evaluated by this Prometheus.
    let (status, body) = http_get(&prometheus.addr, "/api/v1/rules").expect("rules");
    assert_eq!(status, 200);
    let rules: Value = serde_json::from_str(&dechunk(&body)).expect("rules JSON");
    let names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "NodeDown",
            "NodeNotReady",
            "NodeNoPeers",
            "NodeTipStale",
            "NodeDeepReorg"
        ]
    );
    // Both targets are up, and the build info names each node's modules.
    for instance in [&metrics_a, &metrics_b] {
        assert_eq!(prometheus.value("up", instance), Some(1.0));
        let info = prometheus.query("node_build_info");
        let labels = &info
            .iter()
            .find(|r| r["metric"]["instance"] == **instance)
            .expect("build info")["metric"];
        assert_eq!(labels["chain"], "regtest");
        assert!(labels["modules"].as_str().unwrap().contains("metrics"));
    }
}

/// `/ready` as (status, names of the failing conditions).
fn ready(addr: &str) -> Option<(u16, Vec<String>)> {
    let (status, body) = http_get(addr, "/ready")?;
    let body: Value = serde_json::from_str(&body).ok()?;
    let failing = body["failing"]
        .as_array()?
        .iter()
        .filter_map(|f| f["condition"].as_str().map(str::to_string))
        .collect();
    Some((status, failing))
}

#[test]
fn ready_follows_sync_and_the_only_peer() {
    let a = node_with(&[], "", &[]);
    let from = a.text("getnewaddress", &[]);
    a.generate(20, &from);

    // B: health and metrics on one shared address, one peer required.
    let text = modules_profile(
        &["chain", "peers", "sync", "rpc", "health", "metrics"],
        "[health]\nmin_peers = 1\nmax_blocks_behind = 0\nmax_tip_age_secs = 3600\n",
    );
    // Both given port 0: one listener, on a port the system picks, serves both.
    let mut b = TestNode::start_text(
        &text,
        &[
            "health.listen=127.0.0.1:0".to_string(),
            "metrics.listen=127.0.0.1:0".to_string(),
        ],
    );
    let monitoring = b.http_addr("health");
    let (status, failing) = ready(&monitoring).expect("/ready answers");
    assert_eq!(status, 503);
    // Alone on the regtest genesis block (from 2011): no peer, and a stale tip.
    assert_eq!(failing, ["tip_age", "peers"]);
    let (status, body) = http_get(&monitoring, "/healthy").expect("/healthy answers");
    assert_eq!((status, body.trim()), (200, r#"{"healthy":true}"#));
    // The shared listener serves the metrics plugin's route too.
    let (status, body) = http_get(&monitoring, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    assert!(body.contains("node_chain_height 0"), "{body}");

    b.text("addnode", &[&a.p2p_addr(), "onetry"]);
    wait_for("/ready to answer 200 once synced", DEADLINE, || {
        ready(&monitoring).filter(|(status, _)| *status == 200)
    });
    assert_eq!(b.height(), 20);

    drop(a);
    let (_, failing) = wait_for("/ready to answer 503 without the peer", DEADLINE, || {
        ready(&monitoring).filter(|(status, _)| *status == 503)
    });
    assert_eq!(failing, ["peers"]);
    let metrics = wait_for("node_ready to follow", DEADLINE, || {
        http_get(&monitoring, "/metrics")
            .map(|(_, body)| body)
            .filter(|body| body.contains("node_ready 0"))
    });
    assert!(
        metrics.contains("node_ready_failing{condition=\"peers\"} 1"),
        "{metrics}"
    );
}

/// A free port for Prometheus, which cannot report a port it picked itself: bound and
/// released, then given to it (nodes bind port 0 instead).
fn prometheus_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
