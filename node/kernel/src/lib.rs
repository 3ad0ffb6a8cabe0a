//! The kernel of `node`: it reads a profile and assembles the modules it names.
//!
//! What it does: loads a TOML profile (file, then `NODE_` environment variables, then
//! `--set key=value`), checks it against the build-time registries of modules and
//! strategies, orders the modules by the services they declare, starts them, waits for a
//! signal or a shutdown request, and stops them in reverse order, joining every task.
//!
//! What it provides to modules: [`StartContext`] with the module's own config table,
//! node-wide settings, a [`Services`] registry of typed handles, an [`EventBus`], the
//! [`RpcRegistry`] of JSON-RPC methods, and a cancellation token and task tracker per
//! module.
//!
//! What it needs: nothing but the modules linked into the binary. Modules join the
//! registry with `inventory::submit!` beside their type; the kernel never names a module.
//!
//! Invariants: nothing starts when the profile is wrong; a module that fails to start
//! causes the ones already started to stop in reverse order; two nodes never open one data
//! directory (an exclusive lock on `DATADIR/.lock`).

mod datadir;
mod error;
mod events;
mod lifecycle;
mod module;
mod overrides;
mod profile;
pub mod rpc;
mod services;
mod strategy;

pub use datadir::DataDir;
pub use error::{ConfigError, KernelError, ProfileError};
pub use events::EventBus;
pub use lifecycle::{plan, run, Plan, PlannedModule};
pub use module::{registered_modules, BoxError, Module, ModuleConfig, ModuleFactory, StartContext};
pub use profile::{NodeSettings, Profile, ProfileSource};
pub use rpc::{MethodEntry, RpcError, RpcParams, RpcRegistry, RunOn};
pub use services::Services;
pub use strategy::{registered_strategies, StrategyFactory};

/// Re-exported so that modules and plugins submit entries without naming the crate.
pub use inventory;
