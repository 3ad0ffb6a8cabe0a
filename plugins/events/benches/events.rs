//! How many events per second `/events` sustains, and what a subscriber costs the node.
//!
//! The node runs in-process with the events plugin; a stand-in module hands the bench
//! the event bus, on which it publishes mempool acceptances as fast as the plugin keeps
//! them (batches of 1,000, each waited for through `/events/status`, so the bus never
//! drops any). Clients are plain sockets in threads, each reading every event. Printed,
//! one JSON line per client count: events per second until every client had every
//! event, and the node's CPU per event (the process's CPU less the clients' threads'),
//! from which the cost of one subscriber per event follows.
//!
//!     cargo bench -p node-events --bench events

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use node_api::chain::{ChainSpec, Hash256, Transaction, TxOut};
use node_api::{
    async_trait, inventory, service, BoxError, ChainView, EventBus, MempoolEvent, Module,
    ModuleFactory, StartContext,
};
use node_chain_state::{ChainOptions, LocalChain};
use node_kernel::{plan, run, Profile, ProfileSource};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use node_events as _;

static STARTED: Mutex<Option<oneshot::Sender<(EventBus, CancellationToken)>>> = Mutex::new(None);

struct StandInChain;

#[async_trait]
impl Module for StandInChain {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let spec = ChainSpec::by_name(&ctx.node().chain).map_err(|e| e.to_string())?;
        let chain = LocalChain::open(
            &ctx.datadir().join("chain"),
            spec,
            ChainOptions::default(),
            |_| {},
        )?;
        ctx.provide::<dyn ChainView>(chain)?;
        if let Some(started) = STARTED.lock().unwrap().take() {
            let _ = started.send((ctx.events().clone(), ctx.shutdown_token()));
        }
        Ok(())
    }
}

inventory::submit! {
    ModuleFactory {
        name: "chain",
        description: "the chain service over a LocalChain (bench stand-in)",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn ChainView>()],
        needs: &[],
        uses: &[],
        methods: &[],
        build: |_| Ok(Box::new(StandInChain)),
    }
}

const EVENTS: u64 = 20_000;
const BATCH: u64 = 1_000;

fn cpu_seconds(who: i32) -> f64 {
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF/THREAD are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn newest(port: u16) -> u64 {
    let text = get(port, "/events/status");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(body).unwrap();
    status["newest"].as_u64().unwrap()
}

/// Reads until `count` events arrived; returns when and the thread's CPU seconds.
fn subscriber(port: u16, count: u64) -> std::thread::JoinHandle<(Instant, f64)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut frames = 0u64;
        let mut tail = 0u8;
        // Each frame ends in a blank line; the first is the `retry:` hint.
        while frames < count + 1 {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "stream ended");
            for &byte in &buf[..n] {
                if byte == b'\n' && tail == b'\n' {
                    frames += 1;
                }
                if byte != b'\r' {
                    tail = byte;
                }
            }
        }
        (Instant::now(), cpu_seconds(libc::RUSAGE_THREAD))
    })
}

fn profile(dir: &Path, port: u16) -> node_kernel::Plan {
    let path = dir.join("profile.toml");
    std::fs::write(
        &path,
        format!(
            "[node]\nmodules = [\"chain\", \"events\"]\nchain = \"regtest\"\n\n[events]\nlisten = \"127.0.0.1:{port}\"\nmax_subscribers = 64\n"
        ),
    )
    .unwrap();
    let profile =
        Profile::load(&ProfileSource::File(path), [], &[], Some(dir.join("data"))).unwrap();
    plan(profile).unwrap()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (tx, rx) = oneshot::channel();
    *STARTED.lock().unwrap() = Some(tx);
    let node = runtime.spawn(run(profile(dir.path(), port)));
    let (bus, shutdown) = runtime.block_on(rx).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // A typical one-input, two-output payment's event.
    let tx = Arc::new(Transaction {
        version: 1,
        inputs: Vec::new(),
        outputs: vec![
            TxOut {
                value: 1,
                script_pubkey: vec![0; 25]
            };
            2
        ],
        lock_time: 0,
    });
    let mut base_cpu_per_event = None;
    for clients in [0usize, 1, 4, 16] {
        let start_id = newest(port);
        let threads: Vec<_> = (0..clients).map(|_| subscriber(port, EVENTS)).collect();
        std::thread::sleep(Duration::from_millis(200));
        let cpu_before = cpu_seconds(libc::RUSAGE_SELF);
        let started = Instant::now();
        let mut published = 0;
        while published < EVENTS {
            for n in 0..BATCH {
                let mut txid = [0u8; 32];
                txid[..8].copy_from_slice(&(start_id + published + n).to_le_bytes());
                bus.publish(MempoolEvent::Accepted {
                    txid: Hash256(txid),
                    tx: tx.clone(),
                    fee: 1000,
                });
            }
            published += BATCH;
            while newest(port) < start_id + published {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let mut finished = Instant::now();
        let mut client_cpu = 0.0;
        for thread in threads {
            let (at, cpu) = thread.join().unwrap();
            finished = finished.max(at);
            client_cpu += cpu;
        }
        let seconds = finished.duration_since(started).as_secs_f64();
        let node_cpu = cpu_seconds(libc::RUSAGE_SELF) - cpu_before - client_cpu;
        let per_event_us = node_cpu / EVENTS as f64 * 1e6;
        let base = *base_cpu_per_event.get_or_insert(per_event_us);
        let per_subscriber = if clients == 0 {
            0.0
        } else {
            (per_event_us - base) / clients as f64
        };
        println!(
            "{}",
            serde_json::json!({
                "bench": "events",
                "subscribers": clients,
                "events": EVENTS,
                "events_per_sec": (EVENTS as f64 / seconds).round(),
                "node_cpu_us_per_event": (per_event_us * 100.0).round() / 100.0,
                "cpu_us_per_event_per_subscriber": (per_subscriber * 100.0).round() / 100.0,
            })
        );
    }
    shutdown.cancel();
    runtime.block_on(node).unwrap().unwrap();
}
