//! `node import`: a stopped node's chain copied into a fresh data directory by accepting
//! every block again.

use std::time::Duration;

use crate::common::{node_output, repo_root, TestNode};

#[test]
fn import_from_another_data_directory_reaches_the_same_tip() {
    let source = TestNode::start(&[]);
    let address = source.text("getnewaddress", &[]);
    source.generate(30, &address);
    let tip = source.tip();
    let source_dir = source.datadir().to_path_buf();
    let mut source = source;
    source.text("stop", &[]);
    assert!(source.process.wait_exit(Duration::from_secs(20)).success());

    let target = tempfile::tempdir().unwrap();
    let profile = repo_root().join("configs/regtest.toml");
    let args = [
        "import",
        "--profile",
        profile.to_str().unwrap(),
        "--datadir",
        target.path().to_str().unwrap(),
        "--from-datadir",
        source_dir.to_str().unwrap(),
    ];
    let out = node_output(&args, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 30 blocks"), "{stdout}");
    // Again: everything is already stored.
    let out = node_output(&args, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 0 blocks (30 already stored)"));

    let imported = TestNode::start_in(target.path(), &[]);
    assert_eq!(imported.tip(), tip);
}
