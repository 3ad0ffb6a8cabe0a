//! `node lab`: a network of real `node` processes on one machine, played a scenario and
//! measured from the nodes themselves.
//!
//! Each node runs in its own network namespace on one bridge, its upload shaped with
//! `tbf` (and delayed or lossy with `netem` where the kernel has it), when the lab may
//! make namespaces (root or CAP_NET_ADMIN); otherwise on its own loopback address,
//! unshaped, and the lab says so. Topologies come from a seed, so `--compare` runs the same
//! network once per broadcast behaviour. Arrival times come from each node's `/events`
//! stream (each event carries the node's clock, shared by every node of the machine),
//! bytes from the kernel's counters of each link (`getnettotals` on loopback), CPU and
//! memory from `/proc`, connections and bans from RPC.
//!
//! Output: `report.json` and a self-contained `report.html` (CDF plots of arrival times,
//! tables per step) in `--out`, and a progress line per step on standard error. Every
//! namespace, process and data directory (on tmpfs, `/dev/shm`, by default) is removed
//! at the end, on Ctrl-C or SIGTERM, and by `node lab cleanup` after a crash, from the
//! record in `/tmp/node-lab/`. A run is bounded by the scenario's `deadline_secs`.
//!
//! Costs: every node is a full process (about 10-25 MB of memory); 100 nodes fit a 2-core
//! machine, whose CPU then shows in the figures: the report gives each node's CPU.

mod coins;
mod net;
mod node;
mod report;
mod rpc;
mod run;
pub mod scenario;
mod topology;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use report::Report;
use scenario::Scenario;

/// `node lab` arguments.
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LabArgs {
    /// `cleanup` instead of a run.
    #[command(subcommand)]
    pub command: Option<LabCommand>,
    /// The scenario file (TOML); without it, 20 nodes, 20 transactions and 5 blocks.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Nodes, over the scenario's.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Seed, over the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Upload rate of every link in Mbit/s, over the scenario's (0: unshaped).
    #[arg(long, value_name = "MBIT")]
    pub rate_mbit: Option<f64>,
    /// Topology kind, over the scenario's.
    #[arg(long)]
    pub topology: Option<String>,
    /// Run the same network once per broadcast behaviour (`relay.broadcast`), side by
    /// side in one report: `--compare flood,announce`.
    #[arg(long, value_delimiter = ',', value_name = "BEHAVIOURS")]
    pub compare: Vec<String>,
    /// `--set` overrides for every node, after the scenario's.
    #[arg(long = "node-set", value_name = "KEY=VALUE")]
    pub node_sets: Vec<String>,
    /// The node binary to run (a third party's build, say); default: this one.
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Run on loopback even when namespaces could be made.
    #[arg(long)]
    pub loopback: bool,
    /// Where the nodes' data directories go; default a directory on tmpfs (`/dev/shm`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where `report.json` and `report.html` are written.
    #[arg(long, value_name = "DIR", default_value = "lab-report")]
    pub out: PathBuf,
    /// Keep the data directories (and logs) after the run, for reading.
    #[arg(long)]
    pub keep: bool,
    /// The nodes' log filter (`RUST_LOG`), e.g. `debug` or `node_sync=debug`.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub node_log: String,
}

/// `node lab` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum LabCommand {
    /// Remove what labs that are no longer running left behind (namespaces, bridges,
    /// processes, data directories), from their records in /tmp/node-lab.
    Cleanup {
        /// Also stop and clean labs that are still running.
        #[arg(long)]
        all: bool,
    },
}

/// Runs `node lab`; `self_bin` is the node binary to start when `--node-bin` is not given.
pub fn main(args: LabArgs, self_bin: PathBuf) -> anyhow::Result<()> {
    if let Some(LabCommand::Cleanup { all }) = args.command {
        let cleaned = net::cleanup(all)?;
        eprintln!("lab: cleaned {cleaned} lab(s)");
        return Ok(());
    }
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    if let Some(n) = args.nodes {
        scenario.nodes = n;
    }
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(rate) = args.rate_mbit {
        scenario.link.rate_mbit = rate;
    }
    if let Some(kind) = &args.topology {
        scenario.topology.kind = kind.clone();
    }
    scenario
        .check()
        .context("in the scenario with the command line's values")?;
    let bin = args.node_bin.clone().unwrap_or(self_bin);
    if !bin.exists() {
        bail!("node binary {} does not exist", bin.display());
    }

    let mut slot = net::Slot::take()?;
    let number = slot.number();
    watch_signals(number);
    let mode = if !args.loopback && net::can_use_namespaces() {
        net::Mode::Namespaces
    } else {
        net::Mode::Loopback
    };
    let shaped = scenario.link.rate_mbit > 0.0
        || scenario.link.delay_ms > 0.0
        || scenario.link.loss_percent > 0.0;
    match mode {
        net::Mode::Namespaces => eprintln!(
            "lab: {} nodes, a network namespace each on bridge nlab{number}",
            scenario.nodes
        ),
        net::Mode::Loopback => eprintln!(
            "lab: {} nodes on loopback addresses 127.{number}.0.x ({}){}",
            scenario.nodes,
            if args.loopback {
                "--loopback"
            } else {
                "no permission to make network namespaces"
            },
            if shaped {
                "; links are NOT shaped on loopback"
            } else {
                ""
            }
        ),
    }
    if mode == net::Mode::Namespaces
        && (scenario.link.delay_ms > 0.0 || scenario.link.loss_percent > 0.0)
        && !net::has_netem()
    {
        slot.release();
        bail!("this kernel has no netem qdisc: link delay and loss cannot be applied (the lab does not fake them inside the node); set link.delay_ms and link.loss_percent to 0");
    }
    let data = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/dev/shm/node-lab-{number}")));
    if !args.keep {
        slot.record(|r| r.dir = Some(data.clone()))?;
    }
    let behaviours: Vec<Option<String>> = if args.compare.is_empty() {
        vec![None]
    } else {
        args.compare.iter().cloned().map(Some).collect()
    };
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(scenario.deadline_secs);
    let mut report = Report::new(&scenario, mode, &bin);
    let mut failure = None;
    for behaviour in &behaviours {
        let label = behaviour.clone().unwrap_or_else(|| "run".to_string());
        let mut sets = args.node_sets.clone();
        if let Some(b) = behaviour {
            sets.push(format!("relay.broadcast={b}"));
        }
        let setup = run::Setup {
            scenario: &scenario,
            mode,
            bin: bin.clone(),
            sets,
            log: args.node_log.clone(),
            data: data.join(&label),
            deadline,
        };
        eprintln!("lab: run {label}");
        match run::run(&setup, &mut slot) {
            Ok(result) => report.runs.push(result.labelled(&label)),
            Err(e) => {
                failure = Some(e.context(format!("run {label}")));
                break;
            }
        }
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    let written = report.write(&args.out);
    if args.keep {
        eprintln!("lab: node data and logs kept in {}", data.display());
    }
    slot.release();
    if let Some(e) = failure {
        return Err(e);
    }
    let (json, html) = written?;
    eprintln!(
        "lab: done in {:.0} s; report {} and {}",
        report.elapsed_secs,
        json.display(),
        html.display()
    );
    Ok(())
}

/// Ctrl-C and SIGTERM remove what the lab made before it exits.
fn watch_signals(slot: u8) {
    let spawned = std::thread::Builder::new()
        .name("lab-signals".to_string())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(mut term) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            });
            eprintln!("\nlab: interrupted; removing the lab's namespaces, processes and data");
            net::cleanup_slot(slot);
            std::process::exit(130);
        });
    if let Err(e) = spawned {
        eprintln!("lab: cannot watch for Ctrl-C ({e}); `node lab cleanup` removes what a stopped lab left");
    }
}
