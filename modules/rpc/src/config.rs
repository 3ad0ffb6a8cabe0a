//! The `[rpc]` table of a profile, and where the server listens.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use std::path::Path;

use node_api::ConfigError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

use crate::rpcauth::RpcAuth;
use crate::whitelist::Whitelist;

/// The `[rpc]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// `host:port`, or a bare IP address that takes the chain's default RPC port.
    /// `None`: 127.0.0.1 on the chain's default RPC port. Any address given is used as it
    /// is: exposing the port beyond loopback is the operator's choice, as with bitcoind.
    pub listen: Option<String>,
    /// A user name accepted besides the cookie; set together with `password`.
    pub user: Option<String>,
    /// The password of `user`. Shown masked by `listmodules`.
    #[serde(serialize_with = "mask")]
    pub password: Option<String>,
    /// Salted credentials in Bitcoin Core's rpcauth format, `USER:SALT$HASH` (HMAC-SHA256
    /// of the password keyed by the salt), as `node rpcauth USER` prints them: the profile
    /// holds no password. Accepted besides the cookie and `user`.
    pub auth: Vec<String>,
    /// Per-user method allow lists, `USER:METHOD,METHOD...`, as Core's `-rpcwhitelist`:
    /// a user with a list may call only those methods (others answer HTTP 403).
    pub whitelist: Vec<String>,
    /// Whether users without a whitelist are refused every method, as Core's
    /// `-rpcwhitelistdefault`. Unset: true when `whitelist` has entries (so the cookie's
    /// user needs `false` here or a list of its own), false otherwise.
    pub whitelist_default: Option<bool>,
    /// Largest request body accepted; a larger one is answered 413 without being read.
    /// Unset: the chain's largest block in hex plus [`BODY_ROOM`], so `submitblock` of
    /// any valid block fits; a value that cannot hold that block is refused at start.
    pub max_body_bytes: Option<usize>,
    /// Calls in one JSON-RPC batch; a larger batch is refused whole (-32600) before any
    /// call runs, so one request cannot queue unbounded work.
    pub max_batch_calls: usize,
    /// Bytes of replies one batch may accumulate; once over, its remaining calls are not
    /// run and answer -7 (Core's `RPC_OUT_OF_MEMORY`). A single call's reply is bounded
    /// by its method (the largest is a verbose block).
    pub max_batch_response_bytes: usize,
    /// Connections open at once. When all are taken, a new client closes the connection
    /// idle the longest (one that sent nothing yet, or between requests); only when every
    /// one is answering a request do further clients wait in the listen backlog.
    pub max_connections: usize,
    /// How long a request with a wrong or missing credential waits before its 401, to slow
    /// down password guessing (bitcoind waits 250 ms too).
    pub auth_failure_delay_ms: u64,
    /// Failed logins each client address (an IPv6 /64) gets evaluated per second, over
    /// all its connections (and in a burst after a quiet second); further credentials
    /// from that address wait their turn. Other addresses are not delayed.
    pub max_failed_logins_per_second: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            listen: None,
            user: None,
            password: None,
            auth: Vec::new(),
            whitelist: Vec::new(),
            whitelist_default: None,
            // Derived from the chain in effect (see `body_limit`).
            max_body_bytes: None,
            // Scripts batch a few hundred calls (a block's transactions, an address
            // range); 1,000 bounds a batch's work and memory and leaves them room.
            max_batch_calls: 1_000,
            // Twice bitcoind's 32 MB body limit would already be generous for replies:
            // a batch of 1,000 `getrawtransaction` of large transactions fits.
            max_batch_response_bytes: 32 << 20,
            // Enough for scripts and a block explorer polling in parallel; each connection
            // costs a task and a few KiB of buffers.
            max_connections: 128,
            // bitcoind's value.
            auth_failure_delay_ms: 250,
            // Below bitcoind's effective cap (4 worker threads each sleeping 250 ms: 16/s):
            // 864,000 guesses a day per address leaves a 12-character random password
            // out of reach; a client at another address is not delayed.
            max_failed_logins_per_second: 10,
        }
    }
}

/// What the default body limit leaves beyond the largest block in hex: the JSON around
/// it, a batch of small calls beside it, `getblocktemplate` proposals with their
/// parameters. bitcoind allows 32 MB whatever its block size.
pub const BODY_ROOM: usize = 1 << 20;

/// The smallest body that carries `submitblock` of a `max_block_size` block: its hex
/// and the call around it.
pub fn min_body_bytes(max_block_size: usize) -> usize {
    max_block_size.saturating_mul(2).saturating_add(1024)
}

fn mask<S: Serializer>(password: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match password {
        Some(_) => serializer.serialize_str("********"),
        None => serializer.serialize_none(),
    }
}

impl RpcConfig {
    /// Checks the values that serde cannot, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| ConfigError::Invalid {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        match (&self.user, &self.password) {
            (Some(_), None) => {
                return Err(invalid(
                    "user",
                    "is set without password; set both or neither",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "password",
                    "is set without user; set both or neither",
                ))
            }
            (Some(user), Some(_)) if user.contains(':') => {
                return Err(invalid(
                    "user",
                    "must not contain ':' (HTTP Basic auth splits on it)",
                ))
            }
            _ => {}
        }
        self.salted_auth()?;
        self.parsed_whitelist()?;
        if self.max_batch_calls == 0 {
            return Err(invalid("max_batch_calls", "must be at least 1"));
        }
        if self.max_batch_response_bytes < 1024 {
            return Err(invalid("max_batch_response_bytes", "must be at least 1024"));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.max_failed_logins_per_second == 0 {
            return Err(invalid(
                "max_failed_logins_per_second",
                "must be at least 1 (a wrong password would lock every client out)",
            ));
        }
        Ok(())
    }

    /// The `auth` entries, parsed; a bad one is named by its position and user.
    pub fn salted_auth(&self) -> Result<Vec<RpcAuth>, ConfigError> {
        self.auth
            .iter()
            .enumerate()
            .map(|(i, line)| {
                RpcAuth::parse(line).map_err(|reason| ConfigError::Invalid {
                    key: "auth".to_string(),
                    reason: format!("entry {}: {reason}", i + 1),
                })
            })
            .collect()
    }

    /// The `whitelist` entries with `whitelist_default`, parsed.
    pub(crate) fn parsed_whitelist(&self) -> Result<Whitelist, ConfigError> {
        Whitelist::parse(&self.whitelist, self.whitelist_default).map_err(|reason| {
            ConfigError::Invalid {
                key: "whitelist".to_string(),
                reason,
            }
        })
    }

    /// The address to listen on for `chain` (a name or a chain spec file relative to
    /// `base`, as `[node] chain`).
    pub fn listen_addr(&self, chain: &str, base: &Path) -> Result<SocketAddr, ConfigError> {
        listen_addr(self.listen.as_deref(), chain, base)
    }

    /// The largest request body for a chain whose blocks reach `max_block_size` bytes:
    /// the setting, or the default derived from the block size. A setting that cannot
    /// hold `submitblock` of the largest block is refused, naming the size it needs.
    pub fn body_limit(&self, max_block_size: usize) -> Result<usize, ConfigError> {
        let needed = min_body_bytes(max_block_size);
        match self.max_body_bytes {
            None => Ok(needed.saturating_add(BODY_ROOM)),
            Some(set) if set >= needed => Ok(set),
            Some(set) => Err(ConfigError::Invalid {
                key: "max_body_bytes".to_string(),
                reason: format!(
                    "{set} bytes cannot hold submitblock of the chain's largest block \
                     ({max_block_size} bytes, {} hex characters): set at least {needed}, \
                     or remove the key for the default ({})",
                    max_block_size * 2,
                    needed.saturating_add(BODY_ROOM)
                ),
            }),
        }
    }

    /// The delay before a 401.
    pub fn auth_failure_delay(&self) -> Duration {
        Duration::from_millis(self.auth_failure_delay_ms)
    }
}

/// Resolves an `rpc.listen` value: `host:port`, a bare IP (the chain's port), or `None`
/// (127.0.0.1 on the chain's port).
pub(crate) fn listen_addr(
    listen: Option<&str>,
    chain: &str,
    base: &Path,
) -> Result<SocketAddr, ConfigError> {
    // Asked only when no port is given, so `host:port` works whatever the chain is called.
    // The server and `node rpc` resolve the chain as the chain module does.
    let chain_port = || {
        node_api::chain::resolve(chain, base)
            .map(|spec| spec.rpc_port)
            .map_err(|e| ConfigError::Invalid {
                key: "listen".to_string(),
                reason: format!("no default RPC port: {e}; give one as host:port"),
            })
    };
    let Some(text) = listen else {
        return Ok(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            chain_port()?,
        ));
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A bare IPv6 address may come with or without brackets.
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, chain_port()?));
    }
    Err(ConfigError::Invalid {
        key: "listen".to_string(),
        reason: format!("{text:?} is neither ip:port nor an IP address (e.g. \"127.0.0.1:18443\")"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_api::chain::ChainSpec;

    #[test]
    fn default_listens_on_loopback_at_the_chain_port() {
        let c = RpcConfig::default();
        assert_eq!(
            c.listen_addr("regtest", Path::new("")).unwrap(),
            "127.0.0.1:18443".parse().unwrap()
        );
        for spec in ChainSpec::all() {
            let addr = c.listen_addr(&spec.name, Path::new("")).unwrap();
            assert_eq!(
                addr,
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), spec.rpc_port)
            );
        }
        let err = c
            .listen_addr("mainnet", Path::new(""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mainnet") && err.contains("listen"), "{err}");
        // A port given needs no chain spec.
        let c = RpcConfig {
            listen: Some("127.0.0.1:9".into()),
            ..RpcConfig::default()
        };
        assert_eq!(c.listen_addr("mainnet", Path::new("")).unwrap().port(), 9);
    }

    #[test]
    fn listen_accepts_address_with_or_without_port() {
        assert_eq!(
            listen_addr(Some("0.0.0.0:9"), "x", Path::new("")).unwrap(),
            "0.0.0.0:9".parse().unwrap()
        );
        assert_eq!(
            listen_addr(Some("10.0.0.1"), "regtest", Path::new("")).unwrap(),
            "10.0.0.1:18443".parse().unwrap()
        );
        assert_eq!(
            listen_addr(Some("[::1]:5"), "x", Path::new("")).unwrap(),
            "[::1]:5".parse().unwrap()
        );
        assert_eq!(
            listen_addr(Some("::1"), "dev", Path::new("")).unwrap(),
            "[::1]:28443".parse().unwrap()
        );
        let err = listen_addr(Some("localhost:1"), "dev", Path::new(""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("localhost:1"), "{err}");
    }

    #[test]
    fn user_and_password_go_together() {
        let mut c = RpcConfig {
            user: Some("u".into()),
            ..RpcConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("password"));
        c.password = Some("p".into());
        c.validate().unwrap();
        c.user = None;
        assert!(c.validate().unwrap_err().to_string().contains("user"));
    }

    #[test]
    fn limits_are_checked() {
        let c = RpcConfig {
            max_connections: 0,
            ..RpcConfig::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_connections"));
        let c = RpcConfig {
            max_batch_calls: 0,
            ..RpcConfig::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_batch_calls"));
    }

    #[test]
    fn the_body_limit_fits_the_chains_largest_block() {
        let c = RpcConfig::default();
        assert_eq!(c.body_limit(1_000_000).unwrap(), 2_001_024 + BODY_ROOM);
        assert_eq!(c.body_limit(4_000_000).unwrap(), 8_001_024 + BODY_ROOM);
        let c = RpcConfig {
            max_body_bytes: Some(1 << 20),
            ..RpcConfig::default()
        };
        let err = c.body_limit(1_000_000).unwrap_err().to_string();
        assert!(
            err.contains("max_body_bytes") && err.contains("2001024") && err.contains("1000000"),
            "{err}"
        );
        assert_eq!(c.body_limit(100_000).unwrap(), 1 << 20);
    }

    #[test]
    fn bad_auth_and_whitelist_entries_name_their_key() {
        let c = RpcConfig {
            auth: vec![RpcAuth::new("a", "p").line(), "bob:nosalt".into()],
            ..RpcConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("auth") && err.contains("entry 2") && err.contains("bob"),
            "{err}"
        );
        let c = RpcConfig {
            whitelist: vec!["monitor".into()],
            ..RpcConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("whitelist") && err.contains("monitor"),
            "{err}"
        );
    }

    #[test]
    fn password_is_masked_when_shown() {
        let c = RpcConfig {
            user: Some("u".into()),
            password: Some("secret".into()),
            ..RpcConfig::default()
        };
        let shown = serde_json::to_string(&c).unwrap();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<RpcConfig>(r#"{"lisen": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }
}
