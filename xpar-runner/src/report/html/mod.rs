//! The HTML report (`--html PATH`): one self-contained page of a run (summary, failures
//! with their output, flaky tests, the slowest tests, per-binary times, a timeline per
//! worker and the coverage table), from the same [`xpar_metadata::RunReport`] the JSON
//! report writes, so a run, a replay, a merge and a queue's report share it.

mod page;
#[cfg(test)]
mod tests;
mod text;
mod timeline;
mod write;

pub use write::{html_report, write_html};
