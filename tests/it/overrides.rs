//! Overrides that say what they did: an override of a module the profile does not run is
//! checked and reported, errors name the layer that set the value (file, variable,
//! `--set`) and speak TOML; a method of a module that does not run names its module.

use crate::common::{modules_profile, node_output, TestNode};

/// `node check --profile configs/regtest.toml` with `args` and `env`: exit status and
/// stderr.
fn check(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut all = vec!["check", "--profile", "configs/regtest.toml"];
    all.extend_from_slice(args);
    let out = node_output(&all, env);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn an_override_of_a_module_not_run_is_checked_then_reported() {
    // A typo fails, naming the --set.
    let (ok, err) = check(&["--set", "discovery.bootstrapp=[\"127.0.0.1:1\"]"], &[]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("--set discovery.bootstrapp") && err.contains("unknown field `bootstrapp`"),
        "{err}"
    );
    // A valid value passes with a warning that it has no effect.
    let (ok, err) = check(&["--set", "discovery.bootstrap=[\"127.0.0.1:1\"]"], &[]);
    assert!(ok, "{err}");
    assert!(
        err.contains("warning: --set discovery.bootstrap")
            && err.contains("not in [node] modules")
            && err.contains("no effect"),
        "{err}"
    );
    // The same through a variable.
    let (ok, err) = check(&[], &[("NODE_DISCOVERY__BOOTSTRAPP", "[]")]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("environment variable NODE_DISCOVERY__BOOTSTRAPP"),
        "{err}"
    );
}

#[test]
fn errors_name_the_layer_and_speak_toml() {
    let (ok, err) = check(&[], &[("NODE_MINER__THREADS", "two")]);
    assert!(!ok);
    assert!(
        err.contains("in environment variable NODE_MINER__THREADS, [miner]")
            && err.contains("expected an integer"),
        "{err}"
    );
    let (ok, err) = check(&["--set", "rpc.max_connections=-1"], &[]);
    assert!(!ok);
    assert!(
        err.contains("--set rpc.max_connections=-1")
            && err.contains("non-negative integer")
            && !err.contains("u64")
            && !err.contains("64 bit"),
        "{err}"
    );
    // A [node] key is reported under [node], from the layer that set it.
    let (ok, err) = check(&["--set", "node.chain=devnet"], &[]);
    assert!(!ok);
    assert!(
        err.contains("in --set node.chain=devnet, [node]") && err.contains("regtest, dev, testnet"),
        "{err}"
    );
    // A list typed without quotes gets the quoted form.
    let (ok, err) = check(&["--set", "peers.connect=[127.0.0.1:1]"], &[]);
    assert!(!ok);
    assert!(
        err.contains("--set 'peers.connect=[\"127.0.0.1:1\"]'"),
        "{err}"
    );
    // A value of the file is still the file's.
    let dir = tempfile::tempdir().unwrap();
    let path = crate::common::write_profile(
        dir.path(),
        "p.toml",
        "[node]\nmodules = [\"chain\", \"mempool\", \"miner\"]\n[miner]\nthreads = \"two\"\n",
    );
    let out = node_output(&["check", "--profile", path.to_str().unwrap()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("in {}, [miner]", path.display())),
        "{err}"
    );
}

#[test]
fn methods_of_modules_not_run_name_their_module() {
    let node = TestNode::start_text(&modules_profile(&["chain", "rpc"], ""), &[]);
    node.fails_with(
        "getnewaddress",
        &[],
        -32601,
        "getnewaddress belongs to the wallet module, which this node does not run",
    );
    node.fails_with(
        "nosuchmethod",
        &[],
        -32601,
        "Method not found: nosuchmethod",
    );
    let failure = node.fail("help", &["getblokcount"]);
    assert!(
        failure.text.contains("did you mean getblockcount"),
        "{}",
        failure.text
    );
    assert_eq!(node.text("getblockcount", &[]), "0");
}
