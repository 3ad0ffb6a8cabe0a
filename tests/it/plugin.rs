//! The blocknotify plugin in a real node: named in the profile, it runs its command with
//! each new tip's hash.

use std::time::Duration;

use crate::common::{wait_for, TestNode};

#[test]
fn blocknotify_runs_its_command_for_every_new_tip() {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let file = out_dir.path().join("tips.txt");
    let node = TestNode::start_wallet(
        &["blocknotify"],
        &format!(
            "[blocknotify]\ncommand = \"echo %s >> {}\"\n",
            file.display()
        ),
        &[],
    );
    let address = node.text("getnewaddress", &[]);
    let hashes = node.generate(3, &address);
    let lines = wait_for("three notifications", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&file).ok()?;
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        (lines.len() >= 3).then_some(lines)
    });
    assert_eq!(lines, hashes, "one line per tip, in tip order");
}
