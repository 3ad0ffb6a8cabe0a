//! Where the observability plugins (`metrics`, `health`) listen unless their profile
//! table says otherwise: one default, so that both share one listener out of the box.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use node_chain::ChainSpec;
use node_kernel::ConfigError;

/// The monitoring port is the chain's RPC port plus this: regtest 19443, dev 29443,
/// testnet 39443. Beside the RPC port so an operator finds it, and a different one per
/// chain so nodes of several chains on one host do not collide.
pub const MONITORING_PORT_OFFSET: u16 = 1000;

/// Resolves a `listen` value of a monitoring plugin: `host:port`, or `None` for
/// 127.0.0.1 on the chain's monitoring port (loopback: scrapes are unauthenticated).
pub fn monitoring_listen(listen: Option<&str>, chain: &str) -> Result<SocketAddr, ConfigError> {
    match listen {
        Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen".to_string(),
            reason: format!("{text:?} is not ip:port (e.g. \"127.0.0.1:19443\")"),
        }),
        None => {
            let spec = ChainSpec::by_name(chain).map_err(|e| ConfigError::Invalid {
                key: "listen".to_string(),
                reason: format!("no default monitoring port: {e}; give one as host:port"),
            })?;
            Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                spec.rpc_port + MONITORING_PORT_OFFSET,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_loopback_at_the_rpc_port_plus_the_offset() {
        let addr = monitoring_listen(None, "regtest").unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:19443");
        assert_eq!(
            monitoring_listen(Some("0.0.0.0:9100"), "regtest")
                .unwrap()
                .to_string(),
            "0.0.0.0:9100"
        );
        let err = monitoring_listen(Some("nowhere"), "regtest").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
    }
}
