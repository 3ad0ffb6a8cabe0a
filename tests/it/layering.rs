//! Modules meet through the API crate: no crate under `modules/` or `plugins/` depends
//! on a crate under `modules/` (normal, dev or build dependency); `node-api` stands on
//! the formats, the wire format and the kernel only (no LMDB, no rayon), and only the
//! chain module depends on the chain state. Read from `cargo metadata`, the same graph
//! `cargo tree` prints.

use std::process::Command;

use crate::common::repo_root;

#[test]
fn no_module_or_plugin_depends_on_another_module() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let root = repo_root();
    let modules_dir = root.join("modules");
    let plugins_dir = root.join("plugins");

    let mut checked = 0;
    let mut violations = Vec::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let manifest = std::path::PathBuf::from(package["manifest_path"].as_str().expect("path"));
        if !(manifest.starts_with(&modules_dir) || manifest.starts_with(&plugins_dir)) {
            continue;
        }
        checked += 1;
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let Some(path) = dep["path"].as_str() else {
                continue;
            };
            if std::path::Path::new(path).starts_with(&modules_dir) {
                violations.push(format!("{} -> {}", package["name"], dep["name"]));
            }
        }
    }
    assert!(
        checked >= 10,
        "found the module and plugin crates ({checked})"
    );
    assert!(
        violations.is_empty(),
        "modules depend on node-api, not on each other: {violations:?}"
    );
}

/// `cargo metadata` of the workspace's own packages, parsed.
fn workspace_metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// The names of every package `name` depends on, directly or not, through normal
/// dependencies on this platform: `cargo tree -p NAME -e normal`.
fn normal_closure(name: &str) -> std::collections::BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            name,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The contracts crate stands on the formats, the wire format and the kernel only: the
/// chain state (LMDB through heed, the rayon pools) is the chain module's, so a plugin
/// built on `node-api` compiles neither.
#[test]
fn the_api_depends_on_primitives_p2p_and_kernel_only() {
    let closure = normal_closure("node-api");
    let ours: Vec<&String> = closure.iter().filter(|n| n.starts_with("node-")).collect();
    assert_eq!(
        ours,
        ["node-chain", "node-kernel", "node-p2p"],
        "node-api's own dependencies"
    );
    for storage in ["heed", "lmdb-master-sys", "rayon", "node-chain-state"] {
        assert!(
            !closure.contains(storage),
            "node-api must not depend on {storage}: {closure:?}"
        );
    }
    // The formats crate itself has no storage either.
    let primitives = normal_closure("node-chain");
    assert!(
        !primitives.contains("heed") && !primitives.contains("rayon"),
        "node-chain is formats and rules only: {primitives:?}"
    );
}

/// Only the chain module opens the chain state; other modules and plugins reach it
/// through the `chain` service, and may build one in their tests (dev-dependency).
#[test]
fn only_the_chain_module_depends_on_the_chain_state() {
    let metadata = workspace_metadata();
    let root = repo_root();
    let mut violations = Vec::new();
    let mut checked = 0;
    for package in metadata["packages"].as_array().expect("packages") {
        let manifest = std::path::PathBuf::from(package["manifest_path"].as_str().expect("path"));
        if !(manifest.starts_with(root.join("modules"))
            || manifest.starts_with(root.join("plugins")))
        {
            continue;
        }
        checked += 1;
        if package["name"] == "node-chain-module" {
            continue;
        }
        for dep in package["dependencies"].as_array().expect("dependencies") {
            if dep["name"] == "node-chain-state" && dep["kind"].is_null() {
                violations.push(package["name"].to_string());
            }
        }
    }
    assert!(
        checked >= 10,
        "found the module and plugin crates ({checked})"
    );
    assert!(
        violations.is_empty(),
        "only the chain module depends on node-chain-state: {violations:?}"
    );
}
