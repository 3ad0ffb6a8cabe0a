//! The `peers` module as the kernel sees it: built from `[peers]`, started with a bound
//! listener, the outbound connection manager and the network RPC methods.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

use node_chain::{ChainSpec, ChainState};
use node_kernel::{
    inventory, BoxError, ConfigError, Module, ModuleConfig, ModuleFactory, StartContext,
};
use tokio::net::TcpListener;

use crate::addrbook::canonical;
use crate::config::{PeersConfig, Settings};
use crate::connection;
use crate::error::PeersError;
use crate::manager;
use crate::peer::ConnectionType;
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
        provides: &["peers"],
        needs: &["chain"],
        uses: &[],
        build,
    }
}

impl Module for PeersModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        let chain = ctx.services.require::<ChainState>("chain")?;
        let addr = self.settings.listen;
        let bind = |source| PeersError::Bind { addr, source };
        // `start` is synchronous: bind with std, then hand the socket to tokio.
        let listener = StdListener::bind(addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let listener = TcpListener::from_std(listener).map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        let peers = Peers::new(
            self.settings.clone(),
            chain,
            ctx.events.clone(),
            ctx.cancel.clone(),
            ctx.tasks.clone(),
            local_addr,
        );
        crate::rpc::register(ctx, &peers)?;
        ctx.services.provide("peers", Arc::clone(&peers));
        ctx.spawn(accept_loop(Arc::clone(&peers), listener));
        ctx.spawn(manager::run(Arc::clone(&peers)));
        tracing::info!(%local_addr, "listening for peers on {local_addr}");
        Ok(())
    }
}

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
