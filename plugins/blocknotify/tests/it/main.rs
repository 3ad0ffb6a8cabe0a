//! blocknotify in a running node: each new tip runs the command with its hash, in order.
//!
//! The node runs in-process (`node-testkit`'s `TestNode`: the kernel's `plan` and `run`
//! with the real chain module), so the test needs neither the `node` binary nor the
//! network; it mines through the kit, which hands blocks to `ChainWriter`.

use std::path::Path;
use std::time::Duration;

use node_kernel::{plan, Profile, ProfileSource};
use node_testkit::{TestNode, DEADLINE};

// Nothing here names the plugin: this keeps it linked, and its registration with it.
use node_blocknotify as _;

fn profile(dir: &Path, blocknotify: &str) -> Result<node_kernel::Plan, String> {
    let path = dir.join("profile.toml");
    // blocknotify is listed first: its need of `chain` must still start the chain first.
    let text = format!(
        "[node]\nmodules = [\"blocknotify\", \"chain\"]\nchain = \"regtest\"\n\n[blocknotify]\n{blocknotify}\n"
    );
    std::fs::write(&path, text).unwrap();
    let profile = Profile::load(&ProfileSource::File(path), [], &[], Some(dir.join("data")))
        .map_err(|e| e.to_string())?;
    plan(profile).map_err(|e| e.to_string())
}

/// The lines of `file` once it holds `count` of them, or what it held at the deadline.
async fn lines_once(file: &Path, count: usize) -> Vec<String> {
    let read = || -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while read().len() < count && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    read()
}

#[tokio::test]
async fn each_new_tip_runs_the_command_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let tips = dir.path().join("tips");
    // blocknotify's need of the chain stream must still start the chain first.
    let plan = profile(
        dir.path(),
        &format!("command = \"echo %s >> '{}'\"", tips.display()),
    )
    .unwrap();
    let order: Vec<&str> = plan.modules.iter().map(|m| m.factory.name).collect();
    assert_eq!(order, ["chain", "blocknotify"]);

    let node = TestNode::builder()
        .module("blocknotify")
        .profile(&format!(
            "[blocknotify]\ncommand = \"echo %s >> '{}'\"",
            tips.display()
        ))
        .start()
        .await
        .unwrap();
    let blocks = node.mine(2).await.unwrap();
    let hashes: Vec<String> = blocks.iter().map(|b| b.header.hash().to_string()).collect();
    assert_eq!(node.chain().tip().hash.to_string(), hashes[1]);
    assert_eq!(lines_once(&tips, 2).await, hashes);
    node.stop().await.unwrap();
}

#[test]
fn a_profile_without_a_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = profile(dir.path(), "timeout_secs = 5").err().unwrap();
    assert!(
        error.contains("[blocknotify]") && error.contains("command"),
        "{error}"
    );
    let error = profile(dir.path(), "comand = \"true\"").err().unwrap();
    assert!(error.contains("comand"), "{error}");
}
