//! `node reference PAGE`: the book's reference pages that the code can write itself, so
//! they cannot drift from it (a test compares each with the checked-in page).

use std::fmt::Write as _;
use std::io::Write as _;

use clap::{CommandFactory, ValueEnum};

/// A generated page of the book.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Page {
    /// Every profile key of every registered module and strategy (docs/src/reference/config.md).
    Config,
    /// Every command and flag of this binary (docs/src/reference/cli.md).
    Cli,
}

pub(crate) fn print(page: Page) -> anyhow::Result<()> {
    let text = match page {
        Page::Config => node_kernel::config_reference()?,
        Page::Cli => cli_reference(&mut crate::Cli::command()),
    };
    // A closed pipe ends output quietly, as elsewhere in the command line.
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}

/// Every command of the clap definition, with its help, usage, arguments and options.
fn cli_reference(root: &mut clap::Command) -> String {
    root.build();
    let mut out = String::from(
        "# Command-line reference\n\n\
         Every command and flag of `node`, from its command-line definition \
         (`node reference cli`; do not edit: `cargo test --test it reference` fails when \
         this page is stale).\n",
    );
    section(&mut out, root, "node");
    out
}

/// A command's section, then its subcommands' (`node lab cleanup` after `node lab`).
fn section(out: &mut String, command: &clap::Command, path: &str) {
    one_section(out, command, path);
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        section(out, sub, &format!("{path} {}", sub.get_name()));
    }
}

fn one_section(out: &mut String, command: &clap::Command, path: &str) {
    let _ = write!(out, "\n## `{path}`\n\n");
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        let _ = write!(out, "{about}\n\n");
    }
    let usage = command.clone().bin_name(path).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ");
    let _ = write!(out, "```text\n{usage}\n```\n\n");
    let args: Vec<&clap::Arg> = command
        .get_arguments()
        // Global options and help are listed once, at the top.
        .filter(|a| {
            !a.is_hide_set()
                && (path == "node" || !(a.is_global_set() || a.get_id().as_str() == "help"))
        })
        .collect();
    if args.is_empty() {
        return;
    }
    out.push_str("| argument | description |\n|---|---|\n");
    for arg in args {
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} |",
            spelling(arg),
            help.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace('|', "\\|")
        );
    }
}

/// How an argument is typed, in code spans: `--set <KEY=VALUE>`, `-V, --version`, `<USER>`,
/// and its possible values.
fn spelling(arg: &clap::Arg) -> String {
    let names = arg.get_value_names().map(|v| {
        v.iter()
            .map(|n| format!("<{n}>"))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let value = names
        .filter(|_| takes_value)
        .unwrap_or_else(|| format!("<{}>", arg.get_id().as_str().to_uppercase()));
    let mut flags = Vec::new();
    if let Some(short) = arg.get_short() {
        flags.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        flags.push(format!("--{long}"));
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .map(|v| v.get_name().to_string())
        .collect();
    let values = if values.is_empty() {
        String::new()
    } else {
        format!(" (one of: `{}`)", values.join("`, `"))
    };
    if flags.is_empty() {
        return format!("`{value}`{values}");
    }
    let mut text = flags.join(", ");
    if takes_value {
        text.push(' ');
        text.push_str(&value);
    }
    format!("`{text}`{values}")
}
