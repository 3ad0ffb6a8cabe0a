//! The explorer in a real browser: headless Chromium (Debian's `chromium`, installed by
//! scripts/test.sh) loads the page from a real node, shows the height `getblockcount`
//! answers, shows a newly mined block without a reload, follows a block link and a
//! transaction link, and finds an address from the search box. A phone-sized screenshot
//! of the dashboard (DevTools' `Page.captureScreenshot`: Chromium's `--screenshot` never
//! finishes on a page holding an open event stream) is written to a temporary file whose
//! path the test prints.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{repo_root, TestNode};

const WAIT: Duration = Duration::from_secs(60);
/// A phone's viewport, so the layout under test is the narrow one.
const WIDTH: u32 = 390;
const HEIGHT: u32 = 844;

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromium (scripts/test.sh installs Debian's chromium)")
}

/// One headless Chromium page driven through tests/it/py/browser.py.
struct Browser {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/it/py/browser.py"))
            .arg(chromium())
            .arg(profile.path())
            .arg(WIDTH.to_string())
            .arg(HEIGHT.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        output
            .read_line(&mut ready)
            .expect("the browser bridge starts");
        assert!(ready.contains("ready"), "browser bridge: {ready:?}");
        Browser {
            child,
            input,
            output,
            _profile: profile,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let line = json!({ "method": method, "params": params }).to_string();
        writeln!(self.input, "{line}").expect("write to the bridge");
        let mut reply = String::new();
        self.output.read_line(&mut reply).expect("read the bridge");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
    }

    /// Evaluates JavaScript in the page; its value (promises awaited).
    fn eval(&mut self, expression: &str) -> Value {
        let reply = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        reply["result"]["value"].clone()
    }

    /// Waits until `expression` evaluates to `expected`.
    fn wait_eval(&mut self, what: &str, expression: &str, expected: &Value) {
        let mut last = Value::Null;
        let found = wait_for_result(WAIT, || {
            last = self.eval(expression);
            (last == *expected).then_some(())
        });
        assert!(
            found.is_some(),
            "{what}: {expression} is {last}, not {expected}"
        );
    }
}

/// Polls `condition` until it holds, returning `None` at the deadline instead of panicking, so the caller
/// can say what it saw.
fn wait_for_result(timeout: Duration, mut condition: impl FnMut() -> Option<()>) -> Option<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if condition().is_some() {
            return Some(());
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(id: &str) -> String {
    format!("document.getElementById('{id}')?.textContent ?? null")
}

#[test]
fn the_explorer_shows_the_chain_live_in_a_browser() {
    // Both on port 0: one listener, on a port the system picks, serves both.
    let mut node = TestNode::start_wallet(
        &["events", "explorer"],
        "[events]\nlisten = \"127.0.0.1:0\"\n\n[explorer]\nlisten = \"127.0.0.1:0\"\n",
        &[],
    );
    let addr: std::net::SocketAddr = node.http_addr("explorer").parse().expect("an address");
    let port = addr.port();
    let miner = node.text("getnewaddress", &[]);
    let friend = node.text("getnewaddress", &[]);
    node.generate(101, &miner);
    let txid = node.text("sendfrom", &[&miner, &friend, "1"]);
    node.generate(1, &miner);
    let url = format!("http://127.0.0.1:{port}/explorer/");

    let mut browser = Browser::start();
    browser.call("Page.navigate", json!({ "url": url }));
    let count = node.rpc("getblockcount", &[]);
    browser.wait_eval(
        "the dashboard's height",
        &text("height"),
        &json!(count.to_string()),
    );
    browser.wait_eval("the live stream", &text("live"), &json!("live"));

    // A new block appears without a reload: the marker set in this page survives.
    browser.eval("window.notReloaded = true");
    let new_block = node.generate(1, &miner)[0].clone();
    browser.wait_eval(
        "the new block on top",
        "document.querySelector('#blocks a.block-link')?.textContent ?? null",
        &json!(new_block),
    );
    assert_eq!(browser.eval(&text("height")), json!("103"));
    assert_eq!(browser.eval("window.notReloaded === true"), json!(true));

    // Follow the block link.
    browser.eval("document.querySelector('#blocks a.block-link').click()");
    browser.wait_eval("the block page", &text("block-hash"), &json!(new_block));

    // Search a height, then follow the payment's transaction link.
    browser.eval(
        "document.getElementById('q').value = '102'; \
         document.getElementById('search').requestSubmit()",
    );
    browser.wait_eval(
        "block 102's page",
        "document.querySelector('h1')?.textContent ?? null",
        &json!("Block 102"),
    );
    browser.eval(&format!(
        "Array.from(document.querySelectorAll('a.tx-link')).find(a => a.textContent === '{txid}').click()"
    ));
    browser.wait_eval("the payment's page", &text("tx-id"), &json!(txid));
    // Its input shows the output it spends and whose it was; one confirmation.
    browser.wait_eval(
        "the spent output's address",
        &format!("document.body.innerText.includes('{miner}')"),
        &json!(true),
    );
    assert!(browser
        .eval(&text("tx-status"))
        .as_str()
        .unwrap()
        .starts_with("2 confirmations"));

    // Search an address: its balance and the payment in its history.
    browser.eval(&format!(
        "document.getElementById('q').value = '{friend}'; \
         document.getElementById('search').requestSubmit()"
    ));
    browser.wait_eval("the address page", &text("address"), &json!(friend));
    assert_eq!(browser.eval(&text("balance")), json!("1.00000000"));
    assert_eq!(
        browser.eval("document.querySelector('#history a.tx-link')?.textContent ?? null"),
        json!(txid)
    );
    // A phone-sized screenshot of the dashboard, for whoever runs the test to look at.
    browser.eval("location.hash = '#/'");
    browser.wait_eval("the dashboard again", &text("height"), &json!("103"));
    let shot = tempfile::Builder::new()
        .prefix("explorer-screenshot")
        .tempdir()
        .expect("tempdir")
        .keep()
        .join("dashboard.png");
    browser.call("screenshot", json!({ "path": shot }));
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 5_000, "a screenshot of the page, not a blank one");
    println!("explorer screenshot: {}", shot.display());
}
