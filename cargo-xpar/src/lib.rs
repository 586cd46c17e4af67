//! cargo-xpar: the command line of the runner in `xpar-runner`. It parses and validates
//! the arguments (`cli`), carries out one subcommand (`run`, `list`, `stress`,
//! `history`, `mcp`, ...) and shows the run on the terminal (`display`, a consumer of the
//! runner's events).

mod archive;
pub mod cli;
pub mod display;
mod history_cmd;
mod list;
mod list_output;
mod mcp;
mod merge;
mod queue_cmd;
mod replay;
mod run;
mod stress;

use std::ffi::OsString;

use clap::Parser;

use cli::{CargoCli, Invocation};
use xpar_runner::errors::Error;
// The runner's stages, by the names the subcommands and the display use.
pub(crate) use xpar_runner::{
    cargo, coverage, discover, errors, execute, exit_codes, plan, process, report,
};

/// Runs `cargo xpar` with these arguments (the first is the program name) and returns the
/// exit code. Prints errors itself, once.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // Run directly as `cargo-xpar ...` rather than through cargo: supply the `xpar`.
    if args.get(1).is_none_or(|a| a != "xpar") {
        args.insert(1.min(args.len()), "xpar".into());
    }
    let cli = match CargoCli::try_parse_from(&args) {
        Ok(cli) => cli,
        // clap returns --help and --version as errors too: those print as they are.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return exit_codes::OK;
        }
        Err(e) => {
            eprintln!("{}", cli::clap_error_line(&e));
            return exit_codes::USAGE;
        }
    };
    let CargoCli::Xpar(app) = cli;
    let result = app
        .into_invocation()
        .map_err(Error::from)
        .and_then(|inv| match inv {
            Invocation::Run(cfg) => run::run(&cfg),
            Invocation::List(cfg) => list::list(&cfg),
            Invocation::Stress(cfg) => stress::stress(&cfg),
            Invocation::StressPlans(cfg) => stress::stress_plans(&cfg),
            Invocation::Replay(cfg) => replay::replay(&cfg),
            Invocation::History(cfg) => history_cmd::history(&cfg),
            Invocation::Merge(cfg) => merge::merge(&cfg),
            Invocation::Queue(cfg) => queue_cmd::queue(&cfg),
            Invocation::Archive(cfg) => archive::archive(&cfg),
            Invocation::Mcp(cfg) => mcp::serve(&cfg),
        });
    match result {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            e.exit_code()
        }
    }
}

fn print_error(e: &Error) {
    if e.already_shown() {
        return;
    }
    let mut text = format!("error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text += &format!("\n  caused by: {s}");
        source = s.source();
    }
    eprintln!("{text}");
}
