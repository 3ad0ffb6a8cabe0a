//! Per-user method allow lists, as Bitcoin Core's `-rpcwhitelist` and
//! `-rpcwhitelistdefault`: `[rpc] whitelist = ["monitor:getblockcount,getmempoolinfo"]`.
//!
//! A user with a list calls only the methods on it; a user named in several entries may
//! call only the methods on all of them. A user without a list calls every method,
//! unless `whitelist_default` is true, which gives such users an empty list; like Core,
//! it defaults to true as soon as any whitelist is set, so the cookie's user
//! (`__cookie__`) and `rpc.user` need `whitelist_default = false` or lists of their own.
//! A refused request is answered HTTP 403; in a batch, one refused call refuses the
//! whole batch, as Core checks every call before running any.

use std::collections::{BTreeMap, BTreeSet};

/// The parsed lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Whitelist {
    lists: BTreeMap<String, BTreeSet<String>>,
    /// Whether users without a list are refused every method.
    others_refused: bool,
}

impl Whitelist {
    /// Reads `USER:METHOD,METHOD...` entries (spaces around names are ignored, an empty
    /// list allows nothing); `default` is `whitelist_default` when set.
    pub(crate) fn parse(entries: &[String], default: Option<bool>) -> Result<Whitelist, String> {
        let mut lists: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in entries {
            let (user, methods) = entry
                .split_once(':')
                .ok_or_else(|| format!("{entry:?} has no ':'; expected USER:METHOD,METHOD..."))?;
            if user.is_empty() {
                return Err(format!(
                    "{entry:?} names no user; expected USER:METHOD,METHOD..."
                ));
            }
            let methods: BTreeSet<String> = methods
                .split([',', ' '])
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            // Entries of one user narrow each other, as in Core.
            let list = match lists.remove(user) {
                Some(earlier) => earlier.intersection(&methods).cloned().collect(),
                None => methods,
            };
            lists.insert(user.to_string(), list);
        }
        Ok(Whitelist {
            others_refused: default.unwrap_or(!entries.is_empty()),
            lists,
        })
    }

    /// Whether `user` may call `method`.
    pub(crate) fn allows(&self, user: &str, method: &str) -> bool {
        match self.lists.get(user) {
            Some(list) => list.contains(method),
            None => !self.others_refused,
        }
    }

    /// Whether `user` may call every method (no check of the request is needed).
    pub(crate) fn unrestricted(&self, user: &str) -> bool {
        !self.lists.contains_key(user) && !self.others_refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_listed_user_calls_only_its_methods() {
        let w = Whitelist::parse(
            &entries(&["monitor:getblockcount, getmempoolinfo", "ops:stop"]),
            Some(false),
        )
        .unwrap();
        assert!(w.allows("monitor", "getblockcount") && w.allows("monitor", "getmempoolinfo"));
        assert!(!w.allows("monitor", "stop"));
        assert!(w.allows("ops", "stop") && !w.allows("ops", "getblockcount"));
        assert!(w.allows("__cookie__", "stop") && w.unrestricted("__cookie__"));
        assert!(!w.unrestricted("monitor"));
    }

    #[test]
    fn the_default_follows_core() {
        // Any whitelist refuses unlisted users unless told otherwise.
        let w = Whitelist::parse(&entries(&["monitor:uptime"]), None).unwrap();
        assert!(!w.allows("__cookie__", "uptime"));
        // No whitelist: everyone may call everything, unless the default says no.
        assert!(Whitelist::parse(&[], None).unwrap().unrestricted("anyone"));
        let w = Whitelist::parse(&[], Some(true)).unwrap();
        assert!(!w.allows("anyone", "uptime"));
    }

    #[test]
    fn entries_of_one_user_intersect_and_bad_ones_are_named() {
        let w = Whitelist::parse(&entries(&["m:a,b,c", "m:b,c,d"]), None).unwrap();
        assert!(!w.allows("m", "a") && w.allows("m", "b") && !w.allows("m", "d"));
        let w = Whitelist::parse(&entries(&["m:"]), None).unwrap();
        assert!(!w.allows("m", "uptime"));
        assert!(Whitelist::parse(&entries(&["nocolon"]), None)
            .unwrap_err()
            .contains("nocolon"));
        assert!(Whitelist::parse(&entries(&[":a"]), None).is_err());
    }
}
