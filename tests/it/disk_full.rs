//! A full disk, on a real full file system: a node's data directory on a small tmpfs,
//! filled by a file until the kernel answers ENOSPC, and what `docs/src/operator/faults.md`
//! promises checked from outside: a write over RPC fails with "disk full" (never an I/O
//! error), the log says so, `node_chain_disk_full` and `/ready` report it, reads are
//! still served; once the file is removed the same block is accepted without a restart,
//! and a restart opens the chain it left.
//!
//! Mounting needs root (as the CI machine runs). Without it, or when the mount fails, the
//! test says so on stderr in capitals and passes without checking anything: a disk-full
//! test on a simulated error would check the simulation, not the node.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{modules_profile, wait_for, write_profile, TestNode};
use crate::fat_blocks::{submit, FatBlocks};
use crate::observability::http_get;

const DEADLINE: Duration = Duration::from_secs(30);
/// Room for the chain's first blocks, the cookie and the logs' neighbours; small enough
/// to fill in a moment.
const TMPFS_SIZE: &str = "16m";

/// A tmpfs mounted for the test, unmounted when dropped (on success and on panic alike).
struct Tmpfs {
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size`; `None`, with the reason on stderr, when this process may
    /// not (not root) or the mount fails.
    fn mount(size: &str) -> Option<Tmpfs> {
        let parent = tempfile::tempdir().expect("tempdir");
        let path = parent.path().join("mnt");
        std::fs::create_dir(&path).expect("mkdir");
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("SKIPPED: the disk-full test mounts a tmpfs and needs root; not checked");
            return None;
        }
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .expect("run mount");
        if !mounted.status.success() {
            eprintln!(
                "SKIPPED: mount -t tmpfs failed ({}); the disk-full test is not checked",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs {
            path,
            _parent: parent,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.path).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            // Still busy (a process not yet reaped): detached now, freed when it lets go.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Writes zeros into `path` until the file system refuses with ENOSPC.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("create the filler");
    let chunk = vec![0u8; 64 << 10];
    loop {
        match file.write_all(&chunk).and_then(|()| file.sync_all()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => return,
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
}

/// `/ready`'s status and its failing conditions.
fn ready(addr: &str) -> (u16, Vec<String>) {
    let (status, body) = http_get(addr, "/ready").expect("/ready answers");
    let body: serde_json::Value = serde_json::from_str(&body).expect("/ready answers JSON");
    let failing = body["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .filter_map(|f| f["condition"].as_str().map(str::to_string))
        .collect();
    (status, failing)
}

/// The value of `node_chain_disk_full` on `/metrics`.
fn disk_full_metric(addr: &str) -> String {
    let (_, body) = http_get(addr, "/metrics").expect("/metrics answers");
    body.lines()
        .find_map(|line| line.strip_prefix("node_chain_disk_full "))
        .unwrap_or_else(|| panic!("no node_chain_disk_full in:\n{body}"))
        .to_string()
}

fn start(profile: &Path, datadir: &Path) -> TestNode {
    TestNode::start_on_chain(
        profile,
        datadir,
        &[
            "health.listen=127.0.0.1:0".to_string(),
            "metrics.listen=127.0.0.1:0".to_string(),
        ],
    )
}

#[test]
fn a_full_disk_refuses_writes_by_name_keeps_reads_and_resumes_once_freed() {
    // Declared first, so dropped last: every node below is killed before the unmount.
    let Some(tmpfs) = Tmpfs::mount(TMPFS_SIZE) else {
        return;
    };
    let outside = tempfile::tempdir().expect("tempdir");
    // Alone on an old chain: only the disk may make `/ready` fail.
    let profile = write_profile(
        outside.path(),
        "node.toml",
        &modules_profile(
            &["chain", "mempool", "miner", "rpc", "health", "metrics"],
            "[miner]\nautostart = false\n\n\
             [health]\nmin_peers = 0\nmax_tip_age_secs = 100000000000\n",
        ),
    );
    // The mount itself: the node's log goes beside it (DATADIR.log), off the full disk.
    let datadir = tmpfs.path().to_path_buf();
    let mut node = start(&profile, &datadir);
    let monitoring = node.http_addr("health");
    let mut blocks = FatBlocks::on_genesis();
    for _ in 0..3 {
        submit(&node, &blocks.next(100_000)).expect("a block while there is room");
    }
    assert_eq!(ready(&monitoring), (200, vec![]));
    assert_eq!(disk_full_metric(&monitoring), "0");

    let filler = tmpfs.path().join("filler");
    fill(&filler);
    let refused = blocks.next(200_000);
    let error = submit(&node, &refused).expect_err("a block on a full disk");
    assert!(error.contains("disk full"), "{error}");
    assert!(
        !error.contains("I/O error") && !error.contains("Input/output"),
        "{error}"
    );
    assert!(
        node.process.log().contains("disk full"),
        "{}",
        node.process.log()
    );
    assert_eq!(ready(&monitoring), (503, vec!["disk_full".to_string()]));
    assert_eq!(disk_full_metric(&monitoring), "1");
    // Reads go on: the tip, a block by hash.
    assert_eq!(node.height(), 3);
    let tip = node.tip();
    assert_eq!(node.rpc("getblock", &[&tip])["height"], 3);

    // Space freed: the same block is accepted, and the node is ready again.
    std::fs::remove_file(&filler).expect("remove the filler");
    submit(&node, &refused).expect("the block once space is freed");
    assert_eq!(node.height(), 4);
    assert_eq!(disk_full_metric(&monitoring), "0");
    assert_eq!(ready(&monitoring), (200, vec![]));

    // A restart opens the chain it left.
    let tip = node.tip();
    node.process.signal("TERM");
    assert!(node.process.wait_exit(DEADLINE).success());
    drop(node);
    let node = start(&profile, &datadir);
    wait_for("the restarted node's tip", DEADLINE, || {
        (node.height() == 4).then_some(())
    });
    assert_eq!(node.tip(), tip);
}
