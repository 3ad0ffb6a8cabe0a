//! The kernel through the binary: listing, profile checks and their errors, layering,
//! start and stop on signals, failed starts, the data directory lock.

use std::time::Duration;

use crate::common::{modules_profile, node_output, write_profile, NodeProcess};

const WAIT: Duration = Duration::from_secs(20);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn modules_lists_every_module_strategy_and_the_plugin() {
    let out = node_output(&["modules"], &[]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in [
        "chain",
        "mempool",
        "wallet",
        "blocknotify",
        "metrics",
        "health",
        "zmq",
        "events",
        "explorer",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing from:\n{text}"
        );
    }
    assert!(text.contains("mempool policy:"), "{text}");
    assert!(text.contains("standard"), "{text}");
    assert!(text.contains("free"), "{text}");
}

/// `node check` on a profile that must be refused: exit non-zero, and the message has
/// every fragment.
fn refused(profile: &str, fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(dir.path(), "bad.toml", profile);
    let out = node_output(&["check", "--profile", path.to_str().unwrap()], &[]);
    assert!(!out.status.success(), "accepted:\n{profile}");
    let err = stderr(&out);
    assert!(
        err.contains(path.to_str().unwrap()),
        "no file name in: {err}"
    );
    for fragment in fragments {
        assert!(err.contains(fragment), "{fragment:?} missing from: {err}");
    }
}

#[test]
fn profile_errors_name_the_file_key_value_and_choices() {
    refused(
        "[node]\nmodules = [\"chain\", \"mienr\"]\n",
        &[
            "unknown module \"mienr\"",
            "node.modules",
            "registered:",
            "chain",
            "mempool",
        ],
    );
    refused(
        "[node]\nmodules = [\"chain\", \"mempool\"]\n[mempool]\nmax_byts = 5\n",
        &["[mempool]", "max_byts", "max_bytes"],
    );
    refused(
        "[node]\nmodules = [\"chain\", \"mempool\"]\n[mempool]\nmax_bytes = \"lots\"\n",
        &["[mempool]", "max_bytes", "lots"],
    );
    refused(
        "[node]\nmodules = [\"chain\", \"mempool\"]\n[mempool]\npolicy = \"greedy\"\n",
        &[
            "[mempool]",
            "policy = \"greedy\"",
            "valid choices: free, standard",
        ],
    );
    refused(
        "[node]\nmodules = [\"chain\", \"wallet\"]\n",
        &[
            "module \"wallet\"",
            "needs service \"mempool\"",
            "provide it: mempool",
        ],
    );
    refused(
        "[node]\nmodules = [\"chain\"]\nchain = \"mainnet\"\n",
        &[
            "[node]: chain: \"mainnet\" is neither",
            "regtest, dev, testnet",
        ],
    );
    refused(
        "[node]\nmodules = [\"chain\"]\n[chian]\naddress_index = true\n",
        &["unknown table [chian]"],
    );
}

#[test]
fn check_accepts_every_shipped_profile() {
    let dir = crate::common::repo_root().join("configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = node_output(&["check", "--profile", path.to_str().unwrap()], &[]);
            assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} profiles found");
    // Every shipped chain spec file is complete (its genesis nonce meets its bits).
    let mut specs = 0;
    for entry in std::fs::read_dir(dir.join("chains")).unwrap() {
        let path = entry.unwrap().path();
        let out = node_output(&["chainspec", "--from", path.to_str().unwrap()], &[]);
        assert!(
            out.status.success() && stdout(&out).contains(": ok;"),
            "{}: {}{}",
            path.display(),
            stdout(&out),
            stderr(&out)
        );
        specs += 1;
    }
    assert!(specs >= 1, "no chain spec in configs/chains");
}

#[test]
fn set_overrides_environment_which_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(
        dir.path(),
        "p.toml",
        "[node]\nmodules = [\"chain\", \"mempool\"]\n[mempool]\nmax_orphans = 1\nancestor_limit = 1\nexpiry_hours = 1\n",
    );
    let path = path.to_str().unwrap();
    let env = [
        ("NODE_MEMPOOL__ANCESTOR_LIMIT", "2"),
        ("NODE_MEMPOOL__EXPIRY_HOURS", "2"),
    ];
    let out = node_output(
        &[
            "check",
            "--profile",
            path,
            "--set",
            "mempool.expiry_hours=3",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    assert_eq!(json["mempool"]["max_orphans"], 1, "file");
    assert_eq!(
        json["mempool"]["ancestor_limit"], 2,
        "environment over file"
    );
    assert_eq!(json["mempool"]["expiry_hours"], 3, "--set over environment");
}

fn simple_node(dir: &std::path::Path, modules: &[&str], extra: &str) -> std::path::PathBuf {
    write_profile(dir, "node.toml", &modules_profile(modules, extra))
}

#[test]
fn sigterm_and_sigint_stop_every_module_in_reverse_and_exit_zero() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let profile = simple_node(
            dir.path(),
            &["wallet", "mempool", "chain"],
            "[chain]\naddress_index = true\n",
        );
        let mut node = NodeProcess::start(
            &profile,
            &dir.path().join("data"),
            &[],
            &[("RUST_LOG", "debug")],
        );
        node.wait_log("node running", WAIT);
        let log = node.log();
        let start = |m: &str| log.find(&format!("starting module=\"{m}\"")).expect(m);
        assert!(
            start("chain") < start("mempool") && start("mempool") < start("wallet"),
            "{log}"
        );
        node.signal(signal);
        let status = node.wait_exit(WAIT);
        assert!(
            status.success(),
            "exit {status} after SIG{signal}; log:\n{}",
            node.log()
        );
        let log = node.log();
        let stop = |m: &str| log.find(&format!("stopped module=\"{m}\"")).expect(m);
        assert!(
            stop("wallet") < stop("mempool") && stop("mempool") < stop("chain"),
            "{log}"
        );
        assert!(log.contains("node stopped"), "{log}");
    }
}

#[test]
fn a_module_failing_to_start_stops_the_others_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    // The wallet refuses to start without the chain's address index.
    let profile = simple_node(dir.path(), &["chain", "mempool", "wallet"], "");
    let mut node = NodeProcess::start(&profile, &dir.path().join("data"), &[], &[]);
    let status = node.wait_exit(WAIT);
    assert!(!status.success());
    let log = node.log();
    assert!(log.contains("module \"wallet\" failed to start"), "{log}");
    assert!(log.contains("address_index"), "{log}");
    assert!(
        log.contains("node stopped") || !log.contains("node running"),
        "{log}"
    );
}

#[test]
fn two_nodes_cannot_share_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let profile = simple_node(dir.path(), &["chain"], "");
    let data = dir.path().join("data");
    let mut first = NodeProcess::start(&profile, &data, &[], &[]);
    first.wait_log("node running", WAIT);
    let mut second = NodeProcess::start(&profile, &data, &[], &[]);
    let status = second.wait_exit(WAIT);
    assert!(!status.success());
    assert!(
        second.log().contains("in use by another node"),
        "{}",
        second.log()
    );
    first.signal("TERM");
    assert!(first.wait_exit(WAIT).success());
}
