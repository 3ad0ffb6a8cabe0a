//! Where the observability plugins (`metrics`, `health`) listen unless their profile
//! table says otherwise: one default, so that both share one listener out of the box.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use node_kernel::ConfigError;

/// The monitoring port is the chain's RPC port plus this: regtest 19443, dev 29443,
/// testnet 39443, and a chain spec file's `rpc_port` plus 1000. Beside the RPC port so an operator finds it, and a different one per
/// chain so nodes of several chains on one host do not collide.
pub const MONITORING_PORT_OFFSET: u16 = 1000;

/// Resolves a `listen` value of a monitoring plugin: `host:port`, or `None` for
/// 127.0.0.1 on the chain's monitoring port (loopback: scrapes are unauthenticated): the
/// chain spec's `rpc_port` plus [`MONITORING_PORT_OFFSET`], for a built-in chain name and
/// a chain spec file alike (`chain` and `base` as in `[node]`: a file's path is relative
/// to the profile's directory).
pub fn monitoring_listen(
    listen: Option<&str>,
    chain: &str,
    base: &Path,
) -> Result<SocketAddr, ConfigError> {
    match listen {
        Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen".to_string(),
            reason: format!("{text:?} is not ip:port (e.g. \"127.0.0.1:19443\")"),
        }),
        None => {
            let no_default = |reason: String| ConfigError::Invalid {
                key: "listen".to_string(),
                reason: format!("no default monitoring port: {reason}; give one as host:port"),
            };
            let spec = node_chain::resolve(chain, base).map_err(|e| no_default(e.to_string()))?;
            let port = spec
                .rpc_port
                .checked_add(MONITORING_PORT_OFFSET)
                .ok_or_else(|| {
                    no_default(format!(
                        "chain {}'s rpc_port {} plus {MONITORING_PORT_OFFSET} is past 65535",
                        spec.name, spec.rpc_port
                    ))
                })?;
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_loopback_at_the_rpc_port_plus_the_offset() {
        let base = Path::new("/");
        let addr = monitoring_listen(None, "regtest", base).unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:19443");
        assert_eq!(
            monitoring_listen(Some("0.0.0.0:9100"), "regtest", base)
                .unwrap()
                .to_string(),
            "0.0.0.0:9100"
        );
        let err = monitoring_listen(Some("nowhere"), "regtest", base).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        let err = monitoring_listen(None, "mainnet", base).unwrap_err();
        assert!(err.to_string().contains("host:port"), "{err}");
    }

    #[test]
    fn a_chain_spec_file_has_a_default_from_its_rpc_port() {
        let dir = std::env::temp_dir().join(format!("monitoring-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("chains")).unwrap();
        let mut spec =
            node_chain::ChainSpec::clone(&node_chain::ChainSpec::by_name("regtest").unwrap());
        spec.name = "mine".to_string();
        spec.rpc_port = 48443;
        std::fs::write(dir.join("chains/mine.toml"), spec.to_toml()).unwrap();
        let addr = monitoring_listen(None, "chains/mine.toml", &dir);
        spec.rpc_port = 65000;
        std::fs::write(dir.join("chains/high.toml"), spec.to_toml()).unwrap();
        let high = monitoring_listen(None, "chains/high.toml", &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(addr.unwrap().to_string(), "127.0.0.1:49443");
        let err = high.unwrap_err().to_string();
        assert!(err.contains("65535") && err.contains("host:port"), "{err}");
    }
}
