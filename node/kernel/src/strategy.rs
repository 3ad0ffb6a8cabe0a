//! Named strategies: behaviours inside a module that a profile chooses by name (sync
//! strategy, broadcast behaviour, mempool policy). A plugin adds one with
//! `inventory::submit!`, the same way modules join.

use std::any::Any;

/// A registry entry for one strategy of one behaviour.
pub struct StrategyFactory {
    /// The behaviour it implements, e.g. "sync strategy", "broadcast behaviour",
    /// "mempool policy". The module that owns the behaviour documents the exact string.
    pub behaviour: &'static str,
    /// The name a profile uses.
    pub name: &'static str,
    /// One line for `node modules`.
    pub description: &'static str,
    /// Builds the strategy as the owning module's boxed trait object, erased to `Any`.
    pub build: fn() -> Box<dyn Any + Send>,
}

inventory::collect!(StrategyFactory);

impl StrategyFactory {
    /// Builds the strategy and recovers the owning module's type (e.g.
    /// `Box<dyn SyncStrategy>`). `None` when the entry was registered with another type,
    /// which is a bug in the registering crate.
    pub fn build_as<T: 'static>(&self) -> Option<T> {
        (self.build)().downcast::<T>().ok().map(|b| *b)
    }
}

/// Every registered strategy, sorted by behaviour then name.
pub fn registered_strategies() -> Vec<&'static StrategyFactory> {
    let mut all: Vec<_> = inventory::iter::<StrategyFactory>.into_iter().collect();
    all.sort_by_key(|s| (s.behaviour, s.name));
    all
}

pub(crate) fn find(behaviour: &str, name: &str) -> Option<&'static StrategyFactory> {
    inventory::iter::<StrategyFactory>
        .into_iter()
        .find(|s| s.behaviour == behaviour && s.name == name)
}

pub(crate) fn names(behaviour: &str) -> Vec<String> {
    registered_strategies()
        .into_iter()
        .filter(|s| s.behaviour == behaviour)
        .map(|s| s.name.to_string())
        .collect()
}
