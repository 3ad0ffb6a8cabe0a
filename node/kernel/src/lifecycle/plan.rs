//! Checking a profile against the registry and building its modules, without starting
//! anything: [`plan`] returns the modules in start order, or the first error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use config::{Value, ValueKind};

use crate::error::{ConfigError, ProfileError};
use crate::layers::table_error;
use crate::logging::LogControl;
use crate::module::{registered_modules, Module, ModuleConfig, ModuleFactory};
use crate::profile::Profile;
use crate::strategy::registered_strategies;

use super::order::start_order;

/// A module ready to start.
pub struct PlannedModule {
    /// Its registry entry.
    pub factory: &'static ModuleFactory,
    /// The built module.
    pub module: Box<dyn Module>,
    /// Its effective config (defaults included).
    pub config: serde_json::Value,
    /// Strategies it chose, by behaviour: `{"name", "config"}`.
    pub strategies: BTreeMap<String, serde_json::Value>,
}

/// A checked profile: the modules in start order.
pub struct Plan {
    /// The profile.
    pub profile: Profile,
    /// Modules in start order (needs first, then profile order).
    pub modules: Vec<PlannedModule>,
    /// What the operator should read before the node starts (printed by `node check`
    /// and logged by `run`): overrides of modules the profile does not run.
    pub warnings: Vec<String>,
    /// RPC methods of registered modules the profile does not run, and their module:
    /// a call answers which module it belongs to instead of "Method not found".
    pub absent_methods: BTreeMap<String, String>,
    /// The log filter the binary installed, for the `logging` method (none: no method).
    /// [`plan`] leaves it empty; the binary that owns the subscriber sets it.
    pub log_control: Option<Arc<dyn LogControl>>,
}

/// Checks a profile against the registries and builds its modules, without starting
/// anything. The first error is returned.
pub fn plan(mut profile: Profile) -> Result<Plan, ProfileError> {
    let registry = registered_modules().map_err(ProfileError::Registry)?;
    registered_strategies().map_err(ProfileError::Registry)?;
    let file = profile.node.profile.clone();
    let registered: Vec<String> = registry.keys().map(|s| s.to_string()).collect();

    for table in profile.tables.keys() {
        if !registry.contains_key(table.as_str()) {
            let mut valid = vec!["node".to_string()];
            valid.extend(registered.iter().cloned());
            return Err(ProfileError::UnknownTable {
                file,
                name: table.clone(),
                valid,
            });
        }
    }

    // A metric handle resolved while no recorder is installed records nothing, ever:
    // the recorder of a listed exporter is installed before any module is built.
    let recorders =
        crate::metrics::recorders_of(&profile.node.modules).map_err(ProfileError::Registry)?;
    for (module, recorder) in recorders {
        (recorder.install)().map_err(|reason| {
            table_error(
                &profile,
                &module,
                ConfigError::Invalid {
                    key: module.clone(),
                    reason,
                },
            )
        })?;
    }

    let mut seen = BTreeSet::new();
    let mut built = Vec::new();
    for name in &profile.node.modules {
        let factory = *registry
            .get(name.as_str())
            .ok_or_else(|| ProfileError::UnknownModule {
                file: file.clone(),
                name: name.clone(),
                registered: registered.clone(),
            })?;
        if !seen.insert(name.clone()) {
            return Err(ProfileError::DuplicateModule {
                file,
                name: name.clone(),
            });
        }
        let table = profile
            .tables
            .remove(name)
            .unwrap_or_else(|| Value::new(None, ValueKind::Table(Default::default())));
        let config = ModuleConfig::new(table, profile.node.clone());
        let module = (factory.build)(&config)
            .and_then(|module| config.finish().map(|()| module))
            .map_err(|error| table_error(&profile, name, error))?;
        built.push(PlannedModule {
            factory,
            module,
            config: config.effective(),
            strategies: config.strategies(),
        });
    }

    let mut providers: BTreeMap<&str, &str> = BTreeMap::new();
    for m in &built {
        for service in m.factory.provides {
            if let Some(first) = providers.insert(service.name(), m.factory.name) {
                return Err(ProfileError::DuplicateService {
                    file,
                    service: service.to_string(),
                    first: first.to_string(),
                    second: m.factory.name.to_string(),
                });
            }
        }
    }
    for m in &built {
        for service in m.factory.needs {
            if !providers.contains_key(service.name()) {
                return Err(ProfileError::MissingService {
                    file,
                    module: m.factory.name.to_string(),
                    service: service.to_string(),
                    providers: registry
                        .values()
                        .filter(|f| f.provides.contains(service))
                        .map(|f| f.name.to_string())
                        .collect(),
                });
            }
        }
    }

    // An override of a module the profile does not run is still checked against that
    // module's config (a typo fails here), then reported: it has no effect.
    let mut warnings = Vec::new();
    let unlisted: Vec<String> = profile.tables.keys().cloned().collect();
    for name in unlisted {
        let overrides = profile.overrides_in(&name);
        if overrides.is_empty() {
            continue;
        }
        let factory = registry[name.as_str()];
        let table = profile.tables[&name].clone();
        let config = ModuleConfig::new(table, profile.node.clone());
        (factory.build)(&config)
            .and_then(|_| config.finish())
            .map_err(|error| table_error(&profile, &name, error))?;
        warnings.push(format!(
            "{} set{} [{name}], but module {name:?} is not in [node] modules of {file}: \
             {} no effect (add {name:?} to modules to run it)",
            overrides.join(" and "),
            if overrides.len() == 1 { "s" } else { "" },
            if overrides.len() == 1 {
                "it has"
            } else {
                "they have"
            },
        ));
    }

    let listed: BTreeSet<&str> = built.iter().map(|m| m.factory.name).collect();
    let absent_methods = registry
        .values()
        .filter(|f| !listed.contains(f.name))
        .flat_map(|f| {
            f.method_names()
                .into_iter()
                .map(|m| (m.to_string(), f.name.to_string()))
        })
        .collect();

    let factories: Vec<&'static ModuleFactory> = built.iter().map(|m| m.factory).collect();
    let order = start_order(&factories, &providers, &file)?;
    let mut slots: Vec<Option<PlannedModule>> = built.into_iter().map(Some).collect();
    // Each index comes once: every slot is taken exactly once.
    let modules = order.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(Plan {
        profile,
        modules,
        warnings,
        absent_methods,
        log_control: None,
    })
}
