//! The electrum plugin's TLS listener: a self-signed certificate made here (rcgen), a node
//! serving it beside plain TCP, BDK's `electrum-client` over `ssl://` syncing a funded
//! key and hearing of a new block, a rustls client that trusts only that certificate;
//! then what must not hold the server: plain text and silence on the TLS port (dropped,
//! the second after the handshake timeout), and one connection bound for both
//! listeners; and the profile errors a bad certificate or key makes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use electrum_client::{Client, ConfigBuilder, ElectrumApi, Param};
use node_chain_state::testing::Wallet;
use serde_json::{json, Value};
use tokio_rustls::rustls;

use crate::common::{node_output, published_addr, wait_for, write_profile, NodeProcess, TestNode};
use crate::electrum::{address, script, until};

const WAIT: Duration = Duration::from_secs(60);

/// A self-signed certificate for `localhost` and its key, as PEM text.
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("a self-signed certificate");
    (made.cert.pem(), made.signing_key.serialize_pem())
}

/// Writes a certificate and its key as `NAME.crt` and `NAME.key` in `dir`; the
/// certificate's PEM text is returned for a client to trust.
fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    std::fs::create_dir_all(dir).unwrap();
    let (cert, key) = self_signed();
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    (cert_file, key_file, cert)
}

fn profile(electrum: &str) -> String {
    crate::common::modules_profile(
        &["chain", "mempool", "miner", "rpc", "electrum"],
        &format!("[miner]\nautostart = false\n\n[electrum]\n{electrum}"),
    )
}

fn tls_addr(datadir: &Path) -> SocketAddr {
    published_addr(datadir, "electrum-tls.addr")
}

/// electrum-client over `ssl://`, without checking the certificate (self-signed, as
/// an operator's own server often is: Electrum asks the user to accept it).
fn ssl_client(addr: SocketAddr) -> Result<Client, electrum_client::Error> {
    let config = ConfigBuilder::new()
        .validate_domain(false)
        .timeout(Some(WAIT))
        .build();
    Client::from_config(&format!("ssl://{addr}"), config)
}

/// One request over a rustls client that trusts only `trusted` (PEM) and checks the
/// name `localhost`: the answer line, or the error of the handshake.
fn call_trusting(addr: SocketAddr, trusted: &str, line: &str) -> Result<Value, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(trusted.as_bytes()).unwrap())
        .unwrap();
    #[expect(
        deprecated,
        reason = "the provider the server uses; test builds also have aws-lc-rs, so none is the default"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer:?}"))
}

#[test]
fn a_wallet_client_syncs_over_tls_beside_plain_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("data");
    // The certificate relative to the data directory, the key by its absolute path.
    let (_, _, cert_pem) = write_pair(&datadir.join("tls"), "server");
    let key = datadir.join("tls/server.key");
    let profile_path = write_profile(
        dir.path(),
        "node.toml",
        &profile(&format!(
            "listen = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\n\
             tls_cert = \"tls/server.crt\"\ntls_key = {:?}\n",
            key.display().to_string()
        )),
    );
    let node = TestNode::start_on_chain(&profile_path, &datadir, &[]);
    let tls = tls_addr(&datadir);
    let plain = published_addr(&datadir, "electrum.addr");
    let payer = Wallet::new(7);
    node.generate(101, &address(&payer));

    let client = ssl_client(tls).expect("a TLS connection");
    let version = client
        .raw_call(
            "server.version",
            vec![
                Param::String("test".to_string()),
                Param::String("1.4".to_string()),
            ],
        )
        .unwrap();
    assert_eq!(version[1], "1.4", "{version}");
    assert!(
        version[0].as_str().unwrap().starts_with("node-electrum/"),
        "{version}"
    );
    let features = client.raw_call("server.features", vec![]).unwrap();
    assert_eq!(
        features["hosts"],
        json!({"127.0.0.1": {"tcp_port": plain.port(), "ssl_port": tls.port()}})
    );

    let history = until(&client, "the payer's 101 coinbases are indexed", |c| {
        let h = c.script_get_history(&script(&payer)).unwrap();
        (h.len() == 101).then_some(h)
    });
    assert_eq!(history[0].height, 1);
    assert_eq!(history[100].height, 101);
    let balance = client.script_get_balance(&script(&payer)).unwrap();
    assert_eq!(balance.confirmed, 101 * 50 * 100_000_000);
    assert_eq!(balance.unconfirmed, 0);

    // The tip, then a notification of the next block over the same TLS connection.
    let tip = client.block_headers_subscribe().unwrap();
    assert_eq!(tip.height, 101);
    assert_eq!(
        tip.header.block_hash().to_string(),
        node.text("getbestblockhash", &[])
    );
    let mined = node.generate(1, &address(&payer));
    let header = until(&client, "the header notification", |c| {
        c.block_headers_pop().unwrap()
    });
    assert_eq!(header.height, 102);
    assert_eq!(header.header.block_hash().to_string(), mined[0]);

    // The certificate served is the one configured: a client trusting only it (and
    // checking the name) is answered; one trusting another certificate refuses it.
    let ping = r#"{"id":1,"method":"server.ping"}"#;
    let answer = call_trusting(tls, &cert_pem, ping).expect("the configured certificate");
    assert_eq!(answer, json!({"jsonrpc": "2.0", "id": 1, "result": null}));
    let (other, _) = self_signed();
    let refused = call_trusting(tls, &other, ping).unwrap_err();
    assert!(refused.contains("certificate"), "{refused}");

    // Plain TCP is still served beside it, from the same index.
    let plain_client = Client::new(&format!("tcp://{plain}")).unwrap();
    assert_eq!(
        plain_client
            .script_get_history(&script(&payer))
            .unwrap()
            .len(),
        102
    );
}

/// A plain TCP connection to the TLS port: what it sends, and everything it reads until
/// the server closes it.
fn raw_exchange(addr: SocketAddr, send: &[u8]) -> (Vec<u8>, Duration) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let start = Instant::now();
    stream.write_all(send).unwrap();
    let mut received = Vec::new();
    // A reset instead of an orderly close ends it too.
    let _ = stream.read_to_end(&mut received);
    (received, start.elapsed())
}

#[test]
fn plain_text_and_silence_on_the_tls_port_are_dropped_and_one_bound_holds_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_pair(dir.path(), "server");
    let node = TestNode::start_text(
        &profile(&format!(
            "listen = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\ntls_cert = {:?}\n\
             tls_key = {:?}\ntls_handshake_timeout_secs = 2\nmax_connections = 2\n",
            cert.display().to_string(),
            key.display().to_string()
        )),
        &[],
    );
    let datadir = node.datadir().to_path_buf();
    let tls = tls_addr(&datadir);
    let plain = published_addr(&datadir, "electrum.addr");

    // A request in plain text: not a TLS record, the handshake fails, the connection is
    // closed (after, at most, a TLS alert); never a JSON answer.
    let (received, _) = raw_exchange(tls, b"{\"id\":1,\"method\":\"server.ping\"}\n");
    assert!(!received.starts_with(b"{"), "{received:?}");
    assert!(received.len() < 16, "at most an alert record: {received:?}");
    // Silence: dropped when the handshake timeout (2 s) passes, not before.
    let (received, took) = raw_exchange(tls, b"");
    assert!(received.is_empty(), "{received:?}");
    assert!(
        took >= Duration::from_millis(1900) && took < WAIT,
        "closed after {took:?}"
    );
    // Garbage that looks like the start of a handshake, then nothing: the same bound.
    let (_, took) = raw_exchange(tls, &[0x16, 0x03, 0x01, 0x00, 0x40, 0x01]);
    assert!(
        took >= Duration::from_millis(1900) && took < WAIT,
        "closed after {took:?}"
    );

    // The node serves on: a TLS client and a plain one take the two connections (a
    // dropped handshake gives its permit back just after its close, so wait for it).
    let first = wait_for("a TLS connection", WAIT, || ssl_client(tls).ok());
    first.ping().expect("served over TLS");
    let mut second = TcpStream::connect(plain).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut second_reader = BufReader::new(second.try_clone().unwrap());
    second
        .write_all(b"{\"id\":1,\"method\":\"server.ping\"}\n")
        .unwrap();
    let mut line = String::new();
    second_reader.read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["id"], 1, "{line}");

    // Both listeners draw on the one bound: a third plain connection is told why, a
    // third TLS one is closed before its handshake.
    let mut third = BufReader::new(TcpStream::connect(plain).unwrap());
    let mut line = String::new();
    third.read_line(&mut line).unwrap();
    let refused: Value = serde_json::from_str(&line).unwrap();
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 2 connections"),
        "{line}"
    );
    assert!(ssl_client(tls).is_err(), "a third connection over TLS");

    // The plain one leaves: its slot serves a TLS client.
    drop(second_reader);
    drop(second);
    let again = wait_for("a free slot for TLS", WAIT, || ssl_client(tls).ok());
    let features = again.server_features().expect("served over TLS");
    assert_eq!(
        hex::encode(features.genesis_hash),
        node.text("getblockhash", &["0"])
    );
    first.ping().expect("the first TLS client is still served");
}

/// `node check` and a start on a profile whose TLS settings cannot work: both fail
/// before anything runs, with every fragment in the message.
fn refused(dir: &Path, electrum: &str, fragments: &[&str]) {
    let path = write_profile(dir, "bad.toml", &profile(electrum));
    let datadir = dir.join("data");
    let check = node_output(
        &[
            "check",
            "--profile",
            path.to_str().unwrap(),
            "--datadir",
            datadir.to_str().unwrap(),
        ],
        &[],
    );
    // A start, bounded: a profile wrongly accepted would run on.
    let mut start = NodeProcess::start(&path, &datadir, &["--set", "rpc.listen=127.0.0.1:0"], &[]);
    let started = start.wait_exit(WAIT);
    for (what, success, err) in [
        (
            "check",
            check.status.success(),
            String::from_utf8_lossy(&check.stderr).to_string(),
        ),
        ("start", started.success(), start.log()),
    ] {
        assert!(!success, "{what} accepted:\n{electrum}\n{err}");
        for fragment in fragments.iter().chain(&["[electrum]"]) {
            assert!(
                err.contains(fragment),
                "{what}: {fragment:?} missing from: {err}"
            );
        }
    }
}

#[test]
fn a_bad_certificate_or_key_stops_the_node_naming_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_pair(dir.path(), "one");
    let (_, other_key, _) = write_pair(dir.path(), "two");
    let tls = |cert: &str, key: &str| {
        format!("tls_listen = \"127.0.0.1:0\"\ntls_cert = {cert:?}\ntls_key = {key:?}\n")
    };
    let cert = cert.display().to_string();
    let key = key.display().to_string();

    // A missing certificate, given relative to the data directory.
    let missing = dir.path().join("data/tls/none.crt");
    refused(
        dir.path(),
        &tls("tls/none.crt", &key),
        &[
            "tls_cert",
            "cannot read",
            &missing.display().to_string(),
            "No such file",
        ],
    );
    // A missing key.
    refused(
        dir.path(),
        &tls(&cert, "/nonexistent/server.key"),
        &["tls_key", "cannot read /nonexistent/server.key"],
    );
    // A key that is another certificate's.
    refused(
        dir.path(),
        &tls(&cert, &other_key.display().to_string()),
        &[
            "tls_key",
            "two.key is not the private key of the certificate in",
            "one.crt",
        ],
    );
    // The files swapped.
    refused(
        dir.path(),
        &tls(&key, &cert),
        &["tls_cert", "holds no certificate"],
    );
    // A TLS address without its files, and files without the address.
    refused(
        dir.path(),
        "tls_listen = \"127.0.0.1:0\"\n",
        &["tls_cert", "tls_listen is set: give the PEM file"],
    );
    refused(
        dir.path(),
        &format!("tls_cert = {cert:?}\ntls_key = {key:?}\n"),
        &["tls_listen", "unset, while tls_cert or tls_key is set"],
    );
    // No listener at all.
    refused(
        dir.path(),
        "listen = \"\"\n",
        &["listen", "the server would listen nowhere"],
    );
}

#[test]
fn tls_alone_serves_with_no_plain_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = write_pair(dir.path(), "server");
    let node = TestNode::start_text(
        &profile(&format!(
            "listen = \"\"\ntls_listen = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        )),
        &[],
    );
    let tls = tls_addr(node.datadir());
    assert!(!node.datadir().join("electrum.addr").exists());
    let client = ssl_client(tls).expect("a TLS connection");
    let features = client.raw_call("server.features", vec![]).unwrap();
    assert_eq!(
        features["hosts"],
        json!({"127.0.0.1": {"tcp_port": null, "ssl_port": tls.port()}})
    );
}
