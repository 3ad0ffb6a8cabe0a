//! Checking a profile against the registry ([`plan`]: `plan.rs`, with the start order in
//! `order.rs`) and running the planned modules ([`run`]: `run.rs`): start in dependency
//! order, wait for a signal or a shutdown request, stop in reverse, joining every task.
//! The kernel's own RPC methods are in `methods.rs`.

mod methods;
mod order;
mod plan;
mod run;

pub use plan::{plan, Plan, PlannedModule};
pub use run::run;
