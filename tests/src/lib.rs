//! Helpers for cargo-xpar's integration tests: build the real binary, copy a fixture
//! workspace to a temp dir, run `cargo xpar` on it, read its JUnit or JSON report and the
//! run history it left, and compare the outcome with the typed model of the fixture in
//! [`fixture_data`]; find the programs some tests need beyond Rust, start a throwaway
//! redis-server, load a page in headless chromium, and find the Python that has the
//! official MCP client.

mod browser;
mod check;
mod fixture;
pub mod fixture_data;
mod history;
mod junit;
mod redis;
mod report;
mod tools;
mod xpar;

pub use browser::Browser;
pub use check::{assert_cases_match, outcome_mismatches, unexpected_cases};
pub use fixture::FixtureCopy;
pub use history::{history_estimates, Estimates};
pub use junit::{parse_junit, read_junit, try_read_junit, JunitCase, JunitFailure};
pub use redis::RedisServer;
pub use report::{run_json, run_json_cmd, JsonRun, JsonTest};
pub use tools::{ci_python_with, nextest_or_skip, optional_tool, path_with_ci_tools};
pub use xpar::{as_in_fixture, run, run_junit, workspace_root, xpar, xpar_bin, JunitRun, Run};
