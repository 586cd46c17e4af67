//! The command line: what the user typed (`args`) and what it means (`config`).

mod args;
mod config;

pub use args::*;
pub use config::*;
