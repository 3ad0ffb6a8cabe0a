//! The calls being answered right now, for `getrpcinfo`'s `active_commands`: each call
//! is entered when it starts and leaves when its guard drops (answered, failed, or its
//! connection gone), so the list is exact whatever ends a call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Calls in progress, by a number of their own.
#[derive(Debug, Default)]
pub(crate) struct ActiveCommands {
    next: AtomicU64,
    /// Oldest first: numbers are taken and entered under the lock. A few entries (one
    /// per call in progress) in a vector that keeps its room; a map allocated and freed
    /// a node each time it went from empty to one call and back.
    running: Mutex<Vec<(u64, String, Instant)>>,
}

/// Keeps a call in the list until dropped.
pub(crate) struct Active {
    commands: Arc<ActiveCommands>,
    id: u64,
}

impl ActiveCommands {
    /// Enters a call of `method`, which started at `started`.
    pub(crate) fn enter(self: &Arc<Self>, method: &str, started: Instant) -> Active {
        let method = method.to_string();
        let mut running = self.lock();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        running.push((id, method, started));
        drop(running);
        Active {
            commands: self.clone(),
            id,
        }
    }

    /// Every call in progress, oldest first, with how long it has run.
    pub(crate) fn list(&self) -> Vec<(String, Duration)> {
        self.lock()
            .iter()
            .map(|(_, method, started)| (method.clone(), started.elapsed()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, String, Instant)>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut running = self.commands.lock();
        if let Some(at) = running.iter().position(|(id, _, _)| *id == self.id) {
            running.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_leave_the_list_when_they_end() {
        let commands = Arc::new(ActiveCommands::default());
        let first = commands.enter("getblocktemplate", Instant::now());
        let second = commands.enter("getrpcinfo", Instant::now());
        let names: Vec<String> = commands.list().into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["getblocktemplate", "getrpcinfo"]);
        drop(first);
        let names: Vec<String> = commands.list().into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["getrpcinfo"]);
        drop(second);
        assert!(commands.list().is_empty());
    }
}
