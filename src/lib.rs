//! The `node` command line as a library: [`main`] runs a node from a profile, checks
//! profiles, lists the registry, imports blocks, and talks to a running node over JSON-RPC.
//!
//! The `node` binary is `fn main() { node::main() }`. A third party builds its own node
//! the same way, from a crate of its own that depends on this one and on `node-api`:
//! its modules join the registry with `inventory::submit!`, and this library links every
//! built-in module and plugin (the `use ... as _` lines below) so that their
//! registrations are kept by the linker. See `examples/custom-node`.

mod commands;
mod logging;
mod reference;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// Linked for their registry entries only: a crate nobody references is dropped by the
// linker and its modules would silently vanish.
use node_blocknotify as _;
use node_chain_module as _;
use node_discovery as _;
use node_electrum as _;
use node_events as _;
use node_explorer as _;
use node_health as _;
use node_mempool as _;
use node_metrics as _;
use node_miner as _;
use node_peers as _;
use node_relay as _;
use node_rpc as _;
use node_sync as _;
use node_wallet as _;
use node_zmq as _;

/// A modular proof-of-work full node.
#[derive(Parser, Debug)]
#[command(name = "node", version, about)]
struct Cli {
    /// Profile to run or check (TOML). Without it, the embedded default profile is used.
    #[arg(long, global = true, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Data directory; overrides `[node] datadir`.
    #[arg(long, global = true, value_name = "DIR")]
    datadir: Option<PathBuf>,
    /// Override a profile value: `section.key=value`, value read as TOML (a bare word is a
    /// string). Applied after the file and `NODE_SECTION__KEY` variables. Repeatable.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    sets: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the node (the default when no command is given).
    Run,
    /// Check a profile without starting anything; exits non-zero with the first error.
    Check,
    /// List every registered module and strategy.
    Modules,
    /// Import blocks into this node's data directory (the node must not be running):
    /// from another data directory's chain, or from a file of back-to-back serialized
    /// blocks. Blocks already stored are skipped, so an import can be re-run.
    Import {
        /// Data directory of another node of the same chain (not running).
        #[arg(long, value_name = "DIR", conflicts_with = "file")]
        from_datadir: Option<PathBuf>,
        /// File of serialized blocks, in order.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Check the data directory's chain state (the node must not be running): its LMDB
    /// meta pages and size, then every record of every table, read in a child process
    /// so that a corrupt page is reported, not a crash. Exits non-zero with what is
    /// damaged and how to recover.
    CheckDatadir {
        /// Internal: walk this chain state directory and report to the parent check.
        #[arg(long, value_name = "DIR", hide = true)]
        walk_chain: Option<PathBuf>,
    },
    /// Print a chain spec file to start a new chain from: a built-in spec (`node
    /// chainspec regtest > mychain.toml`), or, with `--from FILE`, check a file, print its
    /// genesis hash, and when its genesis nonce does not meet its target, find one and
    /// print the completed file.
    Chainspec {
        /// A built-in spec: regtest, dev or testnet.
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        name: Option<String>,
        /// A chain spec file to check (and complete).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
    /// Print an `[rpc] auth` entry for a user, as Bitcoin Core's rpcauth.py: the salted
    /// HMAC-SHA256 of the password, and the password (generated when not given).
    Rpcauth {
        /// The user name.
        user: String,
        /// The password; a random one is generated when left out.
        password: Option<String>,
    },
    /// Call a JSON-RPC method of a running node, like bitcoin-cli. It reads the same
    /// profile, `--datadir` and `--set` as the node to find its address and cookie.
    ///
    /// Options before the method, spelled as bitcoin-cli's: `-named` sends `name=value`
    /// arguments as named parameters; `-stdin` reads more arguments from standard input,
    /// one per line, after those given. Each argument is converted as the method declares
    /// its parameter (asked of the node with `getmethodparams`): a string or hex parameter
    /// is sent as it is, the others are parsed as JSON.
    Rpc {
        /// `[-named] [-stdin] METHOD [ARGS...]`, e.g. `getblockhash 1000`.
        #[arg(
            required = true,
            allow_hyphen_values = true,
            trailing_var_arg = true,
            value_name = "[-named] [-stdin] METHOD [ARGS]"
        )]
        words: Vec<String>,
    },
    /// Run a network of real nodes on this machine and measure it: a network namespace
    /// per node with shaped links when root, else loopback. Writes report.json and
    /// report.html; `node lab cleanup` removes what a crashed lab left.
    Lab(node_lab::LabArgs),
    /// Print a reference page of the book, generated from the code: every profile key of
    /// every registered module and strategy (`config`), or every command and flag (`cli`).
    Reference {
        /// Which page.
        #[arg(value_enum)]
        page: reference::Page,
    },
}

/// Runs the `node` command line with the process's arguments, on every module linked
/// into the calling binary, and returns the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The RPC client prints results on stdout and errors on stderr, nothing else; a
    // chain spec is printed for redirection into a file.
    let logs = (!matches!(
        cli.command,
        Some(
            Command::Rpc { .. }
                | Command::Rpcauth { .. }
                | Command::Chainspec { .. }
                | Command::Lab(_)
                | Command::Reference { .. }
                | Command::CheckDatadir {
                    walk_chain: Some(_)
                }
        )
    ))
    .then(logging::init);
    let source = commands::profile_source(cli.profile.clone());
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => commands::run(source, &cli.sets, cli.datadir, logs),
        Command::Check => commands::check(source, &cli.sets, cli.datadir),
        Command::Modules => commands::list_modules(),
        Command::Import { from_datadir, file } => {
            commands::import(source, &cli.sets, cli.datadir, from_datadir, file)
        }
        Command::CheckDatadir {
            walk_chain: Some(dir),
        } => return node_chain_state::integrity::walk_as_child(&dir),
        Command::CheckDatadir { walk_chain: None } => {
            commands::check_datadir(source, &cli.sets, cli.datadir)
        }
        Command::Chainspec { name, from } => commands::chainspec(name, from),
        Command::Rpcauth { user, password } => commands::rpcauth(&user, password),
        Command::Rpc { words } => commands::rpc(source, &cli.sets, cli.datadir, &words),
        Command::Lab(args) => std::env::current_exe()
            .map_err(anyhow::Error::from)
            .and_then(|bin| node_lab::main(args, bin)),
        Command::Reference { page } => reference::print(page),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
