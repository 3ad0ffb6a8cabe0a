//! The connection slots of the server, kept for requests rather than for sockets.
//!
//! At most `max_connections` connections are open. When all are taken and a client
//! connects, the connection idle the longest is closed to make room: one that has sent
//! nothing since it connected, or a keep-alive connection between requests. A connection
//! is busy, and never closed this way, from the moment a request has been read until its
//! response is written. So connections that send nothing, or trickle their headers,
//! cannot keep clients that send requests out; a new client waits only when every slot
//! is busy with a request (in the listen backlog, as before).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The open connections.
pub(crate) struct Connections {
    max: usize,
    table: Mutex<Table>,
    /// Notified when a connection ends or finishes a request (a slot may be free).
    changed: Notify,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Entry>,
}

struct Entry {
    /// Requests being answered (HTTP/1.1 answers one at a time: 0 or 1).
    busy: usize,
    /// Since when the connection has had no request in progress.
    idle_since: Instant,
    /// Fired to close the connection when another client needs its slot.
    evict: CancellationToken,
}

impl Connections {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Connections {
            max: max.max(1),
            table: Mutex::new(Table::default()),
            changed: Notify::new(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.table().open.len()
    }

    /// A slot for a connection just accepted: a free one, or the one of the connection
    /// idle the longest, which is closed. Waits while every slot is busy with a request.
    pub(crate) async fn admit(self: &Arc<Self>) -> Slot {
        loop {
            // Registered before looking, so a change between the look and the wait is
            // not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            {
                let mut table = self.table();
                if table.open.len() >= self.max {
                    let oldest_idle = table
                        .open
                        .iter()
                        .filter(|(_, e)| e.busy == 0)
                        .min_by_key(|(id, e)| (e.idle_since, **id))
                        .map(|(id, _)| *id);
                    if let Some(id) = oldest_idle {
                        if let Some(evicted) = table.open.remove(&id) {
                            evicted.evict.cancel();
                            tracing::debug!("RPC: closing the connection idle the longest to serve a new client");
                        }
                    }
                }
                if table.open.len() < self.max {
                    let id = table.next_id;
                    table.next_id += 1;
                    let evict = CancellationToken::new();
                    table.open.insert(
                        id,
                        Entry {
                            busy: 0,
                            idle_since: Instant::now(),
                            evict: evict.clone(),
                        },
                    );
                    return Slot {
                        id,
                        connections: self.clone(),
                        evict,
                    };
                }
            }
            changed.await;
        }
    }
}

/// A connection's slot; freed when dropped.
pub(crate) struct Slot {
    id: u64,
    connections: Arc<Connections>,
    evict: CancellationToken,
}

impl Slot {
    /// Fires when the slot was given to another client: the connection must close.
    pub(crate) fn evicted(&self) -> &CancellationToken {
        &self.evict
    }

    /// Marks a request as in progress until the guard drops, so the connection is not
    /// closed for another client meanwhile. `None` when the connection was already
    /// chosen to close: the request must not be run.
    pub(crate) fn busy(&self) -> Option<Busy> {
        let mut table = self.connections.table();
        let entry = table.open.get_mut(&self.id)?;
        entry.busy += 1;
        Some(Busy {
            id: self.id,
            connections: self.connections.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.table().open.remove(&self.id);
        self.connections.changed.notify_waiters();
    }
}

/// A request in progress on a connection.
pub(crate) struct Busy {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut table = self.connections.table();
        if let Some(entry) = table.open.get_mut(&self.id) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = Instant::now();
        }
        // A client waits in `admit` only while every slot is taken, and slots are freed
        // only by `Slot`'s drop, which always wakes it: below the limit nobody waits, and
        // waking nobody still took the notifier's lock once per request.
        let full = table.open.len() >= self.connections.max;
        drop(table);
        if full {
            self.connections.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_new_client_closes_the_connection_idle_the_longest() {
        let connections = Connections::new(3);
        let first = connections.admit().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = connections.admit().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let third = connections.admit().await;
        // The first is busy, so the second (idle since it connected) makes room.
        let request = first.busy().unwrap();
        let fourth = connections.admit().await;
        assert!(second.evicted().is_cancelled());
        assert!(
            second.busy().is_none(),
            "an evicted connection runs no request"
        );
        assert!(!first.evicted().is_cancelled() && !third.evicted().is_cancelled());
        assert_eq!(connections.open(), 3);
        drop(second);
        assert_eq!(connections.open(), 3, "an evicted slot is not freed twice");

        // Idle time counts from the end of the last request.
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(request);
        let _fifth = connections.admit().await;
        assert!(third.evicted().is_cancelled());
        assert!(!first.evicted().is_cancelled() && !fourth.evicted().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_client_waits_while_every_slot_is_busy() {
        let connections = Connections::new(2);
        let first = connections.admit().await;
        let second = connections.admit().await;
        let _a = first.busy().unwrap();
        let b = second.busy().unwrap();
        let waiting = tokio::spawn({
            let connections = connections.clone();
            async move { connections.admit().await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiting.is_finished());
        drop(b);
        let third = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("admitted once a request ended")
            .unwrap();
        assert!(second.evicted().is_cancelled());
        assert!(!first.evicted().is_cancelled());
        drop(third);
        assert_eq!(connections.open(), 1);
    }
}
