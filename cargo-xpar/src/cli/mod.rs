//! The command line: what the user typed (`args`), what it means (`config`), and clap's
//! errors as one line (`clap_error`).

mod args;
mod clap_error;
mod config;

pub use args::*;
pub use clap_error::*;
pub use config::*;
