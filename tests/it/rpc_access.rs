//! Who may call what, and how `node rpc` sends what it is given, against real nodes:
//! `[rpc] auth` entries made by `node rpcauth`, `[rpc] whitelist` (HTTP 403, batches
//! included), `node rpc`'s conversion of arguments per method (`-named`, `-stdin`),
//! `help` in Bitcoin Core's layout, `getrpcinfo`, and a kind and description for every
//! parameter of every method of a node running every registered module.

use serde_json::{json, Value};

use crate::common::{modules_profile, node_output, write_profile, TestNode};
use crate::rpc::post;

/// `node rpcauth USER [PASSWORD]`: the `[rpc] auth` entry and the password it printed.
fn rpcauth(args: &[&str]) -> (String, String) {
    let mut all = vec!["rpcauth"];
    all.extend_from_slice(args);
    let out = node_output(&all, &[]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        "String to be appended to [rpc] auth in the profile:"
    );
    assert_eq!(lines[2], "Your password:");
    let entry: String = serde_json::from_str(lines[1]).expect("a quoted entry");
    (entry, lines[3].to_string())
}

fn cookie_auth(node: &TestNode) -> String {
    let (user, password) = node_rpc::read_cookie(&node.datadir().join(".cookie")).expect("cookie");
    node_rpc::basic_authorization(&user, &password)
}

#[test]
fn an_rpcauth_entry_logs_in_and_a_wrong_password_is_refused() {
    let (entry, password) = rpcauth(&["monitor"]);
    assert!(entry.starts_with("monitor:"), "{entry}");
    // Core's format: a 16-byte salt in hex, then the HMAC-SHA256 in hex.
    let (salt, hash) = entry["monitor:".len()..]
        .split_once('$')
        .expect("salt$hash");
    assert_eq!((salt.len(), hash.len()), (32, 64), "{entry}");
    assert_eq!(
        password.len(),
        44,
        "32 bytes in URL-safe base64: {password}"
    );
    let (given, given_password) = rpcauth(&["ops", "chosen password"]);
    assert_eq!(given_password, "chosen password");

    let text = modules_profile(&["rpc"], &format!("[rpc]\nauth = [{entry:?}, {given:?}]\n"));
    let node = TestNode::start_text(&text, &[]);
    let call = r#"{"jsonrpc":"2.0","method":"uptime","id":1}"#;
    let (status, body) = post(
        node.rpc_port,
        &node_rpc::basic_authorization("monitor", &password),
        call,
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        node.rpc_port,
        &node_rpc::basic_authorization("ops", "chosen password"),
        call,
    );
    assert_eq!(status, 200);
    for (user, wrong) in [("monitor", "chosen password"), ("ops", password.as_str())] {
        let (status, _) = post(
            node.rpc_port,
            &node_rpc::basic_authorization(user, wrong),
            call,
        );
        assert_eq!(status, 401, "{user}");
    }
    // The cookie still works beside the salted users.
    let (status, _) = post(node.rpc_port, &cookie_auth(&node), call);
    assert_eq!(status, 200);
    // `node rpc` logs in as an rpcauth user with the password given to the client.
    let user = "rpc.user=monitor".to_string();
    let secret = format!("rpc.password={password}");
    let out = node.rpc_output(&["uptime"], &[&user, &secret], "");
    assert!(out.status.success(), "{out:?}");

    // A bad entry stops the start, naming the key.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write_profile(
        dir.path(),
        "bad.toml",
        &modules_profile(&["rpc"], "[rpc]\nauth = [\"bob:nosalt\"]\n"),
    );
    let out = node_output(&["--profile", bad.to_str().expect("utf-8"), "check"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("auth") && stderr.contains("entry 1") && stderr.contains("bob"),
        "{stderr}"
    );
}

#[test]
fn a_whitelist_forbids_what_it_leaves_out_in_batches_too() {
    let (entry, password) = rpcauth(&["monitor"]);
    let text = modules_profile(
        &["rpc"],
        &format!(
            "[rpc]\nauth = [{entry:?}]\n\
             whitelist = [\"monitor:uptime,getrpcinfo,help\"]\n\
             whitelist_default = false\n"
        ),
    );
    let node = TestNode::start_text(&text, &[]);
    let monitor = node_rpc::basic_authorization("monitor", &password);
    let (status, body) = post(node.rpc_port, &monitor, r#"{"method":"uptime","id":1}"#);
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(node.rpc_port, &monitor, r#"{"method":"stop","id":1}"#);
    assert_eq!((status, body.as_str()), (403, ""));
    // One forbidden call refuses the whole batch before any call runs.
    let (status, _) = post(
        node.rpc_port,
        &monitor,
        r#"[{"method":"uptime","id":1},{"method":"stop","id":2}]"#,
    );
    assert_eq!(status, 403);
    let (status, body) = post(
        node.rpc_port,
        &monitor,
        r#"[{"method":"uptime","id":1},{"method":"help","id":2}]"#,
    );
    assert_eq!(status, 200, "{body}");
    let replies: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(replies.as_array().map(Vec::len), Some(2), "{replies}");

    // `node rpc` says why; without getmethodparams on the list, arguments are guessed.
    let user = "rpc.user=monitor".to_string();
    let secret = format!("rpc.password={password}");
    let out = node.rpc_output(&["help", "uptime"], &[&user, &secret], "");
    assert!(out.status.success(), "{out:?}");
    let out = node.rpc_output(&["listmodules"], &[&user, &secret], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("403") && stderr.contains("listmodules"),
        "{stderr}"
    );
    assert!(node
        .process
        .log()
        .contains("not allowed to call method listmodules"));

    // whitelist_default = false: users without a list call everything.
    let (status, _) = post(
        node.rpc_port,
        &cookie_auth(&node),
        r#"{"method":"listmodules","id":1}"#,
    );
    assert_eq!(status, 200);
}

#[test]
fn node_rpc_converts_arguments_as_each_method_declares() {
    let node = TestNode::start_wallet(&[], "", &[]);
    // A label that looks like a number stays a string: getnewaddress declares a string.
    let address = node.text("getnewaddress", &["1234"]);
    let info = node.rpc("getaddressinfo", &[&address]);
    assert_eq!(info["labels"], json!(["1234"]), "{info}");
    // A numeric parameter is parsed as JSON.
    let genesis = node.text("getblockhash", &["0"]);
    assert_eq!(genesis.len(), 64);
    // A bad JSON argument for an object parameter is named before anything is sent.
    let failure = node.rpc_output(&["getblocktemplate", "{bad"], &[], "");
    let stderr = String::from_utf8_lossy(&failure.stderr);
    assert_eq!(failure.status.code(), Some(1));
    assert!(
        stderr.contains("Error parsing JSON: {bad")
            && stderr.contains("argument 1 of getblocktemplate, template_request: json object"),
        "{stderr}"
    );
    // A method the node does not know is still sent, its arguments guessed.
    let failure = node.fail("nosuchmethod", &["1"]);
    assert_eq!(failure.code, -32601, "{failure:?}");

    // -named: converted by name, in any order.
    let out = node.rpc_output(
        &[
            "-named",
            "getblock",
            "verbosity=2",
            &format!("blockhash={genesis}"),
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let block: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        block["tx"][0]["txid"].is_string(),
        "verbosity 2 decodes: {block}"
    );
    let out = node.rpc_output(&["-named", "getblock", "blockhash"], &[], "");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No '=' in named argument 'blockhash'"),
        "{out:?}"
    );

    // -stdin: more arguments, one per line, after those given.
    let out = node.rpc_output(
        &["-stdin", "getblockheader"],
        &[],
        &format!("{genesis}\nfalse\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let header = String::from_utf8_lossy(&out.stdout);
    assert_eq!(header.trim().len(), 160, "80 bytes in hex: {header}");
    let out = node.rpc_output(&["-named", "-stdin", "getblockhash"], &[], "height=0\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        genesis,
        "{out:?}"
    );
}

#[test]
fn help_reads_as_core_help_and_getrpcinfo_sees_itself() {
    let node = TestNode::start_wallet(&[], "", &[]);
    let help = node.text("help", &["getblockhash"]);
    let expected = format!(
        "getblockhash height\n\
         \n\
         Returns hash of block in best-block-chain at height provided.\n\
         \n\
         Arguments:\n\
         1. height    (numeric, required) The height index\n\
         \n\
         Result:\n\
         \"hex\"    (string) The block hash\n\
         \n\
         Examples:\n\
         > node rpc getblockhash 1000\n\
         > curl --user myusername --data-binary '{{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"getblockhash\", \"params\": [1000]}}' -H 'content-type: application/json' http://127.0.0.1:{}/",
        node.rpc_port
    );
    assert_eq!(help, expected);
    let help = node.text("help", &["getblock"]);
    assert!(
        help.contains("2. verbosity    (numeric, optional, default=1)"),
        "{help}"
    );
    let list = node.text("help", &[]);
    assert!(
        list.contains("== Chain ==\n") && list.contains("getblock \"blockhash\" ( verbosity )"),
        "{list}"
    );

    let info = node.rpc("getrpcinfo", &[]);
    let active = info["active_commands"].as_array().expect("array");
    assert_eq!(active.len(), 1, "{info}");
    assert_eq!(active[0]["method"], "getrpcinfo");
    assert!(active[0]["duration"].is_u64(), "{info}");
    // The log goes to standard error, which the test sends to a file.
    let logpath = info["logpath"].as_str().expect("logpath");
    assert!(
        std::fs::read_to_string(logpath).is_ok_and(|log| log.contains("node running")),
        "{logpath}"
    );
}

/// Every module registered in the binary, with the settings each needs to start, so a
/// module added later is checked too.
fn every_module_profile() -> String {
    let out = node_output(&["modules"], &[]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let modules: Vec<&str> = listing
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        modules.contains(&"rpc") && modules.contains(&"wallet"),
        "{listing}"
    );
    modules_profile(
        &modules,
        "[chain]\naddress_index = true\n\
         [miner]\nautostart = false\n\
         [blocknotify]\ncommand = \"true %s\"\n\
         [zmq]\npubhashblock = \"tcp://127.0.0.1:0\"\n\
         [events]\nlisten = \"127.0.0.1:0\"\n\
         [explorer]\nlisten = \"127.0.0.1:0\"\n\
         [health]\nlisten = \"127.0.0.1:0\"\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n",
    )
}

#[test]
fn every_method_describes_its_parameters_and_its_result() {
    let node = TestNode::start_text(&every_module_profile(), &[]);
    let list = node.text("help", &[]);
    let methods: Vec<&str> = list
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("=="))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(methods.len() > 50, "{list}");
    // One batch of getmethodparams and one of help for all of them.
    let batch = |call: &str| -> Vec<Value> {
        let batch: Vec<Value> = methods
            .iter()
            .enumerate()
            .map(|(id, m)| json!({"jsonrpc": "2.0", "method": call, "params": [m], "id": id}))
            .collect();
        let (status, body) = post(
            node.rpc_port,
            &cookie_auth(&node),
            &Value::Array(batch).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        let replies: Vec<Value> = serde_json::from_str(&body).expect("json");
        assert_eq!(replies.len(), methods.len());
        replies.into_iter().map(|r| r["result"].clone()).collect()
    };
    let params_of = batch("getmethodparams");
    let help_of = batch("help");
    let mut undescribed = Vec::new();
    let mut bad_help = Vec::new();
    for ((method, params), help) in methods.iter().zip(&params_of).zip(&help_of) {
        let help = help.as_str().expect("help text");
        if let Some(problem) = help_problem(help, params.as_array().is_some_and(Vec::is_empty)) {
            bad_help.push(format!("{method}: {problem}"));
        }
        let params = params.as_array().expect("params");
        for p in params {
            let described = p["description"].as_str().is_some_and(|d| !d.is_empty());
            let kind = p["kind"].as_str().unwrap_or("");
            if !described || kind.is_empty() {
                undescribed.push(format!("{method} {}", p["name"]));
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "parameters without a kind and description (Param::required(..).numeric(\"...\")): {undescribed:?}"
    );
    assert!(
        bad_help.is_empty(),
        "help not in Core's layout (a description, then \"Result:\" and its lines in the help string): {bad_help:#?}"
    );
}

/// What is wrong with one method's `help` text, if anything: it needs a description
/// before any result, a `Result:` line (or Core's `Result (for verbose = true):`) followed
/// by a non-empty line, and, for a method without parameters, no `Arguments:` section.
fn help_problem(help: &str, no_params: bool) -> Option<&'static str> {
    let lines: Vec<&str> = help.lines().collect();
    let description = lines.get(2).copied().unwrap_or("");
    if description.trim().is_empty() || description.starts_with("Result") {
        return Some("no description before the result");
    }
    let is_result =
        |line: &str| line == "Result:" || (line.starts_with("Result (") && line.ends_with("):"));
    let Some(at) = lines.iter().position(|line| is_result(line)) else {
        return Some("no Result: section");
    };
    if lines.get(at + 1).is_none_or(|line| line.trim().is_empty()) {
        return Some("an empty Result: section");
    }
    if no_params && lines.contains(&"Arguments:") {
        return Some("an Arguments: section without parameters");
    }
    None
}

#[test]
fn a_help_without_a_result_or_with_stray_arguments_is_caught() {
    let good = "m\n\nDoes it.\n\nResult:\nn    (numeric) The count\n\nExamples:\n> node rpc m";
    assert_eq!(help_problem(good, true), None);
    let shapes =
        "m ( verbose )\n\nDoes it.\n\nArguments:\n1. verbose    (boolean, optional) More\n\n\
                  Result (for verbose = false):\n\"hex\"    (string) It\n\nExamples:\n> node rpc m";
    assert_eq!(help_problem(shapes, false), None);
    let none = "m\n\nDoes it.\n\nExamples:\n> node rpc m";
    assert_eq!(help_problem(none, true), Some("no Result: section"));
    let empty = "m\n\nDoes it.\n\nResult:\n\nExamples:\n> node rpc m";
    assert_eq!(help_problem(empty, true), Some("an empty Result: section"));
    let first = "m\n\nResult:\nn    (numeric) The count\n\nExamples:\n> node rpc m";
    assert_eq!(
        help_problem(first, true),
        Some("no description before the result")
    );
    let stray = "m\n\nDoes it.\n\nArguments:\n\nResult:\nn    (numeric) The count";
    assert_eq!(
        help_problem(stray, true),
        Some("an Arguments: section without parameters")
    );
}
