//! The book's reference pages cannot drift from the code: each is made again here, from
//! the command line (`node reference config`, `node reference cli`) or from a running
//! node (its `help` answers, the series its `/metrics` exports), and compared with the
//! page checked in under `docs/src/reference/`. `BLESS=1 cargo test --test it reference`
//! rewrites the pages instead. The modules chapter's copy of `node modules` is checked too.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{modules_profile, node_output, repo_root, wait_for, TestNode};

/// Compares a generated page with the checked-in one, or writes it under `BLESS=1`.
fn check_page(name: &str, generated: &str) {
    let path = repo_root().join("docs/src/reference").join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, generated).expect("write the reference page");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                checked_in.lines().count().min(generated.lines().count()),
                |n| n,
            )
            + 1;
        panic!(
            "docs/src/reference/{name} is stale (first difference at line {line}); \
             rewrite it with `BLESS=1 cargo test --test it reference`\n\
             checked in: {:?}\ngenerated:  {:?}",
            checked_in.lines().nth(line - 1),
            generated.lines().nth(line - 1)
        );
    }
}

fn command_page(page: &str) -> String {
    let out = node_output(&["reference", page], &[]);
    assert!(
        out.status.success(),
        "node reference {page}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_configuration_reference_is_current() {
    let page = command_page("config");
    // Every registered module has its table in the page.
    for module in [
        "chain", "mempool", "miner", "peers", "rpc", "wallet", "metrics",
    ] {
        assert!(page.contains(&format!("## `[{module}]`")), "{module}");
    }
    check_page("config.md", &page);
}

#[test]
fn the_command_line_reference_is_current() {
    let page = command_page("cli");
    assert!(page.contains("`--set <KEY=VALUE>`"), "{page}");
    check_page("cli.md", &page);
}

/// Every module and plugin that registers RPC methods.
const RPC_MODULES: &[&str] = &[
    "chain", "mempool", "wallet", "miner", "peers", "sync", "relay", "rpc", "zmq",
];

#[test]
fn the_rpc_reference_is_current() {
    // The zmq plugin needs one endpoint; a port the system just had free.
    let zmq_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let node = TestNode::start_text(
        &modules_profile(
            RPC_MODULES,
            &format!(
                "[chain]\naddress_index = true\n\n[miner]\nautostart = false\n\n\
                 [zmq]\npubhashblock = \"tcp://127.0.0.1:{zmq_port}\"\n"
            ),
        ),
        &[],
    );
    let rpc_addr = format!("127.0.0.1:{}", node.rpc_port);
    let listing = node.text("help", &[]);
    let mut page = String::from(
        "# RPC reference\n\n\
         Every JSON-RPC method of a node that runs every built-in module with methods, \
         grouped by module, as `node rpc help` and `node rpc help METHOD` answer (generated \
         from a running node; do not edit: `cargo test --test it reference` fails when \
         this page is stale). The examples name the regtest RPC address.\n",
    );
    let mut methods = 0;
    for line in listing.lines() {
        let line = line.trim();
        if let Some(group) = line.strip_prefix("== ").and_then(|l| l.strip_suffix(" ==")) {
            page.push_str(&format!("\n## {group}\n"));
            continue;
        }
        let Some(method) = line.split_whitespace().next() else {
            continue;
        };
        let help = node
            .text("help", &[method])
            .replace(&rpc_addr, "127.0.0.1:18443");
        page.push_str(&format!("\n### {method}\n\n```text\n{help}\n```\n"));
        methods += 1;
    }
    assert!(methods > 60, "{listing}");
    check_page("rpc.md", &page);
}

/// A blocking HTTP/1.1 GET of a body.
fn http_get(addr: &str, path: &str) -> Option<String> {
    crate::observability::http_get(addr, path).map(|(_, body)| body)
}

/// One exported series family: its type, help and label names.
#[derive(Default)]
struct Family {
    kind: String,
    help: String,
    labels: Vec<String>,
}

/// The families of a Prometheus text exposition, by name.
fn families(text: &str) -> BTreeMap<String, Family> {
    let mut all: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            all.entry(name.to_string()).or_default().help = help.to_string();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            all.entry(name.to_string()).or_default().kind = kind.to_string();
        }
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels)) = line.split_once('{') else {
            continue;
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| all.get(*base).is_some_and(|f| f.kind == "histogram"))
            })
            .unwrap_or(name);
        let Some(entry) = all.get_mut(family) else {
            continue;
        };
        for pair in labels.split("\",") {
            let key = pair.split('=').next().unwrap_or("").trim();
            if !key.is_empty() && key != "le" && !entry.labels.iter().any(|l| l == key) {
                entry.labels.push(key.to_string());
            }
        }
    }
    for family in all.values_mut() {
        family.labels.sort();
    }
    all
}

#[test]
fn the_metrics_reference_is_current() {
    let mut node = TestNode::start_text(
        &modules_profile(
            &[
                "chain",
                "mempool",
                "wallet",
                "miner",
                "peers",
                "discovery",
                "sync",
                "relay",
                "rpc",
                "metrics",
                "health",
            ],
            "[chain]\naddress_index = true\n\n[miner]\nautostart = false\n",
        ),
        &[
            "metrics.listen=127.0.0.1:0".to_string(),
            "health.listen=127.0.0.1:0".to_string(),
        ],
    );
    // A mined block and an RPC call: every module has then recorded what it records.
    let address = node.text("getnewaddress", &[]);
    node.generate(1, &address);
    let metrics = node.http_addr("metrics");
    let wanted = ["node_rpc_requests_total", "node_miner_hashes_total"];
    let text = wait_for("every module's series", Duration::from_secs(60), || {
        http_get(&metrics, "/metrics").filter(|t| wanted.iter().all(|w| t.contains(w)))
    });
    let mut page = String::from(
        "# Metrics reference\n\n\
         Every series a node running every built-in module and the `metrics` and `health` \
         plugins exports at `/metrics`, with its type and label names, from a running node's \
         answer (do not edit: `cargo test --test it reference` fails when this page is stale). \
         Label values never come from a peer: see [Monitoring](../operator/monitoring.md).\n\n\
         | series | type | labels | description |\n|---|---|---|---|\n",
    );
    let all = families(&text);
    assert!(all.len() > 25, "{text}");
    for (name, family) in &all {
        page.push_str(&format!(
            "| `{name}` | {} | {} | {} |\n",
            family.kind,
            family
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", "),
            family.help.replace('|', "\\|")
        ));
    }
    check_page("metrics.md", &page);
}

#[test]
fn the_modules_chapter_shows_what_node_modules_prints() {
    let out = node_output(&["modules"], &[]);
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).expect("utf-8");
    let chapter = std::fs::read_to_string(repo_root().join("docs/src/user/modules.md"))
        .expect("the modules chapter");
    assert!(
        chapter.contains(&format!("```text\n{listing}```")),
        "docs/src/user/modules.md does not show what `node modules` prints now:\n{listing}"
    );
}
