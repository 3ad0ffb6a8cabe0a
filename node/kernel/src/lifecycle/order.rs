//! The start order: each module after the providers of what it needs or uses, profile
//! order among those free to start; a `uses` that closes a cycle yields.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ProfileError;

use crate::module::ModuleFactory;
use crate::services::ServiceDecl;

/// Orders modules so each starts after the providers of what it needs or uses; among
/// modules free to start, profile order decides (see [`next_to_start`] for a `uses`
/// that closes a cycle). A cycle of `needs` is an error. Returns the indexes of
/// `modules` in start order.
pub(super) fn start_order(
    modules: &[&'static ModuleFactory],
    providers: &BTreeMap<&str, &str>,
    file: &str,
) -> Result<Vec<usize>, ProfileError> {
    let mut pending: Vec<usize> = (0..modules.len()).collect();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    while !pending.is_empty() {
        let waiting: Vec<Waiting<'_>> = pending
            .iter()
            .map(|&i| {
                let m = modules[i];
                let name = m.name;
                let edges = |services: &[ServiceDecl]| -> Vec<String> {
                    services
                        .iter()
                        .filter_map(|s| providers.get(s.name()))
                        .filter(|p| **p != name && !started.contains(**p))
                        .map(|p| p.to_string())
                        .collect()
                };
                Waiting {
                    name,
                    needs: edges(m.needs),
                    uses: edges(m.uses),
                }
            })
            .collect();
        match next_to_start(&waiting) {
            Some(at) => {
                let i = pending.remove(at);
                started.insert(modules[i].name.to_string());
                order.push(i);
            }
            None => {
                return Err(ProfileError::Cycle {
                    file: file.to_string(),
                    modules: pending
                        .iter()
                        .map(|&i| modules[i].name.to_string())
                        .collect(),
                })
            }
        }
    }
    Ok(order)
}

/// A module not started yet and the providers, not started yet either, it needs and uses.
struct Waiting<'a> {
    name: &'a str,
    needs: Vec<String>,
    uses: Vec<String>,
}

/// Which waiting module starts next: the first (in profile order) waiting for nothing;
/// else the first whose `needs` are met and whose every awaited `uses` provider waits,
/// directly or not, for it: that `uses` closes a cycle (the mempool uses the wallet,
/// which needs the mempool) and yields, and the module finds the service later through
/// [`crate::StartContext::get_later`]. `None` when neither exists: a cycle of `needs`.
fn next_to_start(waiting: &[Waiting<'_>]) -> Option<usize> {
    if let Some(free) = waiting
        .iter()
        .position(|m| m.needs.is_empty() && m.uses.is_empty())
    {
        return Some(free);
    }
    // Whether `from` waits, through needs and uses, for `target`.
    let reaches = |from: &str, target: &str| {
        let mut stack = vec![from.to_string()];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some(name) = stack.pop() {
            if name == target {
                return true;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(m) = waiting.iter().find(|m| m.name == name) {
                stack.extend(m.needs.iter().chain(&m.uses).cloned());
            }
        }
        false
    };
    waiting
        .iter()
        .position(|m| m.needs.is_empty() && m.uses.iter().all(|p| reaches(p, m.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting<'a>(name: &'a str, needs: &[&str], uses: &[&str]) -> Waiting<'a> {
        Waiting {
            name,
            needs: needs.iter().map(|s| s.to_string()).collect(),
            uses: uses.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_uses_that_closes_a_cycle_yields_and_others_still_order() {
        // rpc uses both and comes first in the profile; mempool uses the wallet, which
        // needs the mempool: the mempool starts first, rpc waits for both.
        let all = [
            waiting("rpc", &[], &["mempool", "wallet"]),
            waiting("mempool", &[], &["wallet"]),
            waiting("wallet", &["mempool"], &[]),
        ];
        assert_eq!(next_to_start(&all), Some(1));
        let after = [
            waiting("rpc", &[], &["wallet"]),
            waiting("wallet", &[], &[]),
        ];
        assert_eq!(next_to_start(&after), Some(1));
    }

    #[test]
    fn a_cycle_of_needs_has_no_next_module() {
        let all = [waiting("a", &["b"], &[]), waiting("b", &["a"], &[])];
        assert_eq!(next_to_start(&all), None);
    }
}
