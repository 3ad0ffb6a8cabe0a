//! A third party's node binary, built outside the repository's workspace:
//! `examples/custom-node` is copied under the target directory (`custom-node-copy`, kept
//! between runs), its path dependencies pointed at this checkout, and built with cargo
//! (sharing this checkout's target directory, so node's crates are not compiled again). Its module, its mempool policy and its RPC method then work in a
//! running node, and its sync strategy syncs it from another node.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bin_output, repo_root, TestNode};

/// What `node check` of `profile` with the override `set` prints, asserting it failed.
fn refused_check(bin: &Path, profile: &Path, set: &str) -> String {
    let out = bin_output(
        bin,
        &[
            "--profile",
            &profile.display().to_string(),
            "--set",
            set,
            "check",
        ],
        &[],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    text
}

/// Copies `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The target directory this test binary was built in (`CARGO_TARGET_DIR` or
/// `target/`), found from the test executable's own path: `<target>/debug/deps/it-...`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(3)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The example, built once per test run (tests share it: two builds at once would write
/// the same binary): its copy's directory and its binary.
fn custom_node() -> &'static (PathBuf, PathBuf) {
    static BUILT: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        // Beside the build, outside every workspace (the copy declares its own): kept
        // between runs, so cargo rebuilds only what changed.
        let project = target_dir().join("custom-node-copy");
        let bin = build_custom_node(&project);
        (project, bin)
    })
}

/// Builds the example from a copy at `project`, outside the checkout's workspace, and
/// returns its binary.
fn build_custom_node(project: &Path) -> PathBuf {
    let root = repo_root();
    copy_dir(&root.join("examples/custom-node"), project);
    let manifest = project.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read manifest");
    let text = text
        .replace(
            "path = \"../../node/api\"",
            &format!("path = \"{}/node/api\"", root.display()),
        )
        .replace(
            "path = \"../../node/testkit\"",
            &format!("path = \"{}/node/testkit\"", root.display()),
        )
        .replace(
            "path = \"../..\"",
            &format!("path = \"{}\"", root.display()),
        );
    assert!(
        !text.contains("../"),
        "every path dependency points at the checkout:\n{text}"
    );
    std::fs::write(&manifest, text).expect("write manifest");
    // The checkout's lock file pins the versions node was tested with; the copy's own
    // package is added to it by the build.
    std::fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).expect("copy lock");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target = target_dir();
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "building the custom node failed: {status}"
    );
    // Its own tests, on node-testkit's in-process node.
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo test");
    assert!(status.success(), "the custom node's tests failed: {status}");
    target.join("debug/custom-node")
}

#[test]
fn a_node_built_outside_the_repository_runs_its_own_module_strategy_and_method() {
    let (project, bin) = custom_node();

    let listed = bin_output(bin, &["modules"], &[]);
    assert!(listed.status.success(), "{listed:?}");
    let listed = String::from_utf8_lossy(&listed.stdout);
    for name in [
        "tipstats",
        "maxoutputs",
        "one-peer",
        "chain",
        "mempool",
        "miner",
        "standard",
    ] {
        assert!(listed.contains(name), "`modules` lists {name}:\n{listed}");
    }

    // The strategy's setting is overridden like any other profile value: a payment and
    // its change are two outputs, one too many.
    let profile = project.join("custom.toml");
    let node = TestNode::start_bin(
        bin,
        &profile,
        &["mempool.maxoutputs.max_outputs=1".to_string()],
    );

    // The strategy was chosen with its own setting.
    let modules = node.rpc("listmodules", &[]);
    let mempool = modules
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "mempool"))
        .expect("mempool module running");
    assert_eq!(
        mempool["strategies"]["mempool policy"]["name"],
        "maxoutputs"
    );
    assert_eq!(
        mempool["strategies"]["mempool policy"]["config"]["max_outputs"],
        1
    );
    // It wraps the stock policy, built with its own (empty) settings.
    assert_eq!(
        mempool["strategies"]["mempool policy"]["wraps"],
        serde_json::json!([{ "name": "standard", "config": {} }]),
        "{mempool}"
    );

    // The module's method, fed by the chain's events.
    let stats = node.rpc("gettipstats", &[]);
    assert_eq!(stats["label"], "example");
    assert_eq!(stats["connected"], 0);
    let address = node.text("getnewaddress", &[]);
    let hashes = node.generate(101, &address);
    let stats = crate::common::wait_for(
        "tipstats to count 101 blocks",
        std::time::Duration::from_secs(30),
        || {
            let stats = node.rpc("gettipstats", &[]);
            (stats["connected"] == 101).then_some(stats)
        },
    );
    assert_eq!(stats["tip"]["hash"], hashes[100].as_str());
    assert_eq!(stats["tip"]["height"], 101);

    // The policy refuses the payment: two outputs (payment and change) over its limit.
    let other = node.text("getnewaddress", &[]);
    let failure = node.fail("sendtoaddress", &[&other, "1"]);
    assert!(
        failure.text.contains("too-many-outputs (2 > 1)"),
        "refused by the custom policy: {failure:?}"
    );

    // The wrapped policy is named like a chosen one: an unknown name lists the choices.
    let text = refused_check(bin, &profile, "mempool.maxoutputs.wraps=standrd");
    for needle in ["wraps", "standrd", "standard", "free", "maxoutputs"] {
        assert!(text.contains(needle), "{needle} in: {text}");
    }
}

#[test]
fn a_third_party_sync_strategy_syncs_a_node_from_another() {
    let (project, bin) = custom_node();
    let source = TestNode::start(&[]);
    let address = source.text("getnewaddress", &[]);
    // More than one batch of the follower's (32): it asks batch after batch.
    source.generate(70, &address);

    let follower = TestNode::start_bin(
        bin,
        &project.join("follower.toml"),
        &[
            format!("peers.connect=[\"{}\"]", source.p2p_addr()),
            "sync.one-peer.batch=16".to_string(),
        ],
    );
    // The profile chose the strategy, with its settings and the override.
    let modules = follower.rpc("listmodules", &[]);
    let sync = modules
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "sync"))
        .expect("sync module running");
    let strategy = &sync["strategies"]["sync strategy"];
    assert_eq!(strategy["name"], "one-peer", "{sync}");
    assert_eq!(strategy["config"]["batch"], 16, "{sync}");
    assert_eq!(strategy["config"]["interval_secs"], 1, "{sync}");

    let synced = |height: u64| {
        crate::common::wait_for(
            "the follower to reach the source's tip",
            std::time::Duration::from_secs(60),
            || (follower.height() == height && follower.tip() == source.tip()).then_some(()),
        )
    };
    synced(70);
    // New blocks follow.
    source.generate(5, &address);
    synced(75);

    // An unknown strategy name is refused with the registered ones listed.
    let text = refused_check(
        bin,
        &project.join("follower.toml"),
        "sync.strategy=one-peeer",
    );
    for name in ["one-peer", "headers-first", "poll"] {
        assert!(text.contains(name), "the choices are listed: {text}");
    }
}
