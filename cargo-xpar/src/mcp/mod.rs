//! `cargo xpar mcp`: the runner as tools for AI coding agents, served over the Model
//! Context Protocol on stdio with the official Rust SDK (rmcp). stdout is the protocol's
//! channel: nothing else may write there, so cargo's output is kept (for a failed build's
//! error) and the tests' is captured, as it always is.

mod options;
mod params;
mod progress;
mod results;
mod schema;
mod serve;
mod server;

pub(crate) use serve::serve;
