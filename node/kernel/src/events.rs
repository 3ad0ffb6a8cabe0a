//! The event bus: one broadcast channel per event type.
//!
//! Event types belong to the crates that publish them (the chain publishes tip changes,
//! the mempool accepted transactions, the peers module peer up/down), so the kernel stays
//! free of their formats. A slow subscriber misses old events (it sees `Lagged`) rather
//! than slowing the publisher.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// How many events of one type wait for the slowest subscriber before it lags.
const CAPACITY: usize = 4096;

/// The bus shared by every module. Cloning it is cheap and gives a handle to the same
/// channels, for publishers that outlive the start call (a chain state's event sink).
#[derive(Default, Clone)]
pub struct EventBus {
    channels: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send>>>>,
}

impl EventBus {
    fn sender<E: Clone + Send + 'static>(&self) -> broadcast::Sender<E> {
        let mut channels = self.channels.lock().expect("event bus poisoned");
        channels
            .entry(TypeId::of::<E>())
            .or_insert_with(|| Box::new(broadcast::channel::<E>(CAPACITY).0))
            .downcast_ref::<broadcast::Sender<E>>()
            .expect("channel stored under its own type id")
            .clone()
    }

    /// Publishes an event to every current subscriber of its type.
    pub fn publish<E: Clone + Send + 'static>(&self, event: E) {
        // No subscriber is not an error: nobody asked for this kind of event.
        let _ = self.sender::<E>().send(event);
    }

    /// Subscribes to every later event of type `E`.
    pub fn subscribe<E: Clone + Send + 'static>(&self) -> broadcast::Receiver<E> {
        self.sender::<E>().subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Tip(u32);
    #[derive(Clone, Debug, PartialEq)]
    struct Other(&'static str);

    #[tokio::test]
    async fn events_reach_subscribers_of_their_type_only() {
        let bus = EventBus::default();
        let mut tips = bus.subscribe::<Tip>();
        let mut others = bus.subscribe::<Other>();
        bus.publish(Tip(1));
        bus.publish(Other("x"));
        bus.publish(Tip(2));
        assert_eq!(tips.recv().await.unwrap(), Tip(1));
        assert_eq!(tips.recv().await.unwrap(), Tip(2));
        assert_eq!(others.recv().await.unwrap(), Other("x"));
        assert!(others.try_recv().is_err());
    }
}
