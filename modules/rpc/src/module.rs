//! The `rpc` module as the kernel sees it: built from `[rpc]`; its start binds the
//! listener, writes a fresh cookie (removed once every connection has ended), installs
//! the credentials check of the node's authenticated HTTP routes, and spawns the server.

use std::net::SocketAddr;
use std::sync::Arc;

use node_api::{
    async_trait, inventory, service, BoxError, ChainView, ConfigError, MempoolService, Module,
    ModuleConfig, ModuleFactory, PeerService, StartContext, WalletService,
};

use crate::auth::Auth;
use crate::config::RpcConfig;
use crate::cookie::{Cookie, ADDRESS_FILE, COOKIE_USER};
use crate::server::{bind, serve, Limits, RpcService};

struct RpcModule {
    config: RpcConfig,
    listen: SocketAddr,
    limits: Limits,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: RpcConfig = config.parse()?;
    parsed.validate()?;
    let node = config.node();
    let listen = parsed.listen_addr(&node.chain, &node.chain_base)?;
    // The body limit follows the chain in effect: `submitblock` of its largest block
    // must fit.
    let spec = node_api::chain::resolve(&node.chain, &node.chain_base).map_err(|e| {
        ConfigError::Invalid {
            key: "max_body_bytes".to_string(),
            reason: format!("cannot read the chain's block size: {e}"),
        }
    })?;
    let limits = Limits::from_config(&parsed, spec.max_block_size)?;
    Ok(Box::new(RpcModule {
        config: parsed,
        listen,
        limits,
    }))
}

inventory::submit! {
    ModuleFactory {
        name: "rpc",
        description: "HTTP JSON-RPC server for every registered method, bitcoind-compatible, cookie auth",
        registered_by: env!("CARGO_PKG_NAME"),
        provides: &[],
        needs: &[],
        // Not needed, but when listed these start first and stop last: once the port
        // answers and the cookie exists, their methods are registered, and no call
        // reaches them while they stop.
        uses: &[service::<dyn ChainView>(), service::<dyn MempoolService>(), service::<dyn PeerService>(), service::<dyn WalletService>()],
        methods: &[&crate::rpcinfo::GETRPCINFO],
        build,
    }
}

#[async_trait]
impl Module for RpcModule {
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError> {
        crate::metrics::describe();
        // Bind before writing the cookie, so a port in use leaves no cookie behind.
        let listener = bind(self.listen).await?;
        let addr = listener.local_addr().unwrap_or(self.listen);
        let cookie = Cookie::generate(ctx.datadir())?;
        // Beside the cookie: where `node rpc` finds a server bound on port 0.
        ctx.publish_address(ADDRESS_FILE, addr)?;
        tracing::debug!(cookie = %cookie.path.display(), "RPC cookie written");
        let mut auth = Auth::new().allow(COOKIE_USER, &cookie.password);
        // After the connections: a call still being answered keeps a valid cookie.
        ctx.on_stop(move || cookie.remove().map_err(Into::into));
        if let (Some(user), Some(password)) = (&self.config.user, &self.config.password) {
            auth = auth.allow(user, password);
        }
        // Checked when the module was built.
        for entry in self.config.salted_auth()? {
            auth = auth.allow_salted(entry);
        }
        let service = Arc::new(
            RpcService::new(ctx.rpc().clone(), auth, self.limits.clone())
                .with_whitelist(self.config.parsed_whitelist()?),
        );
        ctx.http().set_authenticator(service.clone());
        ctx.rpc().set_address(addr);
        crate::rpcinfo::register(&ctx, service.active())?;
        ctx.spawn("server", serve(listener, service, ctx.spawner()));
        tracing::info!(%addr, "RPC server listening on {addr}");
        Ok(())
    }
}
