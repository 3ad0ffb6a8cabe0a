//! Typed services: the handles modules provide to each other.
//!
//! A service is a type, usually a trait object from the API crate (`dyn ChainView`), with
//! a name. A module's factory declares the services it provides, needs and uses by type
//! (`needs: &[service::<dyn ChainView>()]`), and at start the context hands out and
//! accepts only what was declared, compared by type: the declaration and the use cannot
//! drift apart. Providing and requiring go by type, so no module writes a string key or
//! a downcast; the name is for people and for the profile check, which orders modules
//! and reports a missing provider before anything starts.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A type that modules exchange as a service. Implemented in the API crate for each
/// contract, e.g. `impl Service for dyn ChainView { const NAME: &'static str = "chain"; }`.
pub trait Service: Send + Sync + 'static {
    /// The name the profile check, `node modules` and errors show.
    const NAME: &'static str;
}

/// A service as a factory declares it in `provides`, `needs` or `uses`: its name and its
/// type, made only by [`service`] from the type, so the two always agree.
#[derive(Clone, Copy)]
pub struct ServiceDecl {
    name: &'static str,
    // A function rather than the `TypeId` itself: `TypeId::of` is not const on stable.
    type_id: fn() -> TypeId,
}

/// The declaration of service `S`, for a factory's `provides`, `needs` and `uses`:
/// `needs: &[service::<dyn ChainView>()]`.
pub const fn service<S: Service + ?Sized>() -> ServiceDecl {
    ServiceDecl {
        name: S::NAME,
        type_id: TypeId::of::<S>,
    }
}

impl ServiceDecl {
    /// The service's name ([`Service::NAME`]).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether this declares service `S`.
    pub fn is<S: Service + ?Sized>(&self) -> bool {
        (self.type_id)() == TypeId::of::<S>()
    }
}

impl PartialEq for ServiceDecl {
    fn eq(&self, other: &ServiceDecl) -> bool {
        (self.type_id)() == (other.type_id)()
    }
}

impl Eq for ServiceDecl {}

impl std::fmt::Debug for ServiceDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl std::fmt::Display for ServiceDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

struct Entry {
    module: &'static str,
    name: &'static str,
    /// An `Arc<S>` for the entry's service type `S`.
    handle: Box<dyn Any + Send + Sync>,
}

/// The handles provided so far, by service type.
#[derive(Default)]
pub(crate) struct Services {
    entries: RwLock<HashMap<TypeId, Entry>>,
}

impl Services {
    /// Registers the handle of service `S`; `Err` names the module that already did.
    pub(crate) fn provide<S: Service + ?Sized>(
        &self,
        module: &'static str,
        handle: Arc<S>,
    ) -> Result<(), String> {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = entries.get(&TypeId::of::<S>()) {
            return Err(format!(
                "service {:?} is already provided by module {:?}",
                S::NAME,
                existing.module
            ));
        }
        if let Some(other) = entries.values().find(|e| e.name == S::NAME) {
            return Err(format!(
                "service name {:?} is already used by another type, provided by module {:?}",
                S::NAME,
                other.module
            ));
        }
        entries.insert(
            TypeId::of::<S>(),
            Entry {
                module,
                name: S::NAME,
                handle: Box::new(handle),
            },
        );
        Ok(())
    }

    /// The handle of service `S`, if a started module provided it.
    pub(crate) fn get<S: Service + ?Sized>(&self) -> Option<Arc<S>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&TypeId::of::<S>())
            .and_then(|e| e.handle.downcast_ref::<Arc<S>>())
            .cloned()
    }
}

/// A service looked up at each use rather than once at start: what a module holds for a
/// service it `uses` whose provider may start after it (see
/// [`crate::StartContext::get_later`]).
pub struct Later<S: Service + ?Sized> {
    services: Arc<Services>,
    service: std::marker::PhantomData<fn() -> Arc<S>>,
}

impl<S: Service + ?Sized> Later<S> {
    pub(crate) fn new(services: Arc<Services>) -> Later<S> {
        Later {
            services,
            service: std::marker::PhantomData,
        }
    }

    /// The service, if its provider has started by now.
    pub fn get(&self) -> Option<Arc<S>> {
        self.services.get::<S>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    trait Greeter: Send + Sync {
        fn hello(&self) -> String;
    }
    impl Service for dyn Greeter {
        const NAME: &'static str = "greeter";
    }
    struct English;
    impl Greeter for English {
        fn hello(&self) -> String {
            "hello".to_string()
        }
    }

    #[test]
    fn a_trait_object_is_provided_and_found_by_type() {
        let services = Services::default();
        assert!(services.get::<dyn Greeter>().is_none());
        services
            .provide::<dyn Greeter>("english", Arc::new(English))
            .unwrap();
        assert_eq!(services.get::<dyn Greeter>().unwrap().hello(), "hello");
        let again = services
            .provide::<dyn Greeter>("other", Arc::new(English))
            .unwrap_err();
        assert!(
            again.contains("already provided by module \"english\""),
            "{again}"
        );
    }

    trait Other: Send + Sync {}
    impl Service for dyn Other {
        // The same name on purpose: a declaration is told apart by type.
        const NAME: &'static str = "greeter";
    }

    #[test]
    fn a_declaration_names_its_type_and_is_told_apart_by_it() {
        const GREETER: ServiceDecl = service::<dyn Greeter>();
        assert_eq!(GREETER.name(), "greeter");
        assert!(GREETER.is::<dyn Greeter>());
        assert!(!GREETER.is::<dyn Other>());
        assert_ne!(GREETER, service::<dyn Other>());
        assert_eq!(GREETER, service::<dyn Greeter>());
    }

    #[test]
    fn a_later_handle_sees_a_service_provided_after_it_was_made() {
        let services = Arc::new(Services::default());
        let later = Later::<dyn Greeter>::new(services.clone());
        assert!(later.get().is_none());
        services
            .provide::<dyn Greeter>("english", Arc::new(English))
            .unwrap();
        assert_eq!(later.get().unwrap().hello(), "hello");
    }
}
