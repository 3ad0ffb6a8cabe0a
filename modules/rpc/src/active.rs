//! The calls being answered right now, for `getrpcinfo`'s `active_commands`: each call
//! is entered when it starts and leaves when its guard drops (answered, failed, or its
//! connection gone), so the list is exact whatever ends a call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Calls in progress, by a number of their own.
#[derive(Debug, Default)]
pub(crate) struct ActiveCommands {
    next: AtomicU64,
    running: Mutex<BTreeMap<u64, (String, Instant)>>,
}

/// Keeps a call in the list until dropped.
pub(crate) struct Active {
    commands: Arc<ActiveCommands>,
    id: u64,
}

impl ActiveCommands {
    /// Enters a call of `method`.
    pub(crate) fn enter(self: &Arc<Self>, method: &str) -> Active {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (method.to_string(), Instant::now()));
        Active {
            commands: self.clone(),
            id,
        }
    }

    /// Every call in progress, oldest first, with how long it has run.
    pub(crate) fn list(&self) -> Vec<(String, Duration)> {
        self.lock()
            .values()
            .map(|(method, started)| (method.clone(), started.elapsed()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (String, Instant)>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.commands.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_leave_the_list_when_they_end() {
        let commands = Arc::new(ActiveCommands::default());
        let first = commands.enter("getblocktemplate");
        let second = commands.enter("getrpcinfo");
        let names: Vec<String> = commands.list().into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["getblocktemplate", "getrpcinfo"]);
        drop(first);
        let names: Vec<String> = commands.list().into_iter().map(|(m, _)| m).collect();
        assert_eq!(names, ["getrpcinfo"]);
        drop(second);
        assert!(commands.list().is_empty());
    }
}
