//! Reading what a node exports at `/metrics`: a scrape of an in-process node's `metrics`
//! module and the value of one series in it.
//!
//! The facade has one recorder per process, so a counter of a test binary that runs
//! several nodes at once counts for all of them: read gauges a node sets from its own
//! state, or run one node at a time.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::DEADLINE;

/// The value of `series` in a Prometheus text `text`: its name with its labels as the
/// exporter writes them (`node_chain_height`,
/// `node_rpc_requests_total{method="getblockcount",code="0"}`). `None` when it is absent.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.split_whitespace().next()?.parse().ok()
        })
}

/// The body of `GET path` on `addr` (HTTP/1.1, one request, the connection closed).
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(DEADLINE, exchange)
        .await
        .map_err(|_| format!("GET {path} on {addr} did not answer in time"))?
        .map_err(|e| format!("GET {path} on {addr}: {e}"))?;
    let answer = String::from_utf8(answer).map_err(|e| format!("GET {path}: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {path} on {addr}: no end of headers"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "GET {path} on {addr}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_found_by_its_name_and_labels() {
        let text = "# HELP node_chain_height height of the tip\n\
                    # TYPE node_chain_height gauge\n\
                    node_chain_height 12\n\
                    node_chain_height_max 99\n\
                    node_rpc_requests_total{method=\"getblockcount\",code=\"0\"} 3\n";
        assert_eq!(metric_value(text, "node_chain_height"), Some(12.0));
        assert_eq!(
            metric_value(
                text,
                "node_rpc_requests_total{method=\"getblockcount\",code=\"0\"}"
            ),
            Some(3.0)
        );
        assert_eq!(metric_value(text, "node_rpc_requests_total"), None);
        assert_eq!(metric_value(text, "node_chain"), None);
    }
}
