//! `custom-node`: node's command line with every built-in module, plus two things of
//! this crate that the registry picks up at link time, with no edit to node itself:
//!
//! - the `tipstats` module ([`tipstats`]): its own `[tipstats]` table, an event
//!   subscription and an RPC method, `gettipstats`;
//! - the `maxoutputs` mempool policy ([`maxoutputs`]): Bitcoin Core's standard rules
//!   plus a limit on outputs per transaction, set in `[mempool.maxoutputs]`;
//! - the `one-peer` sync strategy ([`onepeer`]): headers then blocks from one chosen
//!   peer, set in `[sync.one-peer]` and chosen by `follower.toml`.
//!
//! ```sh
//! cargo run -- modules
//! cargo run -- --profile custom.toml
//! cargo run -- --profile custom.toml rpc gettipstats
//! cargo run -- --profile follower.toml --set 'peers.connect=["127.0.0.1:18444"]'
//! ```

mod maxoutputs;
mod onepeer;
mod tipstats;

fn main() -> std::process::ExitCode {
    node::main()
}
