//! Coverage (`--coverage`): LLVM source-based coverage of a whole run, merged from every
//! worker and every test binary into lcov, Cobertura, JSON and HTML reports, with a
//! per-crate summary.

mod cobertura;
mod foreign;
mod report;
mod session;
mod summary;
mod tools;

use std::path::PathBuf;

/// `--coverage` and its options, validated.
#[derive(Debug, Clone)]
pub struct CoverageConfig {
    pub formats: Vec<report::CoverageFormat>,
    pub output: Option<PathBuf>,
    pub fail_under_lines: Option<f64>,
}

pub use cobertura::{cobertura_xml, parse_lcov, FileCoverage};
pub use report::{write_reports, CoverageFormat, ReportInput};
pub use session::{CoverageResult, CoverageSession};
pub use summary::{parse_summary, render, Count, Coverage, SourceFile, Summary};
pub use tools::{find as find_tools, LlvmTools};

pub use crate::discover::COVERAGE_RUSTFLAGS as RUSTFLAGS;

/// `LLVM_PROFILE_FILE` for the processes of worker `worker`: one file per worker and
/// binary (`%m` merges the processes of one binary into it), written continuously (`%c`).
pub fn profile_pattern(dir: &std::path::Path, worker: &str) -> std::path::PathBuf {
    dir.join(format!("{worker}-%m%c.profraw"))
}
