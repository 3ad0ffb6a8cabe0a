//! The `peers` module as the kernel sees it: built from `[peers]`, started with a bound
//! listener, the outbound connection manager and the network RPC methods.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, Module, ModuleConfig,
    ModuleFactory, PeerService, StartContext,
};
use node_p2p::ConnectionType;
use tokio::net::TcpListener;

use crate::addrbook::canonical;
use crate::config::PeersConfig;
use crate::connection;
use crate::error::PeersError;
use crate::manager;
use crate::peers::Peers;

/// The file in the data directory holding the bound P2P address while the node runs.
pub const ADDRESS_FILE: &str = "peers.addr";

/// Pause after a failed `accept` (out of file descriptors, say) before the next one, so
/// the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

struct PeersModule {
    config: PeersConfig,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: PeersConfig = config.parse()?;
    // What does not depend on the chain is checked now; the rest at start, against the
    // chain service's spec.
    parsed.resolve(None)?;
    Ok(Box::new(PeersModule { config: parsed }))
}

inventory::submit! {
    ModuleFactory {
        name: "peers",
        description: "TCP peers on Bitcoin's P2P framing: handshake, pings, bans, address \
                      book, outbound connections; serves headers and blocks",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[service::<dyn PeerService>()],
        needs: &[service::<dyn ChainView>()],
        uses: &[],
        methods: &[&crate::rpc::METHODS],
        build,
    }
}

#[async_trait]
impl Module for PeersModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        let chain = ctx.require::<dyn ChainView>()?;
        let settings = self.config.resolve(Some(&chain.spec()))?;
        // Discovery, when it runs, says the same of its own bootstrap list.
        let discovery = ctx.node().modules.iter().any(|m| m == "discovery");
        if settings.connect.is_empty() && settings.addnode.is_empty() && !discovery {
            tracing::info!(
                "no peers to connect to: add some with [peers] connect or addnode (e.g. \
                 --set 'peers.connect=[\"HOST:{}\"]'), the discovery module with a bootstrap \
                 list, or the addnode RPC; until then this node only waits for others to connect",
                settings.default_port
            );
        }
        let addr = settings.listen;
        let bind = |source| PeersError::Bind { addr, source };
        let listener = listen(addr).await.map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        // With port 0 the system chose the port: say which, for tests and scripts (and
        // the discovery module binds UDP on this same number).
        ctx.publish_address(ADDRESS_FILE, local_addr)?;
        let peers = Peers::new(
            settings,
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

/// Binds the P2P listener. With port 0, the port the system picks must also be free for
/// UDP, since the discovery module binds UDP on the same number: a few picks are tried.
async fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    const PICKS: usize = 16;
    if addr.port() != 0 {
        return TcpListener::bind(addr).await;
    }
    let mut picks = 0;
    loop {
        let listener = TcpListener::bind(addr).await?;
        let port = listener.local_addr()?.port();
        picks += 1;
        let udp_free = std::net::UdpSocket::bind(SocketAddr::new(addr.ip(), port)).is_ok();
        if udp_free || picks == PICKS {
            return Ok(listener);
        }
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
