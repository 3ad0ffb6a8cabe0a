//! Modules meet through the API crate: no crate under `modules/` or `plugins/` depends
//! on a crate under `modules/` (normal, dev or build dependency). Read from
//! `cargo metadata`, the same graph `cargo tree` prints.

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
