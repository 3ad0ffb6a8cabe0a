//! The client behind `node rpc METHOD [ARGS...]`, in the manner of bitcoin-cli: it finds
//! the node's address and credentials from the same profile, data directory and `--set`
//! flags the node was started with, sends one JSON-RPC 1.0-style call (after asking the
//! node how the method's parameters convert, when arguments are given) and returns the
//! result or the node's error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use node_api::{ConfigError, Profile};
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::auth::basic_authorization;
use crate::config::listen_addr;
use crate::convert::{self, declared_params, DeclaredParam};
use crate::cookie::{read_cookie, ADDRESS_FILE, COOKIE_FILE};
use crate::error::ClientError;

/// A node that does not accept the connection within this time is reported as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `rpc.user` and `rpc.password` from the profile.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// The cookie file the node wrote, read at call time.
    Cookie(PathBuf),
}

impl Credentials {
    fn resolve(&self) -> Result<(String, String), ClientError> {
        match self {
            Credentials::UserPassword { user, password } => Ok((user.clone(), password.clone())),
            Credentials::Cookie(path) => read_cookie(path).map_err(|e| ClientError::Cookie {
                path: path.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

/// Where the node is and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The credentials to send.
    pub credentials: Credentials,
}

impl ClientSettings {
    /// Reads `[rpc]` of a loaded profile (file, `NODE_` variables and `--set` already
    /// layered): `listen` (defaults as the server's; when it is not given or names port
    /// 0, the address a running node wrote to `DATADIR/rpc.addr`), and `user` with `password` if both
    /// are set, otherwise the cookie in the profile's data directory, as bitcoin-cli does.
    pub fn from_profile(profile: &Profile) -> Result<Self, ClientError> {
        let table = profile.merged.get("rpc");
        let listen = string_at(table, "listen")?;
        let addr = listen_addr(
            listen.as_deref(),
            &profile.node.chain,
            &profile.node.chain_base,
        )
        .map_err(|e| match e {
            ConfigError::Invalid { key, reason } => ClientError::Config { key, reason },
            other => ClientError::Config {
                key: "listen".to_string(),
                reason: other.to_string(),
            },
        })?;
        // A server asked for port 0, or not told where to listen, says where it is in
        // the data directory (a running node's file wins over the default port).
        let published = std::fs::read_to_string(profile.node.datadir.join(ADDRESS_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<SocketAddr>().ok());
        let addr = match published {
            Some(found) if listen.is_none() || addr.port() == 0 => found,
            _ => addr,
        };
        let credentials = match (string_at(table, "user")?, string_at(table, "password")?) {
            (Some(user), Some(password)) => Credentials::UserPassword { user, password },
            _ => Credentials::Cookie(profile.node.datadir.join(COOKIE_FILE)),
        };
        Ok(ClientSettings {
            addr: connectable(addr),
            credentials,
        })
    }
}

/// A server listening on every interface is reached on loopback.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// A scalar of the `[rpc]` table as text (an override may have made a password a
/// number); `None` when absent.
fn string_at(table: Option<&Value>, key: &str) -> Result<Option<String>, ClientError> {
    match table.and_then(|t| t.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(other) => Err(ClientError::Config {
            key: key.to_string(),
            reason: format!("expected a string, found {other}"),
        }),
    }
}

/// Calls `method` with positional `params` on the node and returns its result.
pub async fn call(
    settings: &ClientSettings,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, ClientError> {
    request(settings, method, Value::Array(params)).await
}

/// Calls `method` with `params`, an array of positional parameters or an object of named
/// ones.
async fn request(
    settings: &ClientSettings,
    method: &str,
    params: Value,
) -> Result<Value, ClientError> {
    let addr = settings.addr;
    let (user, password) = settings.credentials.resolve()?;
    let protocol = |reason: String| ClientError::Protocol { addr, reason };

    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return Err(ClientError::Connect {
                addr,
                reason: e.to_string(),
            })
        }
        Err(_) => {
            return Err(ClientError::Connect {
                addr,
                reason: format!("no answer within {CONNECT_TIMEOUT:?}"),
            })
        }
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| protocol(e.to_string()))?;
    // The connection ends by itself once the sender is dropped.
    tokio::spawn(connection);

    // 1.0-style, as bitcoin-cli long sent: the node answers with result and error.
    let body = json!({"jsonrpc": "1.0", "id": "node-rpc", "method": method, "params": params});
    let request = Request::post("/")
        .header(HOST, addr.to_string())
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, basic_authorization(&user, &password))
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| protocol(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| protocol(e.to_string()))?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        return Err(ClientError::Unauthorized { addr });
    }
    if status == StatusCode::FORBIDDEN {
        return Err(ClientError::Forbidden {
            addr,
            method: method.to_string(),
        });
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| protocol(e.to_string()))?
        .to_bytes();
    let mut reply: Value = serde_json::from_slice(&bytes).map_err(|_| {
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.chars().take(200).collect();
        protocol(format!("HTTP {status}: {text}"))
    })?;
    match reply.get("error") {
        None | Some(Value::Null) => {}
        Some(error) => {
            return Err(ClientError::Rpc {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: match error.get("message") {
                    Some(Value::String(m)) => m.clone(),
                    _ => error.to_string(),
                },
            })
        }
    }
    match reply.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => Err(protocol(format!(
            "HTTP {status}: a reply without result: {reply}"
        ))),
    }
}

/// The parameters `method` declares, asked of the node with `getmethodparams`; `None`
/// when the node does not describe it (an unknown method, a node without
/// `getmethodparams`, a whitelist that leaves it out), and the arguments are guessed.
async fn describe(
    settings: &ClientSettings,
    method: &str,
) -> Result<Option<Vec<DeclaredParam>>, ClientError> {
    match call(settings, "getmethodparams", vec![json!(method)]).await {
        Ok(answer) => Ok(declared_params(&answer)),
        Err(ClientError::Rpc { .. } | ClientError::Forbidden { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `node rpc` runs: reads `[rpc]` from `profile`, turns `args` into parameters as
/// the method declares them (see [`crate::convert`]; `name=value` pairs when `named`, as
/// bitcoin-cli's `-named`), calls `method` and returns the result. A call with arguments
/// costs one more round trip, to learn the parameters. It starts its own small runtime,
/// so it must be called outside any tokio runtime.
pub fn cli_call(
    profile: &Profile,
    method: &str,
    args: &[String],
    named: bool,
) -> Result<Value, ClientError> {
    let settings = ClientSettings::from_profile(profile)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Protocol {
            addr: settings.addr,
            reason: format!("cannot start the client runtime: {e}"),
        })?;
    runtime.block_on(async {
        let declared = if args.is_empty() {
            None
        } else {
            describe(&settings, method).await?
        };
        let params = if named {
            Value::Object(convert::named(method, args, declared.as_deref())?)
        } else {
            Value::Array(convert::positional(method, args, declared.as_deref())?)
        };
        request(&settings, method, params).await
    })
}

/// A result as bitcoin-cli prints it: nothing for null, a string as it is (so `help`
/// reads as text), anything else as JSON indented by two spaces, numbers exactly as the
/// node wrote them (amounts with 8 decimals). Print it followed by a newline unless it is
/// empty.
pub fn format_cli_output(result: &Value) -> String {
    match result {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_kernel::ProfileSource;

    fn profile(text: &'static str, sets: &[&str]) -> Profile {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Profile::load(
            &ProfileSource::Embedded { name: "t", text },
            [],
            &sets,
            Some("/data/dir".into()),
        )
        .unwrap()
    }

    #[test]
    fn settings_default_to_the_chain_port_and_the_cookie() {
        let p = profile("[node]\nmodules = [\"rpc\"]\nchain = \"regtest\"\n", &[]);
        let s = ClientSettings::from_profile(&p).unwrap();
        assert_eq!(s.addr, "127.0.0.1:18443".parse().unwrap());
        assert_eq!(
            s.credentials,
            Credentials::Cookie("/data/dir/.cookie".into())
        );
    }

    #[test]
    fn settings_follow_the_profile_and_overrides() {
        let p = profile(
            "[node]\nmodules = [\"rpc\"]\nchain = \"dev\"\n[rpc]\nlisten = \"0.0.0.0:9999\"\nuser = \"alice\"\n",
            &["rpc.password=1234"],
        );
        let s = ClientSettings::from_profile(&p).unwrap();
        assert_eq!(s.addr, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(
            s.credentials,
            Credentials::UserPassword {
                user: "alice".into(),
                password: "1234".into()
            }
        );
        let p = profile("[node]\nmodules = []\nchain = \"other\"\n", &[]);
        let err = ClientSettings::from_profile(&p).unwrap_err().to_string();
        assert!(err.contains("listen") && err.contains("other"), "{err}");
    }

    #[test]
    fn output_looks_like_bitcoin_cli() {
        assert_eq!(format_cli_output(&Value::Null), "");
        assert_eq!(format_cli_output(&json!("line\nline")), "line\nline");
        assert_eq!(format_cli_output(&json!(7)), "7");
        assert_eq!(
            format_cli_output(&json!({"balance": node_api::rpc::amount(150_000_000)})),
            "{\n  \"balance\": 1.50000000\n}"
        );
        let parsed: Value = serde_json::from_str(r#"{"fee":0.00001000}"#).unwrap();
        assert_eq!(format_cli_output(&parsed), "{\n  \"fee\": 0.00001000\n}");
    }

    #[tokio::test]
    async fn a_missing_cookie_or_node_is_explained() {
        let s = ClientSettings {
            addr: "127.0.0.1:1".parse().unwrap(),
            credentials: Credentials::Cookie("/nonexistent/.cookie".into()),
        };
        let err = call(&s, "uptime", vec![]).await.unwrap_err().to_string();
        assert!(err.contains("/nonexistent/.cookie"), "{err}");
        let s = ClientSettings {
            addr: "127.0.0.1:1".parse().unwrap(),
            credentials: Credentials::UserPassword {
                user: "u".into(),
                password: "p".into(),
            },
        };
        let err = call(&s, "uptime", vec![]).await.unwrap_err().to_string();
        assert!(
            err.contains("127.0.0.1:1") && err.contains("node running"),
            "{err}"
        );
    }
}
