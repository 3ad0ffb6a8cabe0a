//! The rpc module in a real `node` process: cookie life cycle, `node rpc` as a client
//! (cookie and user/password), errors and exit codes, the `stop` RPC, a port in use.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::{modules_profile, node_output, published_addr, write_profile, NodeProcess};

const START: Duration = Duration::from_secs(30);

fn profile(dir: &Path, port: u16, extra: &str) -> PathBuf {
    write_profile(
        dir,
        "rpc.toml",
        &modules_profile(
            &["rpc"],
            &format!("[rpc]\nlisten = \"127.0.0.1:{port}\"\n{extra}"),
        ),
    )
}

/// One HTTP POST on a fresh connection: the status code and the body.
pub(crate) fn post(port: u16, authorization: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn cookie_auth(datadir: &Path) -> String {
    let (user, password) = node_rpc::read_cookie(&datadir.join(".cookie")).expect("cookie");
    node_rpc::basic_authorization(&user, &password)
}

fn rpc(profile: &Path, datadir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "--profile",
        profile.to_str().expect("utf-8 path"),
        "--datadir",
        datadir.to_str().expect("utf-8 path"),
        "rpc",
    ];
    all.extend_from_slice(args);
    node_output(&all, &[])
}

#[test]
fn cookie_client_and_stop_rpc() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Port 0: the node says where it listens, in its log and in `DATADIR/rpc.addr`.
    let profile = profile(tmp.path(), 0, "");
    let datadir = tmp.path().join("data");
    let mut node = NodeProcess::start(&profile, &datadir, &[], &[]);
    node.wait_log("RPC server listening on 127.0.0.1:", START);
    let port = published_addr(&datadir, "rpc.addr").port();
    assert_ne!(port, 0);
    assert!(node
        .log()
        .contains(&format!("RPC server listening on 127.0.0.1:{port}")));

    let cookie = datadir.join(".cookie");
    let mode = std::fs::metadata(&cookie)
        .expect("cookie written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // A client written for bitcoind: 1.0-style request, cookie credentials.
    let (status, body) = post(
        port,
        &cookie_auth(&datadir),
        r#"{"method":"uptime","params":[],"id":1}"#,
    );
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("json");
    assert!(reply["result"].is_u64(), "{reply}");
    assert!(reply["error"].is_null(), "{reply}");

    let (status, _) = post(
        port,
        "Basic X19jb29raWVfXzp3cm9uZw==",
        r#"{"method":"uptime"}"#,
    );
    assert_eq!(status, 401);

    // `node rpc` finds the port and the cookie from the same profile and data directory.
    let out = rpc(&profile, &datadir, &["help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("uptime") && stdout.contains("help ( \"command\" )"),
        "{stdout}"
    );

    let out = rpc(&profile, &datadir, &["help", "uptime"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("The number of seconds that the server has been running"));

    let out = rpc(&profile, &datadir, &["getprofile"]);
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("pretty JSON");
    assert_eq!(printed["chain"], "regtest");

    let out = rpc(&profile, &datadir, &["nosuchmethod"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-32601") && stderr.contains("nosuchmethod"),
        "{stderr}"
    );

    let out = rpc(&profile, &datadir, &["stop"]);
    assert!(out.status.success(), "{out:?}");
    let status = node.wait_exit(START);
    assert!(
        status.success(),
        "node exited with {status}; log:\n{}",
        node.log()
    );
    assert!(!cookie.exists(), "the cookie is removed at clean shutdown");
    assert!(
        !datadir.join("rpc.addr").exists(),
        "the address file is removed at clean shutdown"
    );

    let out = rpc(&profile, &datadir, &["uptime"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn user_and_password_from_the_profile() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let profile = profile(tmp.path(), 0, "user = \"alice\"\npassword = \"pw\"\n");
    let datadir = tmp.path().join("data");
    let mut node = NodeProcess::start(&profile, &datadir, &[], &[]);
    node.wait_log("RPC server listening on", START);
    let port = published_addr(&datadir, "rpc.addr").port();

    let (status, body) = post(
        port,
        &node_rpc::basic_authorization("alice", "pw"),
        r#"{"jsonrpc":"2.0","method":"uptime","id":"a"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(reply["jsonrpc"], "2.0");
    assert_eq!(reply["id"], "a");

    // The client sends the profile's user and password rather than the cookie.
    let out = rpc(&profile, &datadir, &["uptime"]);
    assert!(out.status.success(), "{out:?}");
    let out = node_output(
        &[
            "--profile",
            profile.to_str().expect("utf-8"),
            "--datadir",
            datadir.to_str().expect("utf-8"),
            "--set",
            "rpc.password=wrong",
            "rpc",
            "uptime",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{out:?}"
    );

    node.signal("TERM");
    assert!(node.wait_exit(START).success(), "{}", node.log());
    assert!(!datadir.join(".cookie").exists());
}

#[test]
fn a_port_in_use_fails_the_start_and_leaves_no_cookie() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let profile = profile(tmp.path(), port, "");
    let datadir = tmp.path().join("data");
    let mut node = NodeProcess::start(&profile, &datadir, &[], &[]);
    let status = node.wait_exit(START);
    assert!(!status.success());
    let log = node.log();
    assert!(
        log.contains(&format!(
            "cannot listen on 127.0.0.1:{port}: address in use"
        )),
        "{log}"
    );
    assert!(!datadir.join(".cookie").exists());
    drop(taken);
}
