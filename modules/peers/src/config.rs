//! The `[peers]` table of a profile, and the settings resolved from it and the chain spec.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use node_api::chain::ChainSpec;
use node_api::ConfigError;
use node_p2p::{HEADER_LEN, MAX_INV, MAX_USER_AGENT};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[peers]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PeersConfig {
    /// TCP address to listen on, `ip:port` or a bare IP taking the chain's P2P port.
    /// `None`: `0.0.0.0` on the chain's P2P port. The discovery module binds UDP on the
    /// same address.
    pub listen: Option<String>,
    /// `host:port` of the only peers to connect to (reconnecting with backoff); when set,
    /// no other outbound connection is made.
    pub connect: Vec<String>,
    /// `host:port` of peers to keep connected to, besides those found automatically.
    pub addnode: Vec<String>,
    /// Inbound connections accepted at once; more are refused.
    pub max_inbound: usize,
    /// Outbound connections made to automatically chosen addresses (those of `connect`,
    /// `addnode` and the `addnode` RPC come on top).
    pub max_outbound: usize,
    /// How long a misbehaving peer's address stays banned.
    pub ban_secs: u64,
    /// Bans kept at once; the one ending first makes room.
    pub max_bans: usize,
    /// Seconds between pings to each peer.
    pub ping_interval_secs: u64,
    /// A peer that has not answered a ping within this many seconds is disconnected.
    pub ping_timeout_secs: u64,
    /// A connection that has not completed version/verack within this many seconds is
    /// closed; also the TCP connect timeout.
    pub handshake_timeout_secs: u64,
    /// Largest payload accepted; a frame declaring more ends the connection before any of
    /// it is read.
    pub max_message_bytes: usize,
    /// Bytes queued for one peer; a peer that lets more pile up is not reading and is
    /// disconnected.
    pub send_buffer_bytes: usize,
    /// Blocks asked for with `getdata` are served only while at most this many bytes
    /// are queued for the peer; past it, serving (and reading that peer) waits until the
    /// peer has read what is queued.
    pub getdata_pause_bytes: usize,
    /// Bytes (as sent on the wire) of one peer's messages that other modules may hold
    /// at once, queued or at work; past it, the peer's socket is not read until they
    /// have let go.
    pub receive_buffer_bytes: usize,
    /// Inventory hashes remembered per peer, to announce nothing it already has.
    pub known_inventory: usize,
    /// What `version` says we are (and `getnetworkinfo`'s `subversion`).
    pub user_agent: String,
    /// Serve BIP157 compact block filters (`getcfilters`, `getcfheaders`,
    /// `getcfcheckpt`) and advertise NODE_COMPACT_FILTERS when `[chain]
    /// block_filter_index` is on (Bitcoin Core's `-peerblockfilters`); no effect when the
    /// index is off.
    pub block_filters: bool,
    /// `getnetworkinfo`'s `version`: the Bitcoin Core release (major * 10000 + minor *
    /// 100) whose RPC answers ours follow, so clients that branch on it (bitcoincore-rpc
    /// reads below 190000 as Core 0.18's `getblockchaininfo`) read ours right. Our own
    /// name and version are in `subversion` (`user_agent`).
    pub core_rpc_version: u32,
}

impl Default for PeersConfig {
    fn default() -> Self {
        PeersConfig {
            listen: None,
            connect: Vec::new(),
            addnode: Vec::new(),
            // Each connection costs two tasks, its send buffer and its inventory set;
            // 64 keeps a small machine comfortable.
            max_inbound: 64,
            // Bitcoin Core's full-relay outbound count.
            max_outbound: 8,
            // Bitcoin Core's default ban time, one day.
            ban_secs: 86_400,
            // Enough for any real abuse; bounds the memory a scan of addresses can take.
            max_bans: 1000,
            // Bitcoin Core pings every two minutes; once a minute measures latency
            // sooner and costs 32 bytes.
            ping_interval_secs: 60,
            // A peer that cannot answer a ping in 30 s is of no use for sync or relay.
            ping_timeout_secs: 30,
            // A handshake is two round trips; 10 s allows a slow link, and frees a slot
            // held by a silent client quickly.
            handshake_timeout_secs: 10,
            // A full 50,000-item inv (1.8 MB) and a 1 MB block both fit. Bitcoin Core
            // allows 4 MB for its 4 MB blocks; ours are at most 1 MB (blocks and
            // transactions are held to the chain's own limit on top of this one).
            max_message_bytes: 2_000_000,
            // One largest message above the `getdata` pause, and 1 MB of announcements.
            send_buffer_bytes: 4_000_000,
            // Bitcoin Core's -maxsendbuffer (1000 KB): where it stops serving getdata.
            getdata_pause_bytes: 1_000_000,
            // Bitcoin Core's -maxreceivebuffer (5000 KB): where it stops reading a peer.
            receive_buffer_bytes: 5_000_000,
            // 20,000 keys of 8 bytes (about 0.5 MB per peer): the last several minutes
            // of a busy transaction flow.
            known_inventory: 20_000,
            user_agent: format!("/node:{}/", env!("CARGO_PKG_VERSION")),
            // Serving costs nothing until asked, and is what the index is for.
            block_filters: true,
            // Core 27.x: its `getblockchaininfo` has no `softforks` (gone since 23.0, in
            // `getdeploymentinfo` as here) and a string `warnings` (an array from 28.0),
            // as ours; `getnetworkinfo`, `getindexinfo` and `getblockfilter` match it too.
            core_rpc_version: 270_000,
        }
    }
}

/// The configuration after checks, with the listen address resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) listen: SocketAddr,
    pub(crate) default_port: u16,
    pub(crate) connect: Vec<String>,
    pub(crate) addnode: Vec<String>,
    pub(crate) max_inbound: usize,
    pub(crate) max_outbound: usize,
    pub(crate) ban: Duration,
    pub(crate) max_bans: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) send_buffer_bytes: usize,
    pub(crate) getdata_pause_bytes: usize,
    pub(crate) receive_buffer_bytes: usize,
    /// The chain's block size limit: no `block` or `tx` payload can be larger.
    pub(crate) max_block_bytes: usize,
    pub(crate) known_inventory: usize,
    pub(crate) user_agent: String,
    pub(crate) block_filters: bool,
    pub(crate) core_rpc_version: u32,
    pub(crate) magic: [u8; 4],
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl PeersConfig {
    /// Checks the values serde cannot and resolves them against the chain spec, which
    /// the module reads from the chain service at start. Without a spec (when the profile
    /// is checked) only what does not depend on the chain is checked: default ports and
    /// the magic are placeholders then.
    pub(crate) fn resolve(&self, spec: Option<&ChainSpec>) -> Result<Settings, ConfigError> {
        let port = spec.map_or(0, |spec| spec.p2p_port);
        let listen = match &self.listen {
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            Some(text) => text
                .parse::<SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, port)))
                .map_err(|_| {
                    invalid(
                        "listen",
                        format!("{text:?} is not an ip:port or an IP address"),
                    )
                })?,
        };
        let targets = |key: &str, list: &[String]| {
            list.iter()
                .map(|t| {
                    normalize_target(t, port).ok_or_else(|| {
                        invalid(key, format!("{t:?} is not host:port, ip:port or a host"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let connect = targets("connect", &self.connect)?;
        let addnode = targets("addnode", &self.addnode)?;
        for (key, value) in [
            ("ping_interval_secs", self.ping_interval_secs),
            ("ping_timeout_secs", self.ping_timeout_secs),
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("ban_secs", self.ban_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.max_bans == 0 {
            return Err(invalid("max_bans", "must be at least 1"));
        }
        let full_inv = 3 + MAX_INV * 36;
        let max_block_size = spec.map_or(0, |spec| spec.max_block_size);
        let needed = max_block_size.max(full_inv);
        if self.max_message_bytes < needed || self.max_message_bytes > u32::MAX as usize {
            return Err(invalid(
                "max_message_bytes",
                format!(
                    "{} cannot carry a full block ({} bytes on chain {}) and a full inv \
                     ({full_inv} bytes); give at least {needed}, at most {}",
                    self.max_message_bytes,
                    max_block_size,
                    spec.map_or("", |spec| &spec.name),
                    u32::MAX
                ),
            ));
        }
        if self.send_buffer_bytes < self.max_message_bytes + HEADER_LEN
            || self.send_buffer_bytes > u32::MAX as usize
        {
            return Err(invalid(
                "send_buffer_bytes",
                format!(
                    "{} must hold at least one largest message ({} bytes) and at most {}",
                    self.send_buffer_bytes,
                    self.max_message_bytes + HEADER_LEN,
                    u32::MAX
                ),
            ));
        }
        let room = self.send_buffer_bytes - (self.max_message_bytes + HEADER_LEN);
        if self.getdata_pause_bytes > room {
            // A block served at the pause must still fit, or the peer is dropped for what
            // we chose to send it.
            return Err(invalid(
                "getdata_pause_bytes",
                format!(
                    "{} leaves no room for one largest message under send_buffer_bytes \
                     ({}); give at most {room}",
                    self.getdata_pause_bytes, self.send_buffer_bytes
                ),
            ));
        }
        if self.user_agent.len() > MAX_USER_AGENT {
            return Err(invalid("user_agent", "longer than 256 bytes"));
        }
        Ok(Settings {
            listen,
            default_port: port,
            connect,
            addnode,
            max_inbound: self.max_inbound,
            max_outbound: self.max_outbound,
            ban: Duration::from_secs(self.ban_secs),
            max_bans: self.max_bans,
            ping_interval: Duration::from_secs(self.ping_interval_secs),
            ping_timeout: Duration::from_secs(self.ping_timeout_secs),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            max_message_bytes: self.max_message_bytes,
            send_buffer_bytes: self.send_buffer_bytes,
            getdata_pause_bytes: self.getdata_pause_bytes,
            receive_buffer_bytes: self.receive_buffer_bytes,
            max_block_bytes: spec.map_or(0, |spec| spec.max_block_size),
            known_inventory: self.known_inventory,
            user_agent: self.user_agent.clone(),
            block_filters: self.block_filters,
            core_rpc_version: self.core_rpc_version,
            magic: spec.map_or([0; 4], |spec| spec.magic),
        })
    }
}

/// `text` as `host:port` (IPv6 in brackets), the port defaulting to `port`; `None` if it
/// cannot name a node.
pub(crate) fn normalize_target(text: &str, port: u16) -> Option<String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.to_string());
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port).to_string());
    }
    let host_ok = |host: &str| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    match text.rsplit_once(':') {
        Some((host, p)) if host_ok(host) && p.parse::<u16>().is_ok_and(|p| p != 0) => {
            Some(text.to_string())
        }
        None if host_ok(text) => Some(format!("{text}:{port}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regtest() -> std::sync::Arc<ChainSpec> {
        ChainSpec::by_name("regtest").unwrap()
    }

    #[test]
    fn defaults_resolve_to_the_chain_port() {
        let settings = PeersConfig::default().resolve(Some(&regtest())).unwrap();
        assert_eq!(settings.listen, "0.0.0.0:18444".parse().unwrap());
        assert_eq!(settings.magic, regtest().magic);
        let config = PeersConfig {
            listen: Some("127.0.0.1".into()),
            connect: vec!["localhost".into(), "[::1]:9".into(), "10.0.0.1".into()],
            ..PeersConfig::default()
        };
        let settings = config.resolve(Some(&regtest())).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:18444".parse().unwrap());
        assert_eq!(
            settings.connect,
            ["localhost:18444", "[::1]:9", "10.0.0.1:18444"]
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            PeersConfig {
                listen: Some("nowhere:x".into()),
                ..PeersConfig::default()
            },
            PeersConfig {
                addnode: vec!["a b:1".into()],
                ..PeersConfig::default()
            },
            PeersConfig {
                max_message_bytes: 1000,
                ..PeersConfig::default()
            },
            PeersConfig {
                send_buffer_bytes: 1000,
                ..PeersConfig::default()
            },
            PeersConfig {
                ping_timeout_secs: 0,
                ..PeersConfig::default()
            },
        ];
        let keys = [
            "listen",
            "addnode",
            "max_message_bytes",
            "send_buffer_bytes",
            "ping_timeout_secs",
        ];
        for (config, key) in cases.iter().zip(keys) {
            match config.resolve(Some(&regtest())) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        }
    }
}
