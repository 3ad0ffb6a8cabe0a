//! The `rpc` module as the kernel sees it: built from `[rpc]`, started with a bound
//! listener and a fresh cookie, stopped by removing the cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use node_kernel::{BoxError, ConfigError, Module, ModuleConfig, StartContext};

use crate::auth::Auth;
use crate::config::RpcConfig;
use crate::cookie::{Cookie, COOKIE_USER};
use crate::server::{bind, serve, Limits, RpcService};

struct RpcModule {
    config: RpcConfig,
    listen: SocketAddr,
    cookie: Option<Cookie>,
}

fn build(config: &ModuleConfig) -> Result<Box<dyn Module>, ConfigError> {
    let parsed: RpcConfig = config.parse()?;
    parsed.validate()?;
    let listen = parsed.listen_addr(&config.node().chain)?;
    Ok(Box::new(RpcModule {
        config: parsed,
        listen,
        cookie: None,
    }))
}

impl Module for RpcModule {
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), BoxError> {
        // Bind before writing the cookie, so a port in use leaves no cookie behind.
        let listener = bind(self.listen)?;
        let addr = listener.local_addr().unwrap_or(self.listen);
        let cookie = Cookie::generate(ctx.datadir.path())?;
        let mut auth = Auth::new().allow(COOKIE_USER, &cookie.password);
        if let (Some(user), Some(password)) = (&self.config.user, &self.config.password) {
            auth = auth.allow(user, password);
        }
        tracing::debug!(cookie = %cookie.path.display(), "RPC cookie written");
        self.cookie = Some(cookie);
        let service = Arc::new(RpcService::new(
            ctx.rpc.clone(),
            auth,
            Limits::from_config(&self.config),
        ));
        ctx.spawn(serve(
            listener,
            service,
            ctx.cancel.clone(),
            ctx.tasks.clone(),
        ));
        tracing::info!(%addr, "RPC server listening on {addr}");
        Ok(())
    }

    fn stop(&mut self) -> Result<(), BoxError> {
        if let Some(cookie) = self.cookie.take() {
            cookie.remove()?;
        }
        Ok(())
    }
}

node_kernel::inventory::submit! {
    node_kernel::ModuleFactory {
        name: "rpc",
        description: "HTTP JSON-RPC server for every registered method, bitcoind-compatible, cookie auth",
        provides: &[],
        needs: &[],
        // Not needed, but when listed these start first and stop last: once the port
        // answers and the cookie exists, their methods are registered, and no call
        // reaches them while they stop.
        uses: &["chain", "mempool", "peers", "wallet"],
        build,
    }
}
