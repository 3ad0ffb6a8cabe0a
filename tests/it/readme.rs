//! The README's walkthrough cannot drift: its commands are the script's, and the script
//! runs here as written, against the binary under test.

use std::process::Command;

use crate::common::{node_bin, repo_root};

const MARKER: &str = "# --- walkthrough (the README shows every line from here on) ---";

fn walkthrough_lines() -> Vec<String> {
    let script = std::fs::read_to_string(repo_root().join("scripts/walkthrough.sh")).unwrap();
    let body = script
        .split(MARKER)
        .nth(1)
        .expect("the marker line in the script");
    body.lines().map(str::to_string).collect()
}

#[test]
fn the_readme_shows_the_walkthrough_script() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut rest = readme.as_str();
    for line in walkthrough_lines().iter().filter(|l| !l.trim().is_empty()) {
        let at = rest
            .find(line.as_str())
            .unwrap_or_else(|| panic!("README lacks (or reorders) the walkthrough line:\n{line}"));
        rest = &rest[at + line.len()..];
    }
}

/// Six consecutive ports free on 127.0.0.1 (TCP and UDP), for the script's BASE_PORT.
fn free_port_block() -> u16 {
    let mut base = 29_200 + (std::process::id() % 500) as u16 * 8;
    loop {
        let free = (0..6).all(|i| {
            std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && std::net::UdpSocket::bind(("127.0.0.1", base + i)).is_ok()
        });
        if free {
            return base;
        }
        base += 8;
    }
}

#[test]
fn the_walkthrough_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/walkthrough.sh"))
        .env("NODE", node_bin())
        .env("DIR", dir.path())
        .env("BASE_PORT", free_port_block().to_string())
        .env_remove("RUST_LOG")
        .output()
        .expect("run the walkthrough");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut logs = String::new();
    for name in ["relay", "miner", "full"] {
        let log =
            std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
        logs.push_str(&format!("--- {name}.log (last lines)\n"));
        for line in log
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            logs.push_str(line);
            logs.push('\n');
        }
    }
    assert!(
        out.status.success() && stdout.contains("walkthrough complete"),
        "walkthrough failed ({}):\n{stdout}\n{}\n{logs}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": 15.00000000"), "{stdout}");
}
