//! `custom-node`: node's command line with every built-in module, plus two things of
//! this crate that the registry picks up at link time, with no edit to node itself:
//!
//! - the `tipstats` module ([`tipstats`]): its own `[tipstats]` table, an event
//!   subscription and an RPC method, `gettipstats`;
//! - the `maxoutputs` mempool policy ([`maxoutputs`]): Bitcoin Core's standard rules
//!   plus a limit on outputs per transaction, set in `[mempool.maxoutputs]`.
//!
//! ```sh
//! cargo run -- modules
//! cargo run -- --profile custom.toml
//! cargo run -- --profile custom.toml rpc gettipstats
//! ```

mod maxoutputs;
mod tipstats;

fn main() -> std::process::ExitCode {
    node::main()
}
