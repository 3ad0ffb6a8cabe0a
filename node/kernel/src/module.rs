//! The module trait, the build-time registry of module factories, and a module's table of
//! the profile at build time.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config_table::deserialize;
use crate::context::StartContext;
use crate::error::{BoxError, ConfigError};
use crate::profile::NodeSettings;
use crate::registry::{self, Registered};
use crate::rpc::MethodList;
use crate::services::ServiceDecl;
use crate::strategy::{self, Behaviour, StrategyConfig, StrategyTables};

/// A part of the node that the profile can switch on.
///
/// `start` consumes the module: it may bind sockets and await before it returns, and it
/// returns once the module is ready (its services provided, its tasks spawned with
/// [`StartContext::spawn`]). Tasks end when the module's token fires; cleanup that must
/// wait for them is registered with [`StartContext::on_stop`].
#[async_trait::async_trait]
pub trait Module: Send + 'static {
    /// Starts the module.
    async fn start(self: Box<Self>, ctx: StartContext) -> Result<(), BoxError>;
}

/// A registry entry: how to build a module from its profile table.
///
/// Submitted with `inventory::submit!` in the module's own crate.
pub struct ModuleFactory {
    /// The name used in `[node] modules` and as the module's table name.
    pub name: &'static str,
    /// One line for `node modules`.
    pub description: &'static str,
    /// The crate that submitted it (`env!("CARGO_PKG_NAME")`), named when two crates
    /// register the same name.
    pub registered_by: &'static str,
    /// Services this module provides when it starts (`provides: &[service::<dyn
    /// ChainView>()]`); [`StartContext::provide`](crate::StartContext::provide) refuses
    /// any other.
    pub provides: &'static [ServiceDecl],
    /// Services that must be provided by another listed module; it starts first. The
    /// only services [`StartContext::require`](crate::StartContext::require) hands out.
    pub needs: &'static [ServiceDecl],
    /// Services used when present: their providers, when listed, start first. With
    /// `needs`, the only services `get` and `get_later` hand out.
    pub uses: &'static [ServiceDecl],
    /// The JSON-RPC methods it registers when it runs, as the constants it registers
    /// (`methods: &[&rpc::METHODS, &rpc::SETGENERATE]`: tables of
    /// [`MethodEntry`](crate::rpc::MethodEntry) and single [`Method`](crate::rpc::Method)s),
    /// so that a node that does not run it answers "getnewaddress belongs to the wallet
    /// module". The start checks that the module registers exactly these.
    pub methods: &'static [&'static dyn MethodList],
    /// Parses the module's table and builds the module, without starting anything.
    pub build: fn(&ModuleConfig) -> Result<Box<dyn Module>, ConfigError>,
}

inventory::collect!(ModuleFactory);

impl ModuleFactory {
    /// The names of the RPC methods the factory declares in `methods`.
    pub fn method_names(&self) -> Vec<&'static str> {
        self.methods.iter().flat_map(|list| list.names()).collect()
    }
}

impl Registered for ModuleFactory {
    fn key(&self) -> String {
        self.name.to_string()
    }
    fn registered_by(&self) -> &'static str {
        self.registered_by
    }
}

/// Every registered module factory, sorted by name; two registrations of one name are an
/// error naming both crates.
pub fn registered_modules() -> Result<BTreeMap<&'static str, &'static ModuleFactory>, ConfigError> {
    let unique = registry::unique(inventory::iter::<ModuleFactory>, "module")?;
    Ok(unique.into_values().map(|f| (f.name, f)).collect())
}

/// A module's own table of the profile, and the node-wide settings, at build time.
pub struct ModuleConfig {
    pub(crate) table: config::Value,
    pub(crate) node: NodeSettings,
    /// Sub-tables named after a registered strategy: that strategy's settings.
    strategy_tables: StrategyTables,
    effective: RefCell<Option<serde_json::Value>>,
    /// Makes the JSON schema of the config struct `parse` read, for the configuration
    /// reference.
    schema: std::cell::Cell<Option<fn() -> serde_json::Value>>,
    strategies: RefCell<BTreeMap<String, serde_json::Value>>,
    /// Each behaviour the module chose a strategy of, with the key that names it.
    strategy_keys: RefCell<BTreeMap<&'static str, String>>,
}

impl ModuleConfig {
    pub(crate) fn new(table: config::Value, node: NodeSettings) -> Self {
        let mut table = table;
        let mut strategy_tables = BTreeMap::new();
        if let config::ValueKind::Table(entries) = &mut table.kind {
            let names: Vec<String> = entries
                .iter()
                .filter(|(k, v)| {
                    matches!(v.kind, config::ValueKind::Table(_)) && strategy::is_strategy_name(k)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for name in names {
                let sub = entries.remove(&name).expect("key just listed");
                strategy_tables.insert(name, sub);
            }
        }
        ModuleConfig {
            table,
            node,
            strategy_tables: Rc::new(RefCell::new(strategy_tables)),
            effective: RefCell::new(None),
            schema: std::cell::Cell::new(None),
            strategies: RefCell::new(BTreeMap::new()),
            strategy_keys: RefCell::new(BTreeMap::new()),
        }
    }

    /// Deserializes the table into the module's config struct (which should use
    /// `#[serde(default, deny_unknown_fields)]`). The parsed value, defaults included, is
    /// what `listmodules` and `node check` report. Its `JsonSchema` (derived beside
    /// `Deserialize`) gives each key's type and doc comment to `node config-reference`.
    pub fn parse<T: DeserializeOwned + Serialize + JsonSchema>(&self) -> Result<T, ConfigError> {
        // Only a function pointer: the schema is made when the reference asks for it.
        self.schema.set(Some(crate::config_table::schema_of::<T>));
        let parsed: T = deserialize(&self.table)?;
        let json =
            serde_json::to_value(&parsed).map_err(|e| ConfigError::Deserialize(e.to_string()))?;
        *self.effective.borrow_mut() = Some(json);
        Ok(parsed)
    }

    /// Builds the strategy `name` of `behaviour`, chosen by the table's `key`, with its
    /// settings from the sub-table `[<module>.<name>]`. Errors name the key and the
    /// registered choices, or the strategy's setting that is wrong.
    pub fn strategy<T: std::any::Any + Send>(
        &self,
        key: &str,
        behaviour: &Behaviour<T>,
        name: &str,
    ) -> Result<T, ConfigError> {
        self.strategy_keys
            .borrow_mut()
            .insert(behaviour.name, key.to_string());
        let table = self
            .strategy_tables
            .borrow_mut()
            .remove(name)
            .unwrap_or_else(|| {
                config::Value::new(None, config::ValueKind::Table(Default::default()))
            });
        let config = StrategyConfig::within(table, self.strategy_tables.clone());
        let built = behaviour.build(key, name, &config)?;
        self.strategies
            .borrow_mut()
            .insert(behaviour.name.to_string(), config.report(name));
        Ok(built)
    }

    /// Checks what the module left unread: a strategy sub-table for a strategy it did not
    /// choose is still checked against that strategy, so a typo is found before the
    /// operator switches to it.
    pub(crate) fn finish(&self) -> Result<(), ConfigError> {
        let leftover = std::mem::take(&mut *self.strategy_tables.borrow_mut());
        let chosen = self.strategies.borrow();
        for (name, table) in leftover {
            let factory = chosen
                .keys()
                .find_map(|behaviour| strategy::find(behaviour, &name))
                .ok_or_else(|| ConfigError::Invalid {
                    key: name.clone(),
                    reason: format!(
                        "a table of settings for strategy {name:?}, which is not a strategy this module chooses{}",
                        if chosen.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (it chooses a {})",
                                chosen.keys().cloned().collect::<Vec<_>>().join(", a ")
                            )
                        }
                    ),
                })?;
            (factory.build)(&StrategyConfig::new(table)).map_err(|e| e.within(&name))?;
        }
        Ok(())
    }

    /// Node-wide settings: chain name, data directory, profile file.
    pub fn node(&self) -> &NodeSettings {
        &self.node
    }

    pub(crate) fn effective(&self) -> serde_json::Value {
        self.effective.borrow().clone().unwrap_or_else(|| {
            self.table
                .clone()
                .try_deserialize()
                .unwrap_or(serde_json::Value::Null)
        })
    }

    pub(crate) fn schema(&self) -> Option<serde_json::Value> {
        self.schema.get().map(|make| make())
    }

    pub(crate) fn strategy_keys(&self) -> BTreeMap<&'static str, String> {
        self.strategy_keys.borrow().clone()
    }

    pub(crate) fn strategies(&self) -> BTreeMap<String, serde_json::Value> {
        self.strategies.borrow().clone()
    }
}
