//! The command line: what the user typed (`args`), what it means (`config`; `stress`
//! and its plan files, `stress_plan`), clap's errors as one line (`clap_error`), and
//! whether the report paths can be written (`writable`).

mod archive;
mod args;
mod clap_error;
mod config;
mod config_file;
mod enums;
mod merge;
mod partition;
mod queue;
mod stress;
mod stress_plan;
mod with_profile;
mod writable;

pub use archive::ArchiveConfig;
pub use args::*;
pub use clap_error::*;
pub use config::*;
pub use config_file::{Profile, CONFIG_PATH, PROFILE_ENV};
pub use queue::QueueConfig;
pub use stress::{StressConfig, StressPlansConfig};

/// `cargo xpar ARGS...` parsed and validated, as the command line would be: the
/// invocation, or the clap error kind or usage error as text.
#[cfg(test)]
pub(crate) fn parse_for_test(args: &[&str]) -> Result<Invocation, String> {
    use clap::Parser;
    let cli = CargoCli::try_parse_from(["cargo", "xpar"].iter().chain(args))
        .map_err(|e| format!("{:?}", e.kind()))?;
    let CargoCli::Xpar(app) = cli;
    app.into_invocation().map_err(|e| e.to_string())
}
