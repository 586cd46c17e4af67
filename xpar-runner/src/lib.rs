//! xpar-runner: the runner behind `cargo xpar`. It builds a workspace's test binaries
//! and lists their tests (`discover`), plans what runs where (`plan`, pure), runs the
//! plan over worker processes (`execute`) and reports every outcome as a [`RunEvent`]
//! (`report`), with coverage (`coverage`) and the run history (`history`) beside.
//!
//! It has no command line and prints nothing: what a user sees is made by reporters that
//! consume the events (the terminal display of `cargo-xpar` is one of them).
//!
//! [`RunEvent`]: report::RunEvent

pub mod archive;
pub mod cargo;
pub mod coverage;
pub mod discover;
pub mod doctest;
pub mod errors;
pub mod execute;
pub mod exit_codes;
pub mod history;
pub mod ids;
pub mod merge;
pub mod plan;
pub mod process;
pub mod queue;
pub mod report;
pub mod session;
pub mod suite;
