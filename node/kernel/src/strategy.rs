//! Named strategies: behaviours inside a module that a profile chooses by name (sync
//! strategy, broadcast behaviour, mempool policy). A plugin adds one with
//! `inventory::submit!`, the same way modules join; a strategy may have settings of its
//! own, read from a sub-table of the owning module's table named after it
//! (`[relay.batched] interval_ms = 200`).

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ConfigError;
use crate::registry::{self, Registered};

/// A behaviour some module lets the profile choose, and the type its strategies build
/// (usually a boxed trait object). The owning crate declares it once as a constant:
/// `pub const BROADCAST: Behaviour<Box<dyn Broadcast>> = Behaviour::new("broadcast behaviour");`
pub struct Behaviour<T> {
    /// The name strategies register under and errors show.
    pub name: &'static str,
    _built: PhantomData<fn() -> T>,
}

impl<T: Any + Send> Behaviour<T> {
    /// Declares a behaviour.
    pub const fn new(name: &'static str) -> Self {
        Behaviour {
            name,
            _built: PhantomData,
        }
    }

    /// Wraps what a strategy's `build` made, for the registry; the module gets it back
    /// typed from [`crate::ModuleConfig::strategy`].
    pub fn erase(&self, built: T) -> BuiltStrategy {
        BuiltStrategy(Box::new(built))
    }

    /// Builds the registered strategy `name` with its default settings (no sub-table):
    /// for tests of a module that receives a strategy, outside a profile.
    pub fn build_default(&self, name: &str) -> Result<T, ConfigError> {
        self.build(self.name, name, &StrategyConfig::new(empty_table()))
    }

    /// Builds the registered strategy `name` (chosen by the setting `key`) with
    /// `settings`, as its factory reads them.
    pub(crate) fn build(
        &self,
        key: &str,
        name: &str,
        settings: &StrategyConfig,
    ) -> Result<T, ConfigError> {
        let factory = find(self.name, name).ok_or_else(|| ConfigError::InvalidValue {
            key: key.to_string(),
            value: name.to_string(),
            choices: names(self.name),
        })?;
        let built = (factory.build)(settings).map_err(|e| e.within(name))?;
        built
            .0
            .downcast::<T>()
            .map(|value| *value)
            .map_err(|_| ConfigError::Invalid {
                key: key.to_string(),
                reason: format!(
                    "strategy {name:?} of crate {} does not build a {}",
                    factory.registered_by, self.name
                ),
            })
    }
}

fn empty_table() -> config::Value {
    config::Value::new(None, config::ValueKind::Table(Default::default()))
}

/// What a strategy's `build` returns: a value of its behaviour's type, erased by
/// [`Behaviour::erase`].
pub struct BuiltStrategy(pub(crate) Box<dyn Any + Send>);

/// A registry entry for one strategy of one behaviour.
pub struct StrategyFactory {
    /// The behaviour it implements ([`Behaviour::name`]).
    pub behaviour: &'static str,
    /// The name a profile uses.
    pub name: &'static str,
    /// One line for `node modules`.
    pub description: &'static str,
    /// The crate that submitted it (`env!("CARGO_PKG_NAME")`), named when two crates
    /// register the same name.
    pub registered_by: &'static str,
    /// Reads the strategy's own settings and builds it.
    pub build: fn(&StrategyConfig) -> Result<BuiltStrategy, ConfigError>,
}

inventory::collect!(StrategyFactory);

impl Registered for StrategyFactory {
    fn key(&self) -> String {
        format!("{} {:?}", self.behaviour, self.name)
    }
    fn registered_by(&self) -> &'static str {
        self.registered_by
    }
}

/// Every registered strategy, sorted by behaviour then name; two registrations of one
/// name for one behaviour are an error naming both crates.
pub fn registered_strategies() -> Result<Vec<&'static StrategyFactory>, ConfigError> {
    let all = registry::unique(inventory::iter::<StrategyFactory>, "strategy")?;
    let mut all: Vec<_> = all.into_values().collect();
    all.sort_by_key(|s| (s.behaviour, s.name));
    Ok(all)
}

pub(crate) fn find(behaviour: &str, name: &str) -> Option<&'static StrategyFactory> {
    inventory::iter::<StrategyFactory>
        .into_iter()
        .find(|s| s.behaviour == behaviour && s.name == name)
}

pub(crate) fn names(behaviour: &str) -> Vec<String> {
    let mut names: Vec<String> = inventory::iter::<StrategyFactory>
        .into_iter()
        .filter(|s| s.behaviour == behaviour)
        .map(|s| s.name.to_string())
        .collect();
    names.sort();
    names
}

/// Whether `name` is the name of any registered strategy: a sub-table of a module's table
/// with such a name holds that strategy's settings.
pub(crate) fn is_strategy_name(name: &str) -> bool {
    inventory::iter::<StrategyFactory>
        .into_iter()
        .any(|s| s.name == name)
}

/// The settings of strategies named in a module's table, by strategy name, not yet taken.
pub(crate) type StrategyTables = Rc<RefCell<BTreeMap<String, config::Value>>>;

/// A strategy's own sub-table of its module's table, at build time.
pub struct StrategyConfig {
    table: config::Value,
    effective: RefCell<Option<serde_json::Value>>,
    schema: std::cell::Cell<Option<fn() -> serde_json::Value>>,
    /// The module's other strategy sub-tables: where a strategy this one wraps finds its
    /// settings ([`StrategyConfig::wrap`]).
    siblings: StrategyTables,
    /// What [`StrategyConfig::wrap`] built, with its effective settings.
    wrapped: RefCell<Vec<serde_json::Value>>,
}

impl StrategyConfig {
    pub(crate) fn new(table: config::Value) -> Self {
        StrategyConfig::within(table, StrategyTables::default())
    }

    /// A strategy's sub-table, beside the module's other strategy sub-tables.
    pub(crate) fn within(table: config::Value, siblings: StrategyTables) -> Self {
        StrategyConfig {
            table,
            effective: RefCell::new(None),
            schema: std::cell::Cell::new(None),
            siblings,
            wrapped: RefCell::new(Vec::new()),
        }
    }

    /// Builds the registered strategy `name` of `behaviour` with the settings the profile
    /// gives it, for a strategy that wraps another: `maxoutputs` adds its own rule to the
    /// `standard` policy it wraps (a setting of its own, `key`, names which), and
    /// `standard`'s settings come from `[mempool.standard]` beside `[mempool.maxoutputs]`,
    /// as if `standard` had been chosen. Its effective settings are reported under the
    /// wrapper's (`wraps` in `listmodules` and `node check`).
    pub fn wrap<T: Any + Send>(
        &self,
        key: &str,
        behaviour: &Behaviour<T>,
        name: &str,
    ) -> Result<T, ConfigError> {
        let table = self
            .siblings
            .borrow_mut()
            .remove(name)
            .unwrap_or_else(empty_table);
        let settings = StrategyConfig::within(table, self.siblings.clone());
        let built = behaviour.build(key, name, &settings)?;
        self.wrapped.borrow_mut().push(settings.report(name));
        Ok(built)
    }

    /// The strategy's name, effective settings and what it wraps, as `listmodules`
    /// shows them.
    pub(crate) fn report(&self, name: &str) -> serde_json::Value {
        let mut report = serde_json::json!({ "name": name, "config": self.effective() });
        let wrapped = self.wrapped.borrow();
        if !wrapped.is_empty() {
            report["wraps"] = serde_json::Value::Array(wrapped.clone());
        }
        report
    }

    /// Deserializes the sub-table into the strategy's config struct (which should use
    /// `#[serde(default, deny_unknown_fields)]`, and `JsonSchema` for the configuration
    /// reference); a strategy without settings skips this.
    pub fn parse<T: DeserializeOwned + Serialize + JsonSchema>(&self) -> Result<T, ConfigError> {
        // Only a function pointer: the schema is made when the reference asks for it.
        self.schema.set(Some(crate::config_table::schema_of::<T>));
        let parsed: T = crate::config_table::deserialize(&self.table)?;
        let json =
            serde_json::to_value(&parsed).map_err(|e| ConfigError::Deserialize(e.to_string()))?;
        *self.effective.borrow_mut() = Some(json);
        Ok(parsed)
    }

    /// Whether the profile gave the strategy any setting. A strategy that takes none uses
    /// this to refuse a sub-table instead of ignoring it.
    pub fn is_empty(&self) -> bool {
        match &self.table.kind {
            config::ValueKind::Table(t) => t.is_empty(),
            config::ValueKind::Nil => true,
            _ => false,
        }
    }

    pub(crate) fn schema(&self) -> Option<serde_json::Value> {
        self.schema.get().map(|make| make())
    }

    pub(crate) fn effective(&self) -> serde_json::Value {
        self.effective
            .borrow()
            .clone()
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

/// The build function of a strategy that has no settings: it refuses any sub-table.
pub fn without_settings(config: &StrategyConfig) -> Result<(), ConfigError> {
    if config.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key: "*".to_string(),
            reason: "this strategy has no settings".to_string(),
        })
    }
}
