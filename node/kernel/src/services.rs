//! Typed handles that modules register for each other, by service name.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The service registry. A module provides a handle under a service name it declared in
/// its factory; modules that declared the need get it back with its concrete type.
#[derive(Default)]
pub struct Services {
    entries: RwLock<BTreeMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl Services {
    /// Registers `handle` as service `name`, replacing nothing: the profile check already
    /// ensured one provider per service.
    pub fn provide<T: Any + Send + Sync>(&self, name: &str, handle: Arc<T>) {
        self.entries
            .write()
            .expect("service registry poisoned")
            .insert(name.to_string(), handle);
    }

    /// The handle of service `name`, if a started module provides it with type `T`.
    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let entry = self
            .entries
            .read()
            .expect("service registry poisoned")
            .get(name)
            .cloned()?;
        entry.downcast::<T>().ok()
    }

    /// Like [`Services::get`], with an error that says what is missing.
    pub fn require<T: Any + Send + Sync>(&self, name: &str) -> Result<Arc<T>, String> {
        self.get(name).ok_or_else(|| {
            format!(
                "service {name:?} of type {} is not available",
                std::any::type_name::<T>()
            )
        })
    }
}
