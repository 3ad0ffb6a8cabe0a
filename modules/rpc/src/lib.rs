//! The `rpc` module: an HTTP JSON-RPC server for every method registered with the kernel,
//! compatible with clients written for bitcoind, and the client behind `node rpc`.
//!
//! What it does: listens on `[rpc] listen` (default 127.0.0.1 on the chain's RPC port),
//! accepts HTTP/1.1 POSTs with keep-alive, checks HTTP Basic credentials (a random cookie
//! in `DATADIR/.cookie`, an optional user and password from the profile, and salted
//! `[rpc] auth` entries in Core's rpcauth format, see [`RpcAuth`]), restricts users to the
//! methods of their `[rpc] whitelist` as Core's `-rpcwhitelist` (HTTP 403, every call of
//! a batch checked first; `whitelist_default` as `-rpcwhitelistdefault`), and
//! answers JSON-RPC 2.0 (batches, notifications) as well as the 1.0-style requests of
//! bitcoind's clients, with Bitcoin Core's reply shapes, HTTP statuses and error codes
//! (see Protocol below).
//!
//! What it needs: the kernel's [`node_api::RpcRegistry`]; it serves whatever methods
//! modules and plugins registered there, at call time (`help` is the kernel's). No
//! service. The default port is the chain spec's `rpc_port`
//! ([`node_api::chain::ChainSpec`]).
//!
//! Methods: `getrpcinfo` (Core's: the calls being served, and the log's path).
//!
//! What it provides: no service, but the credentials check of the node's HTTP routes:
//! routes that modules serve with [`node_api::Access::Authenticated`] accept the same
//! cookie and user as JSON-RPC (with the same delay before a 401). The binary uses
//! [`cli_call`] (which converts arguments by the parameters the node declares, asked
//! with the kernel's `getmethodparams`) and [`format_cli_output`] for `node rpc`, and
//! [`RpcAuth`] for `node rpcauth`; tests start the server
//! in-process with [`serve`]. Amounts are formatted by `node_api::rpc::amount`
//! (8 decimals, exact), and written as they are because the workspace enables
//! serde_json's `arbitrary_precision`.
//!
//! Invariants: the cookie file is mode 0600 and exists only while the server runs (it is
//! removed after the last connection ended); a wrong or missing credential is answered
//! 401 only after `auth_failure_delay_ms` and its connection closed; each client address
//! (JSON-RPC and the node's authenticated HTTP routes together) gets at most
//! `max_failed_logins_per_second` wrong credentials evaluated per second, plus a burst
//! of as many, without delaying other addresses, and failures are logged in one warning
//! per 10 s; a batch runs at most `max_batch_calls` calls and stops running them once
//! its replies pass `max_batch_response_bytes`; at most `max_connections` connections are open, and a new client takes the
//! slot of the connection idle the longest, so idle sockets cannot starve clients that
//! send requests; a body over `max_body_bytes` is refused with
//! 413 without being read whole; the listener and every connection are named tasks of
//! the module (`server`, `connection`) and end when it is cancelled; a method that
//! panics answers an internal error instead of taking its connection or the node down.
//!
//! Metrics: `node_rpc_requests_total{method,code}` (registered methods only, else
//! `other`; code 0 for success) and `node_rpc_request_seconds` (histogram).
//!
//! Costs: one task per connection (at most `max_connections`, plus the one accepted
//! while waiting for a slot), a request body in memory
//! up to `max_body_bytes`, and the time of the methods called; batches run their calls
//! one after the other. Per call, beside JSON parsing and the method: an accepted
//! `Authorization` value is recognised by comparing bytes (each pair's own header, and
//! the last 16 that passed an `[rpc] auth` entry, whose HMAC is not computed again), a
//! registered method's success counter is kept rather than looked up in the recorder,
//! and a body that arrived with its headers is read without arming a timer.
//!
//! # Protocol
//!
//! `"jsonrpc": "2.0"` requests get `{"jsonrpc","result"|"error","id"}` with HTTP 200
//! (204 for notifications); 1.0 or versionless requests get `{"result","error","id"}`
//! with 200, or on error 404 (unknown method), 400 (invalid request) or 500. Batches are
//! always 200. Responses carry `Content-Type: application/json`.

mod active;
mod auth;
mod client;
mod config;
mod connections;
mod convert;
mod cookie;
mod error;
mod jsonrpc;
mod login_gate;
mod metrics;
mod module;
mod rpcauth;
mod rpcinfo;
mod server;
mod whitelist;

/// Entry points for the fuzz targets in `fuzz/` only.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use auth::{basic_authorization, Auth};
pub use client::{call, cli_call, format_cli_output, ClientSettings, Credentials};
pub use config::{min_body_bytes, RpcConfig, BODY_ROOM};
pub use cookie::{read_cookie, Cookie, ADDRESS_FILE, COOKIE_FILE, COOKIE_USER};
pub use error::{ClientError, StartError};
pub use rpcauth::{generate_password, RpcAuth};
pub use server::{serve, Limits, RpcService};
