//! Build-time registries: entries collected by `inventory` from every linked crate. Two
//! entries with one name are an error naming both crates (typetag does the same): keeping
//! the first silently would run a module other than the one the operator meant.

use std::collections::BTreeMap;

use crate::error::ConfigError;

/// A registry entry with a unique key.
pub(crate) trait Registered {
    /// What must be unique (a module's name; a strategy's behaviour and name).
    fn key(&self) -> String;
    /// The crate that submitted the entry.
    fn registered_by(&self) -> &'static str;
}

/// The entries by key; the first duplicate key found is an error naming both crates.
pub(crate) fn unique<T: Registered + 'static>(
    entries: impl IntoIterator<Item = &'static T>,
    kind: &str,
) -> Result<BTreeMap<String, &'static T>, ConfigError> {
    let mut map: BTreeMap<String, &'static T> = BTreeMap::new();
    for entry in entries {
        if let Some(first) = map.insert(entry.key(), entry) {
            return Err(ConfigError::Invalid {
                key: entry.key(),
                reason: format!(
                    "{kind} registered twice, by crate {} and by crate {}; a name may be registered once",
                    first.registered_by(),
                    entry.registered_by()
                ),
            });
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Entry(&'static str, &'static str);
    impl Registered for Entry {
        fn key(&self) -> String {
            self.0.to_string()
        }
        fn registered_by(&self) -> &'static str {
            self.1
        }
    }

    static A: Entry = Entry("miner", "node-miner");
    static B: Entry = Entry("wallet", "node-wallet");
    static C: Entry = Entry("miner", "acme-miner");

    #[test]
    fn a_duplicate_name_names_both_registrations() {
        assert_eq!(unique([&A, &B], "module").unwrap().len(), 2);
        let e = unique([&A, &B, &C], "module").unwrap_err().to_string();
        assert!(e.contains("miner"), "{e}");
        assert!(e.contains("node-miner") && e.contains("acme-miner"), "{e}");
    }
}
