//! JSON-RPC calls to a node, with the cookie its data directory holds.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use base64::Engine;
use serde_json::{json, Value};

/// A node's RPC server.
#[derive(Clone)]
pub(crate) struct Rpc {
    url: String,
    authorization: String,
    agent: ureq::Agent,
}

impl Rpc {
    /// Reads the cookie from `datadir` (the node writes it once its server is up).
    pub(crate) fn new(addr: SocketAddr, datadir: &Path) -> anyhow::Result<Rpc> {
        let cookie_path = datadir.join(".cookie");
        let cookie = std::fs::read_to_string(&cookie_path)
            .with_context(|| format!("cannot read {}", cookie_path.display()))?;
        Ok(Rpc {
            url: format!("http://{addr}/"),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(cookie.trim())
            ),
            // A call that takes longer than this is a stuck node, not a slow one.
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
        })
    }

    /// Calls `method`; the node's error becomes this error, with its code.
    pub(crate) fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self
            .agent
            .post(&self.url)
            .set("Authorization", &self.authorization)
            .send_json(body);
        let reply: Value = match response {
            Ok(r) => r.into_json()?,
            Err(ureq::Error::Status(_, r)) => r.into_json()?,
            Err(e) => return Err(anyhow!("{method}: {e}")),
        };
        if let Some(error) = reply.get("error").filter(|e| !e.is_null()) {
            return Err(anyhow!("{method}: {error}"));
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Calls `method` once per parameter list in one JSON-RPC batch; fails on the first
    /// error any call answered.
    pub(crate) fn call_batch(&self, method: &str, params: &[Value]) -> anyhow::Result<()> {
        let body: Vec<Value> = params
            .iter()
            .enumerate()
            .map(|(id, p)| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": p}))
            .collect();
        let response = self
            .agent
            .post(&self.url)
            .set("Authorization", &self.authorization)
            .send_json(Value::Array(body));
        let replies: Value = match response {
            Ok(r) => r.into_json()?,
            Err(ureq::Error::Status(_, r)) => r.into_json()?,
            Err(e) => return Err(anyhow!("{method}: {e}")),
        };
        let errors = replies.as_array().into_iter().flatten();
        if let Some(error) = errors.filter_map(|r| r.get("error")).find(|e| !e.is_null()) {
            return Err(anyhow!("{method}: {error}"));
        }
        Ok(())
    }
}
