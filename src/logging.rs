//! The process's logging: a tracing subscriber writing to stderr, whose filter sits
//! behind a reload handle so the `logging` RPC method can turn debug lines of a category
//! on and off while the node runs.
//!
//! The filter is the start filter (`RUST_LOG`, else `info`) plus, once `logging` changed
//! anything, one directive per category: `debug` for a category turned on, at most
//! `info` for one turned off, its start level otherwise. A directive per category keeps a
//! change to `node_chain` from reaching `node_chain_module` (tracing matches targets by
//! prefix, and the longer one wins); directives the start filter gives to deeper targets
//! (`node_peers::connection=trace`) still win over them.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use node_kernel::LogControl;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, Registry};

/// The installed subscriber's filter, changeable at run time.
pub(crate) struct ReloadableFilter {
    handle: reload::Handle<EnvFilter, Registry>,
    /// The start filter's directives, as given.
    start: String,
    /// Categories `logging` has set, and whether their debug lines are on.
    changed: Mutex<BTreeMap<String, bool>>,
}

/// Quiet by default (info: a line at start and stop, found blocks, sync progress);
/// `RUST_LOG` widens or narrows it, and so does the `logging` method later.
pub(crate) fn init() -> Arc<ReloadableFilter> {
    let start = std::env::var("RUST_LOG")
        .ok()
        .filter(|text| EnvFilter::try_new(text).is_ok())
        .unwrap_or_else(|| "info".to_string());
    let (filter, handle) = reload::Layer::new(EnvFilter::new(&start));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .init();
    Arc::new(ReloadableFilter {
        handle,
        start,
        changed: Mutex::new(BTreeMap::new()),
    })
}

impl ReloadableFilter {
    /// The level the start filter gives `target`: its directive with the longest target
    /// that `target` starts with, else its bare level, else `error` (EnvFilter's default).
    /// Directives on spans or fields are not about a whole category and are skipped.
    fn start_level(&self, target: &str) -> LevelFilter {
        let mut best: Option<(usize, LevelFilter)> = None;
        for directive in self.start.split(',').map(str::trim) {
            if directive.is_empty() || directive.contains('[') {
                continue;
            }
            // `target=level`, a bare level (every target), or a bare target (every level).
            let (prefix, level) = match directive.split_once('=') {
                Some((prefix, level)) => match LevelFilter::from_str(level) {
                    Ok(level) => (prefix, level),
                    Err(_) => continue,
                },
                None => match LevelFilter::from_str(directive) {
                    Ok(level) => ("", level),
                    Err(_) => (directive, LevelFilter::TRACE),
                },
            };
            if target.starts_with(prefix) && best.is_none_or(|(len, _)| prefix.len() >= len) {
                best = Some((prefix.len(), level));
            }
        }
        best.map_or(LevelFilter::ERROR, |(_, level)| level)
    }
}

impl LogControl for ReloadableFilter {
    fn debug_enabled(&self, target: &str) -> bool {
        let changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        match changed.get(target) {
            Some(on) => *on,
            None => self.start_level(target) >= LevelFilter::DEBUG,
        }
    }

    fn set_debug(&self, changes: &[(String, bool)], categories: &[String]) -> Result<(), String> {
        let mut changed = self.changed.lock().unwrap_or_else(|e| e.into_inner());
        changed.extend(changes.iter().cloned());
        let filter =
            EnvFilter::try_new(self.directives(&changed, categories)).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

impl ReloadableFilter {
    /// The filter's directives: the start directives but those naming a category exactly,
    /// then one per category.
    fn directives(&self, changed: &BTreeMap<String, bool>, categories: &[String]) -> String {
        let mut directives: Vec<String> = self
            .start
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .filter(|d| {
                let target = d.split_once('=').map_or(*d, |(t, _)| t);
                !categories.iter().any(|c| c == target)
            })
            .map(str::to_string)
            .collect();
        for category in categories {
            let start = self.start_level(category);
            let level = match changed.get(category) {
                Some(true) => start.max(LevelFilter::DEBUG),
                Some(false) => start.min(LevelFilter::INFO),
                None => start,
            };
            directives.push(format!("{category}={level}"));
        }
        directives.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(start: &str) -> ReloadableFilter {
        let (_, handle) = reload::Layer::<EnvFilter, Registry>::new(EnvFilter::new(start));
        ReloadableFilter {
            handle,
            start: start.to_string(),
            changed: Mutex::new(BTreeMap::new()),
        }
    }

    #[test]
    fn the_start_level_of_a_category_is_its_longest_matching_directive() {
        let f = filter("info,node_peers=debug,node_chain_module=warn,node_sync");
        assert_eq!(f.start_level("node_peers"), LevelFilter::DEBUG);
        assert_eq!(f.start_level("node_chain_module"), LevelFilter::WARN);
        assert_eq!(f.start_level("node_chain"), LevelFilter::INFO);
        assert_eq!(f.start_level("node_sync"), LevelFilter::TRACE);
        assert!(f.debug_enabled("node_peers") && !f.debug_enabled("node_chain"));
        assert_eq!(filter("").start_level("node_chain"), LevelFilter::ERROR);
        assert_eq!(filter("warn,").start_level("node_chain"), LevelFilter::WARN);
    }

    #[test]
    fn every_category_gets_its_own_directive_so_a_prefix_reaches_no_other() {
        let f = filter("info,node_peers=trace,node_peers::connection=warn");
        let categories: Vec<String> = ["node_chain", "node_chain_module", "node_peers"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        let changed = BTreeMap::from([
            ("node_chain".to_string(), true),
            ("node_peers".to_string(), false),
        ]);
        assert_eq!(
            f.directives(&changed, &categories),
            "info,node_peers::connection=warn,node_chain=debug,node_chain_module=info,\
             node_peers=info"
        );
        assert!(EnvFilter::try_new(f.directives(&changed, &categories)).is_ok());
    }
}
