//! The `peers` module as the kernel sees it: built from `[peers]`, started with a bound
//! listener, the outbound connection manager and the network RPC methods.

use std::sync::Arc;
use std::time::Duration;

use node_api::chain::ChainSpec;
use node_api::{
    async_trait, inventory, services, BoxError, ChainView, ConfigError, Module, ModuleConfig,
    ModuleFactory, PeerService, StartContext,
};
use node_p2p::ConnectionType;
use tokio::net::TcpListener;

use crate::addrbook::canonical;
use crate::config::{PeersConfig, Settings};
use crate::connection;
use crate::error::PeersError;
use crate::manager;
use crate::peers::Peers;

/// Pause after a failed `accept` (out of file descriptors, say) before the next one, so
/// the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

struct PeersModule {
    settings: Settings,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: PeersConfig = config.parse()?;
    let chain = &config.node().chain;
    let spec = ChainSpec::by_name(chain).map_err(|_| ConfigError::InvalidValue {
        key: "node.chain".to_string(),
        value: chain.clone(),
        choices: ChainSpec::names().iter().map(|s| s.to_string()).collect(),
    })?;
    let settings = parsed.resolve(spec)?;
    Ok(Box::new(PeersModule { settings }))
}

inventory::submit! {
    ModuleFactory {
        name: "peers",
        description: "TCP peers on Bitcoin's P2P framing: handshake, pings, bans, address \
                      book, outbound connections; serves headers and blocks",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[services::PEERS],
        needs: &[services::CHAIN],
        uses: &[],
        build,
    }
}

#[async_trait]
impl Module for PeersModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let addr = self.settings.listen;
        let bind = |source| PeersError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        let peers = Peers::new(
            self.settings,
            chain,
            ctx.events().clone(),
            ctx.spawner(),
            local_addr,
        );
        crate::rpc::register(&ctx, &peers)?;
        ctx.provide::<dyn PeerService>(Arc::clone(&peers) as Arc<dyn PeerService>)?;
        ctx.spawn("accept", accept_loop(Arc::clone(&peers), listener));
        ctx.spawn("outbound manager", manager::run(peers));
        tracing::info!(%local_addr, "listening for peers on {local_addr}");
        Ok(())
    }
}

/// Accepts inbound connections until the module is cancelled. A failed `accept` is the
/// OS running short (descriptors, memory), not a reason to stop the node: it waits and
/// tries again.
pub(crate) async fn accept_loop(peers: Arc<Peers>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            () = peers.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, addr)) => {
                let addr = canonical(addr);
                if peers.is_banned(addr.ip()) {
                    tracing::debug!(%addr, "refusing a banned address");
                    continue;
                }
                connection::start(&peers, stream, ConnectionType::Inbound, None);
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a peer connection failed");
                tokio::select! {
                    () = peers.cancel.cancelled() => return,
                    () = tokio::time::sleep(ACCEPT_RETRY) => {}
                }
            }
        }
    }
}
