//! The events plugin in a real node: a client reads `/events`, goes away, blocks and
//! transactions happen, the node restarts, and the client resumes with `Last-Event-ID`
//! and has every event exactly once, in order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::TestNode;

const WAIT: Duration = Duration::from_secs(60);

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) id: Option<u64>,
    pub(crate) kind: String,
    pub(crate) data: Value,
}

/// A blocking `/events` client over a plain socket: HTTP/1.1, chunked body, SSE frames.
pub(crate) struct SseClient {
    reader: BufReader<TcpStream>,
    text: String,
}

impl SseClient {
    pub(crate) fn connect(port: u16, path: &str, last_event_id: Option<u64>) -> SseClient {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to /events");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{resume}\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let deadline = Instant::now() + WAIT;
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            assert!(Instant::now() < deadline, "no response head: {head}");
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                head.push_str(&line);
            }
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "{head}"
        );
        SseClient {
            reader,
            text: String::new(),
        }
    }

    /// Reads one chunk of the body if one arrives soon.
    fn read_chunk(&mut self) {
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line).is_err() || size_line.trim().is_empty() {
            return;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).expect("chunk size");
        let mut chunk = vec![0; size + 2];
        let deadline = Instant::now() + WAIT;
        let mut filled = 0;
        while filled < chunk.len() {
            assert!(Instant::now() < deadline, "chunk cut short");
            match self.reader.read(&mut chunk[filled..]) {
                Ok(0) => panic!("stream closed mid-chunk"),
                Ok(n) => filled += n,
                Err(_) => {}
            }
        }
        self.text
            .push_str(std::str::from_utf8(&chunk[..size]).expect("UTF-8 events"));
    }

    /// The next event, skipping comments and `retry:` lines.
    pub(crate) fn next(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let frame: String = self.text.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    kind: "message".to_string(),
                    data: Value::Null,
                };
                let mut has_data = false;
                for line in frame.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        event.id = Some(id.parse().expect("numeric id"));
                    } else if let Some(kind) = line.strip_prefix("event: ") {
                        event.kind = kind.to_string();
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(data).expect("JSON data");
                        has_data = true;
                    }
                }
                if has_data {
                    return Some(event);
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            self.read_chunk();
        }
    }

    /// Events until one satisfies `done` (included).
    pub(crate) fn until(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + WAIT;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .next(left)
                .unwrap_or_else(|| panic!("timed out waiting for {what}; got {events:?}"));
            let finished = done(&event);
            events.push(event);
            if finished {
                return events;
            }
        }
    }
}

fn is_tip(event: &Event, height: u64) -> bool {
    event.kind == "tip_changed" && event.data["height"] == height
}

/// A node with the events plugin on a port the system picks, and that port.
fn start(datadir: &Path) -> (TestNode, u16) {
    let mut node = TestNode::start_in(
        datadir,
        &[
            "node.modules=[\"chain\", \"mempool\", \"wallet\", \"miner\", \"rpc\", \"events\"]"
                .to_string(),
            "events.listen=127.0.0.1:0".to_string(),
        ],
    );
    let port = http_port(&mut node);
    (node, port)
}

/// The port the events plugin serves on, from the kernel's log line.
fn http_port(node: &mut TestNode) -> u16 {
    let addr: std::net::SocketAddr = node.http_addr("events").parse().expect("an address");
    addr.port()
}

#[test]
fn a_client_resumes_across_a_restart_with_every_event_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let (node, port) = start(&datadir);
    let address = node.text("getnewaddress", &[]);

    // The client reads the first block's events, then goes away.
    let mut client = SseClient::connect(port, "/events?last_event_id=0", None);
    node.generate(1, &address);
    let mut seen = client.until("the first tip", |e| is_tip(e, 1));
    drop(client);

    // Meanwhile: blocks, a payment, its block, a restart, one more block.
    node.generate(100, &address);
    let other = node.text("getnewaddress", &[]);
    let txid = node.text("sendfrom", &[&address, &other, "1"]);
    let confirming = node.generate(1, &address)[0].clone();
    let mut node = node;
    node.process.signal("TERM");
    assert!(node.process.wait_exit(WAIT).success());
    drop(node);
    let (node, port) = start(&datadir);
    node.generate(1, &address);

    let last = seen.last().and_then(|e| e.id);
    let mut client = SseClient::connect(port, "/events", last);
    seen.extend(client.until("the tip after the restart", |e| is_tip(e, 103)));

    // Every id once, in order, from the first.
    let ids: Vec<u64> = seen.iter().map(|e| e.id.expect("an id")).collect();
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected);
    // A connect and a tip change per block; the payment accepted, then confirmed.
    let connected = seen.iter().filter(|e| e.kind == "block_connected").count();
    assert_eq!(connected, 103);
    let tips = seen.iter().filter(|e| e.kind == "tip_changed").count();
    assert_eq!(tips, 103);
    let accepted = seen
        .iter()
        .position(|e| e.kind == "tx_accepted" && e.data["txid"] == txid.as_str())
        .expect("the payment's tx_accepted");
    let confirmed = seen
        .iter()
        .position(|e| e.kind == "block_connected" && e.data["hash"] == confirming.as_str())
        .expect("its block");
    assert!(accepted < confirmed);
    assert_eq!(seen[confirmed].data["txs"], 2);
    assert_eq!(seen[confirmed].data["height"], 102);

    // Asking for what was never given out: a gap, then everything kept.
    let mut client = SseClient::connect(port, "/events", Some(1_000_000));
    let gap = client.next(WAIT).expect("a gap event");
    assert_eq!(gap.kind, "gap");
    assert_eq!(gap.data["oldest"], 1);
    assert_eq!(client.next(WAIT).expect("the first kept event").id, Some(1));
}

#[test]
fn the_oldest_events_give_way_and_a_client_behind_them_hears_of_the_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = TestNode::start_in(
        &dir.path().join("data"),
        &[
            "node.modules=[\"chain\", \"mempool\", \"wallet\", \"miner\", \"rpc\", \"events\"]"
                .to_string(),
            "events.listen=127.0.0.1:0".to_string(),
            "events.max_events=10".to_string(),
        ],
    );
    let port = http_port(&mut node);
    let address = node.text("getnewaddress", &[]);
    node.generate(10, &address);
    // The last tip's event is published after generate returns: once a client resuming
    // after event 19 has heard it, the node keeps exactly events 11 to 20.
    SseClient::connect(port, "/events", Some(19)).until("the last tip", |e| is_tip(e, 10));
    let mut client = SseClient::connect(port, "/events", Some(2));
    let gap = client.next(WAIT).expect("a gap event");
    assert_eq!(gap.kind, "gap");
    assert_eq!(gap.data["after"], 2);
    assert_eq!(gap.data["oldest"], 11);
    let kept = client.until("the last tip", |e| is_tip(e, 10));
    let ids: Vec<u64> = kept.iter().filter_map(|e| e.id).collect();
    assert_eq!(ids, (11..=20).collect::<Vec<u64>>());
}
