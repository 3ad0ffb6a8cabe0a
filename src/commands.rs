//! The commands of the binary, each a thin call into the kernel.

use std::path::PathBuf;

use anyhow::Context;

/// Prints a line on stdout; a closed pipe (`node modules | head`) ends output quietly
/// instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
use node_kernel::{
    plan, registered_modules, registered_strategies, Profile, ProfileSource, ServiceDecl,
};

/// The profile used when `--profile` is not given: every module a user needs to follow
/// the `dev` chain, with a wallet and RPC, and no miner.
const DEFAULT_PROFILE: &str = include_str!("../configs/default.toml");

pub(crate) fn profile_source(file: Option<PathBuf>) -> ProfileSource {
    match file {
        Some(path) => ProfileSource::File(path),
        None => ProfileSource::Embedded {
            name: "configs/default.toml",
            text: DEFAULT_PROFILE,
        },
    }
}

fn load(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
) -> anyhow::Result<node_kernel::Plan> {
    let profile = Profile::load(&source, std::env::vars(), sets, datadir)?;
    Ok(plan(profile)?)
}

pub(crate) fn run(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
    logs: Option<std::sync::Arc<crate::logging::ReloadableFilter>>,
) -> anyhow::Result<()> {
    let mut plan = load(source, sets, datadir)?;
    // The `logging` method changes the filter this process installed.
    plan.log_control = logs.map(|l| l as std::sync::Arc<dyn node_kernel::LogControl>);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if plan.profile.node.threads > 0 {
        runtime.worker_threads(plan.profile.node.threads);
    }
    let runtime = runtime
        .enable_all()
        .thread_name("node")
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(node_kernel::run(plan))?;
    Ok(())
}

pub(crate) fn check(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let plan = load(source, sets, datadir)?;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    let names: Vec<&str> = plan.modules.iter().map(|m| m.factory.name).collect();
    out!(
        "{}: ok; modules in start order: {}",
        plan.profile.node.profile,
        names.join(", ")
    );
    // The effective settings, defaults and overrides applied: what would run.
    let mut effective = serde_json::Map::new();
    effective.insert(
        "node".to_string(),
        serde_json::to_value(&plan.profile.node)?,
    );
    for m in &plan.modules {
        effective.insert(m.factory.name.to_string(), m.config.clone());
    }
    out!("{}", serde_json::to_string_pretty(&effective)?);
    Ok(())
}

pub(crate) fn list_modules() -> anyhow::Result<()> {
    out!("modules:");
    for (name, factory) in registered_modules()? {
        let mut line = format!("  {name:<14} {}", factory.description);
        let names = |services: &[ServiceDecl]| -> String {
            services
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !factory.provides.is_empty() {
            line.push_str(&format!(" [provides: {}]", names(factory.provides)));
        }
        if !factory.needs.is_empty() {
            line.push_str(&format!(" [needs: {}]", names(factory.needs)));
        }
        out!("{line}");
    }
    let mut behaviour = "";
    for strategy in registered_strategies()? {
        if strategy.behaviour != behaviour {
            behaviour = strategy.behaviour;
            out!("{behaviour}:");
        }
        out!("  {:<14} {}", strategy.name, strategy.description);
    }
    Ok(())
}

/// `node rpcauth USER [PASSWORD]`: what rpcauth.py prints, worded for a profile.
pub(crate) fn rpcauth(user: &str, password: Option<String>) -> anyhow::Result<()> {
    if user.is_empty() || user.contains(':') {
        anyhow::bail!("node rpcauth: the user name must be non-empty and hold no ':'");
    }
    let password = password.unwrap_or_else(node_rpc::generate_password);
    let entry = node_rpc::RpcAuth::new(user, &password);
    out!("String to be appended to [rpc] auth in the profile:");
    out!("{:?}", entry.line());
    out!("Your password:");
    out!("{password}");
    Ok(())
}

/// What `node rpc` was asked: bitcoin-cli's options, the method and its arguments.
#[derive(Debug, PartialEq, Eq)]
struct RpcCommand {
    named: bool,
    stdin: bool,
    method: String,
    args: Vec<String>,
}

/// Splits `[-named] [-stdin] METHOD ARGS...`: options come before the method, as
/// bitcoin-cli takes them (also written with two dashes); after the method every word is
/// an argument, so `-1` stays a number.
fn rpc_command(words: &[String]) -> anyhow::Result<RpcCommand> {
    let mut named = false;
    let mut stdin = false;
    let mut rest = words.iter();
    for word in rest.by_ref() {
        match word.as_str() {
            "-named" | "--named" => named = true,
            "-stdin" | "--stdin" => stdin = true,
            option if option.starts_with('-') => {
                anyhow::bail!("node rpc: unknown option {option} (known: -named, -stdin)")
            }
            method => {
                return Ok(RpcCommand {
                    named,
                    stdin,
                    method: method.to_string(),
                    args: rest.cloned().collect(),
                })
            }
        }
    }
    anyhow::bail!("node rpc: no method given (node rpc [-named] [-stdin] METHOD [ARGS...])")
}

pub(crate) fn rpc(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
    words: &[String],
) -> anyhow::Result<()> {
    let mut command = rpc_command(words)?;
    if command.stdin {
        // As bitcoin-cli's -stdin: each line is one more argument, after those given.
        for line in std::io::stdin().lines() {
            command
                .args
                .push(line.context("node rpc -stdin: cannot read standard input")?);
        }
    }
    let profile = Profile::load(&source, std::env::vars(), sets, datadir)?;
    let result = node_rpc::cli_call(&profile, &command.method, &command.args, command.named)?;
    let text = node_rpc::format_cli_output(&result);
    if !text.is_empty() {
        out!("{text}");
    }
    Ok(())
}

/// `node check-datadir`: the cheap check, then every record read in a child process.
pub(crate) fn check_datadir(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
) -> anyhow::Result<()> {
    use node_chain_state::integrity::{self, ChildWalkError};
    let profile = Profile::load(&source, std::env::vars(), sets, datadir)?;
    let datadir = &profile.node.datadir;
    // Held while checking: a running node is refused here, and none starts meanwhile.
    let _lock = node_kernel::DataDir::open(datadir)?;
    let dir = datadir.join("chain");
    integrity::check_files(&dir)?;
    let program = std::env::current_exe().context("cannot find this program to run the walk")?;
    match integrity::walk_in_child(&program, &dir) {
        Ok(report) => {
            out!(
                "{}: ok; {} records ({} bytes) in {} tables",
                dir.join(integrity::DATA_FILE).display(),
                report.records,
                report.bytes,
                report.tables
            );
            Ok(())
        }
        Err(ChildWalkError::Corrupt(e)) => Err(e.into()),
        Err(ChildWalkError::NotRun(reason)) => anyhow::bail!("the walk did not run: {reason}"),
    }
}

/// Opens a node's chain state the way its chain module would, holding its lock.
fn open_chain(
    profile: &Profile,
    datadir: &std::path::Path,
) -> anyhow::Result<(
    node_kernel::DataDir,
    std::sync::Arc<node_chain_state::ChainState>,
)> {
    let spec = node_chain::resolve(&profile.node.chain, &profile.node.chain_base)
        .with_context(|| format!("in {}, [node] chain", profile.node.profile))?;
    let config: node_chain_module::ChainConfig = match profile.merged.get("chain") {
        Some(table) => serde_json::from_value(table.clone())
            .with_context(|| format!("in {}, [chain]", profile.node.profile))?,
        None => node_chain_module::ChainConfig::default(),
    };
    let lock = node_kernel::DataDir::open(datadir)?;
    let options = config.options(&spec)?;
    let state = node_chain_state::ChainState::open(&datadir.join("chain"), spec, options, |_| {})?;
    Ok((lock, state))
}

pub(crate) fn import(
    source: ProfileSource,
    sets: &[String],
    datadir: Option<PathBuf>,
    from_datadir: Option<PathBuf>,
    file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let profile = Profile::load(&source, std::env::vars(), sets, datadir)?;
    let (_lock, state) = open_chain(&profile, &profile.node.datadir)?;
    let report = match (from_datadir, file) {
        (Some(dir), None) => {
            // The source is read through its own chain state, with its own lock.
            let (_source_lock, source) = open_chain(&profile, &dir)?;
            let target = Some(source.tip().height);
            // Headers first, so an assumed-valid block of the source takes effect at once.
            node_chain_state::import_headers(&state, &source)?;
            node_chain_state::import_blocks(
                &state,
                node_chain_state::chain_blocks(&source),
                target,
                |_| {},
            )?
        }
        (None, Some(path)) => {
            let blocks = node_chain_state::BlockFileReader::open(&path)?;
            node_chain_state::import_blocks(&state, blocks, None, |_| {})?
        }
        _ => anyhow::bail!("give --from-datadir DIR or --file FILE"),
    };
    out!(
        "imported {} blocks ({} already stored) in {:.1} s; tip height {}",
        report.imported,
        report.skipped,
        report.elapsed.as_secs_f64(),
        report.height
    );
    Ok(())
}

pub(crate) fn chainspec(name: Option<String>, from: Option<PathBuf>) -> anyhow::Result<()> {
    use node_chain::spec_file::check_spec_text;
    match (name, from) {
        (Some(name), None) => {
            let spec = node_chain::ChainSpec::by_name(&name)?;
            out!("{}", spec.to_toml().trim_end());
        }
        (None, Some(path)) => {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("chain spec {file}: cannot read"))?;
            let checked =
                check_spec_text(&text, &file).map_err(|e| anyhow::anyhow!(toml_words(&e)))?;
            if checked.nonce_found {
                eprintln!(
                    "{file}: genesis.nonce did not meet pow_limit_bits; found nonce {}, genesis {}. \
                     The completed file follows: save it over {file}.",
                    checked.spec.genesis.nonce, checked.genesis_hash
                );
                out!("{}", checked.spec.to_toml().trim_end());
            } else {
                out!(
                    "{file}: ok; chain {}, genesis {}",
                    checked.spec.name,
                    checked.genesis_hash
                );
            }
        }
        _ => anyhow::bail!("give a built-in chain name or --from FILE"),
    }
    Ok(())
}

fn toml_words(error: &impl std::fmt::Display) -> String {
    node_kernel::toml_words(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bitcoin_cli_options_come_before_the_method() {
        assert_eq!(
            rpc_command(&words(&["-named", "-stdin", "getblock", "verbosity=2"])).unwrap(),
            RpcCommand {
                named: true,
                stdin: true,
                method: "getblock".into(),
                args: words(&["verbosity=2"]),
            }
        );
        let plain = rpc_command(&words(&["getnetworkhashps", "-1", "-named"])).unwrap();
        assert!(!plain.named && !plain.stdin);
        assert_eq!(plain.args, words(&["-1", "-named"]));
        assert!(rpc_command(&words(&["--named", "uptime"])).unwrap().named);
        let err = rpc_command(&words(&["-rpcwait", "uptime"])).unwrap_err();
        assert!(err.to_string().contains("-rpcwait"), "{err}");
        assert!(rpc_command(&words(&["-named"])).is_err());
    }
}
