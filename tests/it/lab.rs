//! The network lab's smoke tests: `node lab` starts ten real nodes, plays a few blocks
//! and transactions, and its report says every node got every object and nobody was
//! banned. Once on loopback, and once in network namespaces with shaped links when this
//! process may make them (root), with a partition (which only namespaces allow) and a
//! late joiner.

use std::path::Path;

use serde_json::Value;

use crate::common::{node_output, write_profile};

const SMOKE: &str = r#"
nodes = 10
seed = 7
deadline_secs = 240

[[step]]
kind = "blocks"
count = 3
interval_ms = 100

[[step]]
kind = "txs"
count = 10
interval_ms = 20

[[step]]
kind = "burst"
count = 20
"#;

const NAMESPACED: &str = r#"
[link]
rate_mbit = 20

[[step]]
kind = "partition_heal"
blocks = 2
apart_secs = 1

[[step]]
kind = "join"
out = 3
"#;

/// Runs `node lab` on a scenario and returns its report.
fn lab(dir: &Path, scenario: &str, extra: &[&str]) -> Value {
    let file = write_profile(dir, "scenario.toml", scenario);
    let out = dir.join("report");
    let mut args = vec![
        "lab",
        "--scenario",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = node_output(&args, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node lab failed:\n{stderr}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("<svg"), "the page plots arrivals");
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

/// Every object of every step reached every node, and no node banned another.
fn assert_everything_arrived(report: &Value) {
    let run = &report["runs"][0];
    assert_eq!(
        run["connections_made"], run["connections_expected"],
        "{run:#}"
    );
    for step in run["steps"].as_array().unwrap() {
        let label = step["label"].as_str().unwrap();
        for (kind, spread) in step["spread"].as_object().unwrap() {
            assert_eq!(
                spread["reached"], 1.0,
                "{label}: every {kind} reached every node"
            );
        }
        assert_eq!(step["bans"], 0, "{label}: honest nodes ban nobody");
    }
}

#[test]
fn a_lab_of_ten_nodes_on_loopback_gets_every_object_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let report = lab(
        dir.path(),
        SMOKE,
        &[
            "--loopback",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ],
    );
    assert_eq!(report["mode"], "loopback");
    assert_everything_arrived(&report);
    let steps = report["runs"][0]["steps"].as_array().unwrap();
    let txs = steps.iter().find(|s| s["kind"] == "txs").unwrap();
    assert_eq!(txs["objects"].as_array().unwrap().len(), 10);
    assert!(
        txs["upload_bytes_per_node"].as_f64().unwrap() > 0.0,
        "bytes counted"
    );
    assert!(
        txs["cpu_ms_per_node"].as_f64().unwrap() > 0.0,
        "CPU counted"
    );
    assert!(
        !dir.path().join("data").exists(),
        "the lab removes its data directories"
    );
}

#[test]
fn a_lab_in_network_namespaces_survives_a_partition_and_a_late_joiner() {
    let may = std::process::Command::new("ip")
        .args(["netns", "add", "nlab-test-probe"])
        .status()
        .is_ok_and(|s| s.success());
    if !may {
        eprintln!("skipped: this process may not make network namespaces (not root)");
        return;
    }
    let _ = std::process::Command::new("ip")
        .args(["netns", "delete", "nlab-test-probe"])
        .status();
    let dir = tempfile::tempdir().unwrap();
    let scenario = format!(
        "{}{NAMESPACED}",
        SMOKE.replace("[[step]]\nkind = \"burst\"\ncount = 20\n", "")
    );
    let report = lab(dir.path(), &scenario, &[]);
    assert_eq!(report["mode"], "namespaces");
    assert_everything_arrived(&report);
    let steps = report["runs"][0]["steps"].as_array().unwrap();
    let heal = steps
        .iter()
        .find(|s| s["kind"] == "partition_heal")
        .unwrap();
    assert_eq!(heal["extra"]["side_b_on_its_tip"], true);
    assert!(
        heal["extra"]["heal_to_one_tip_secs"].is_number(),
        "{heal:#}"
    );
    let join = steps.iter().find(|s| s["kind"] == "join").unwrap();
    assert!(join["extra"]["join_synced_secs"].is_number(), "{join:#}");
    // Nothing is left behind: no namespace of this lab remains.
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&namespaces.stdout).to_string();
    assert!(
        !left.lines().any(|l| l.starts_with("nlab")),
        "namespaces left: {left}"
    );
}
