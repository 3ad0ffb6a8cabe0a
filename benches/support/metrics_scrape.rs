//! One scrape of a node's `/metrics`, as Prometheus makes it, for the benchmarks that
//! measure what scraping costs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// GETs `/metrics` from `addr` and checks it answered with the node's metrics.
pub(crate) fn scrape_metrics(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).expect("connect to /metrics");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request /metrics");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read /metrics");
    assert!(
        text.starts_with("HTTP/1.1 200") && text.contains("node_chain_height"),
        "{text}"
    );
}
