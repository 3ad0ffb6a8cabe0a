//! A damaged data directory, played from outside on real files: a `data.mdb` cut to
//! half, and 64 KiB of garbage written at 8 places of it after the node was killed, are
//! either opened cleanly or refused with one error naming the file and the recovery, by
//! `node` and by `node check-datadir`; never a crash (the full walk after an unclean stop
//! runs in a child process, and a crash there is reported as corruption).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use crate::common::{modules_profile, node_output, wait_for, write_profile, NodeProcess, TestNode};

const DEADLINE: Duration = Duration::from_secs(60);

fn profile_text() -> String {
    modules_profile(
        &["chain", "mempool", "wallet", "miner", "rpc"],
        "[chain]\naddress_index = true\n\n[miner]\nautostart = false\n",
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// How a start on `datadir` ended: `None` when the node ran (then stopped cleanly), or
/// its exit status and log.
fn start(profile: &Path, datadir: &Path) -> Option<(ExitStatus, String)> {
    let mut process = NodeProcess::start_bin(
        &crate::common::node_bin(),
        profile,
        datadir,
        &[
            "--set",
            "rpc.listen=127.0.0.1:0",
            "--set",
            "node.chain=regtest",
        ],
        &[],
    );
    let ended = wait_for("the node to run or exit", DEADLINE, || {
        if let Some(status) = process.try_exit() {
            return Some(Some(status));
        }
        process.log().contains("node running").then_some(None)
    });
    match ended {
        Some(status) => Some((status, process.log())),
        None => {
            process.signal("TERM");
            let status = process.wait_exit(DEADLINE);
            assert!(status.success(), "{status:?}:\n{}", process.log());
            None
        }
    }
}

fn check_datadir(profile: &Path, datadir: &Path) -> (ExitStatus, String) {
    let out = node_output(
        &[
            "--profile",
            profile.to_str().expect("utf-8"),
            "--datadir",
            datadir.to_str().expect("utf-8"),
            "check-datadir",
        ],
        &[],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// A refusal as the operator must see it: one error naming the file and what to do.
fn assert_clean_refusal(status: ExitStatus, text: &str, case: &str) {
    assert_eq!(status.signal(), None, "{case}: killed by a signal:\n{text}");
    assert_eq!(status.code(), Some(1), "{case}:\n{text}");
    assert!(
        text.contains("data.mdb") && text.contains("fresh one"),
        "{case}: the error names neither the file nor the recovery:\n{text}"
    );
}

#[test]
fn a_damaged_chain_state_is_refused_by_name_never_a_crash() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let address = node.text("getnewaddress", &[]);
    node.generate(300, &address);
    // Killed: the next start is after an unclean stop, and walks every record.
    node.process.signal("KILL");
    let work = tempfile::tempdir().expect("tempdir");
    let profile = write_profile(work.path(), "node.toml", &profile_text());
    let original = work.path().join("original");
    copy_dir(node.datadir(), &original);
    drop(node);
    assert!(
        original.join("chain/running").exists(),
        "the marker of a running node"
    );

    // The killed directory is sound: the walk runs, and the node starts.
    let sound = work.path().join("sound");
    copy_dir(&original, &sound);
    let (status, text) = check_datadir(&profile, &sound);
    assert!(status.success(), "{text}");
    assert!(text.contains("records"), "{text}");
    assert_eq!(start(&profile, &sound), None);

    // Cut to half: refused before LMDB maps it (it died of SIGBUS).
    let cut = work.path().join("cut");
    copy_dir(&original, &cut);
    let data = cut.join("chain/data.mdb");
    let len = std::fs::metadata(&data).expect("data.mdb").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    let (status, log) = start(&profile, &cut).expect("refused");
    assert_clean_refusal(status, &log, "truncated");
    assert!(log.contains("truncated"), "{log}");
    let (status, text) = check_datadir(&profile, &cut);
    assert_clean_refusal(status, &text, "truncated, check-datadir");

    // 64 KiB of garbage at 8 places: each copy opens cleanly or is refused cleanly.
    let mut refused = 0;
    for place in 0..8u64 {
        let case = format!("garbage at {place}/8 of {len} bytes");
        let dir = work.path().join(format!("garbage{place}"));
        copy_dir(&original, &dir);
        let data = dir.join("chain/data.mdb");
        let mut bytes = std::fs::read(&data).expect("read");
        let at = (len * place / 8) as usize;
        let end = (at + (64 << 10)).min(bytes.len());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ place;
        for byte in &mut bytes[at..end] {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *byte = seed as u8;
        }
        std::fs::write(&data, &bytes).expect("write");
        let (status, text) = check_datadir(&profile, &dir);
        assert_eq!(
            status.signal(),
            None,
            "{case}: check-datadir crashed:\n{text}"
        );
        if !status.success() {
            assert_clean_refusal(status, &text, &case);
        }
        match start(&profile, &dir) {
            None => assert!(
                status.success(),
                "{case}: the node ran on what check-datadir refused"
            ),
            Some((status, log)) => {
                assert_clean_refusal(status, &log, &case);
                let reason = log.lines().rev().find(|l| l.contains("data.mdb"));
                eprintln!("{case}: {}", reason.unwrap_or_default());
                refused += 1;
            }
        }
    }
    eprintln!("garbage: {refused} of 8 copies refused, the rest opened cleanly");
    assert!(refused >= 1, "garbage over the whole file went unnoticed");
}
