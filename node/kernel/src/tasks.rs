//! Supervised tasks: every long-running task of a module is spawned by name, and one that
//! panics or returns an error stops the node, reported with its module and task name
//! (reth's `TaskExecutor::spawn_critical`). A node that lost its sync loop or its
//! listener must not run on as if nothing happened.

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// A task that ended the node: who, and why.
#[derive(Debug, Clone)]
pub(crate) struct TaskFailure {
    pub(crate) module: &'static str,
    pub(crate) task: &'static str,
    pub(crate) reason: String,
}

/// What a task's future or closure returns: nothing, or a `Result` whose error stops
/// the node.
pub trait TaskOutcome: Send + 'static {
    /// `Err` with the reason when the task failed.
    fn into_result(self) -> Result<(), String>;
}

impl TaskOutcome for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display + Send + 'static> TaskOutcome for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Spawns a module's tasks. Cheap to clone; a clone spawns for the same module, so a
/// listener can hand it to the connections it accepts.
#[derive(Clone)]
pub struct TaskSpawner {
    module: &'static str,
    tracker: TaskTracker,
    cancel: CancellationToken,
    failures: mpsc::UnboundedSender<TaskFailure>,
}

impl TaskSpawner {
    pub(crate) fn new(
        module: &'static str,
        tracker: TaskTracker,
        cancel: CancellationToken,
        failures: mpsc::UnboundedSender<TaskFailure>,
    ) -> Self {
        TaskSpawner {
            module,
            tracker,
            cancel,
            failures,
        }
    }

    /// A spawner outside a running node, for tests of a module's tasks: they are tracked
    /// by `tracker` and watch `cancel`. With no node to stop, a failing task is only
    /// logged.
    pub fn detached(module: &'static str, tracker: TaskTracker, cancel: CancellationToken) -> Self {
        let (failures, _) = mpsc::unbounded_channel();
        TaskSpawner::new(module, tracker, cancel, failures)
    }

    /// Fires when the module must stop; every task of the module ends when it does.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Spawns a tracked async task named `task`. It must end when the module's token
    /// fires. A panic or an `Err` stops the node, unless the module is already stopping
    /// (then it is only logged: a task cut short by shutdown is not a failure).
    pub fn spawn<F>(&self, task: &'static str, future: F)
    where
        F: Future + Send + 'static,
        F::Output: TaskOutcome,
    {
        let report = self.reporter(task);
        let span = tracing::debug_span!("task", module = self.module, task);
        self.tracker.spawn(
            async move {
                let outcome = AssertUnwindSafe(future).catch_unwind().await;
                report(outcome.map(TaskOutcome::into_result));
            }
            .instrument(span),
        );
    }

    /// Spawns a tracked blocking task (on tokio's blocking pool) named `task`, for work
    /// that holds a thread: a nonce search, a long verification. Failure as [`spawn`].
    ///
    /// [`spawn`]: TaskSpawner::spawn
    pub fn spawn_blocking<F, T>(&self, task: &'static str, work: F)
    where
        F: FnOnce() -> T + Send + 'static,
        T: TaskOutcome,
    {
        let report = self.reporter(task);
        self.tracker.spawn_blocking(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
            report(outcome.map(TaskOutcome::into_result));
        });
    }

    fn reporter(
        &self,
        task: &'static str,
    ) -> impl FnOnce(std::thread::Result<Result<(), String>>) + Send + 'static {
        let module = self.module;
        let failures = self.failures.clone();
        let cancel = self.cancel.clone();
        move |outcome| {
            let reason = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(error)) => error,
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
            };
            if cancel.is_cancelled() && !reason.starts_with("panicked") {
                tracing::debug!(
                    module,
                    task,
                    "task ended with an error while stopping: {reason}"
                );
                return;
            }
            tracing::error!(module, task, "task failed: {reason}");
            let _ = failures.send(TaskFailure {
                module,
                task,
                reason,
            });
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawner() -> (TaskSpawner, mpsc::UnboundedReceiver<TaskFailure>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let spawner = TaskSpawner::new("m", TaskTracker::new(), CancellationToken::new(), tx);
        (spawner, rx)
    }

    async fn panics() {
        panic!("boom")
    }

    #[tokio::test]
    async fn errors_and_panics_are_reported_with_module_and_task() {
        let (spawner, mut failures) = spawner();
        spawner.spawn("fails", async { Err::<(), _>("disk full") });
        let f = failures.recv().await.unwrap();
        assert_eq!(
            (f.module, f.task, f.reason.as_str()),
            ("m", "fails", "disk full")
        );
        spawner.spawn("panics", panics());
        let f = failures.recv().await.unwrap();
        assert_eq!((f.task, f.reason.as_str()), ("panics", "panicked: boom"));
        spawner.spawn_blocking("blocking", || -> Result<(), String> { Err("no".into()) });
        assert_eq!(failures.recv().await.unwrap().task, "blocking");
        spawner.spawn("fine", async {});
        spawner.tracker.close();
        spawner.tracker.wait().await;
        assert!(failures.try_recv().is_err());
    }
}
