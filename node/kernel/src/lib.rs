//! The kernel of `node`: it reads a profile and assembles the modules it names.
//!
//! What it does: loads a TOML profile (file, then `NODE_` environment variables, then
//! `--set key=value`), checks it against the build-time registries of modules and
//! strategies, orders the modules by the services they declare, starts them, waits for a
//! signal or a shutdown request, and stops them in reverse order, joining every task.
//!
//! What it provides to modules: a [`StartContext`] (owned, so tasks may keep parts of
//! it) with the module's settings, typed services ([`Service`]: provided and required by
//! type, declared by name for the profile check), the [`EventBus`], the [`RpcRegistry`]
//! of JSON-RPC methods, HTTP routes on a shared listener ([`http`]), and a
//! [`TaskSpawner`] whose tasks are named and supervised: a task that panics or fails
//! stops the node, reported by module and task. Strategies chosen by name may carry
//! settings of their own ([`ModuleConfig::strategy`]).
//!
//! What it needs: nothing but the modules linked into the binary. Modules join the
//! registry with `inventory::submit!` beside their type; the kernel never names a module.
//!
//! Invariants: nothing starts when the profile is wrong; a module that fails to start
//! causes the ones already started to stop in reverse order; two nodes never open one data
//! directory (an exclusive lock on `DATADIR/.lock`).

mod config_table;
mod context;
mod datadir;
mod error;
mod events;
mod help;
pub mod http;
mod layers;
mod lifecycle;
mod logging;
mod memory;
pub mod metrics;
mod module;
mod overrides;
mod profile;
mod reference;
mod registry;
pub mod rpc;
mod services;
mod strategy;
mod tasks;

pub use context::StartContext;
pub use datadir::DataDir;
pub use error::BoxError;
pub use error::{toml_words, ConfigError, KernelError, ProfileError};
pub use events::EventBus;
pub use lifecycle::{plan, run, Plan, PlannedModule};
pub use logging::LogControl;
pub use module::{registered_modules, Module, ModuleConfig, ModuleFactory};
pub use profile::{NodeSettings, Profile, ProfileSource};
pub use reference::config_reference;
pub use rpc::{Method, MethodEntry, MethodList, RpcError, RpcParams, RpcRegistry, RunOn};
pub use services::{service, Later, Service, ServiceDecl};
pub use strategy::{
    registered_strategies, without_settings, Behaviour, BuiltStrategy, StrategyConfig,
    StrategyFactory,
};
pub use tasks::{TaskOutcome, TaskSpawner};

/// Re-exported so that modules and plugins submit entries and write `#[async_trait]`
/// without naming these crates.
pub use {async_trait::async_trait, inventory};
