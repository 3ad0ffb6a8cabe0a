//! The `discovery` module (work in progress).
mod node_id;
mod wire;
