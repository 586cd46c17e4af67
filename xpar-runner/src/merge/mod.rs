//! `cargo xpar merge`: the results directories of a run's shards (`--results-dir`) made
//! into one JUnit report, one JSON report, one duration history and one coverage report,
//! as if one machine had run everything; or a clear error when they do not make one run.

mod combine;
mod shards;

use std::path::PathBuf;

use crate::archive::{self, ArchiveSource};
use crate::cargo::CargoOptions;
use crate::coverage::{CoverageConfig, CoverageResult, CoverageSession};
use crate::errors::{Error, MergeError};
use crate::report::results_dir::COVERAGE_FILE;
use crate::{discover, exit_codes, report, session};

pub use combine::Merged;
pub use shards::Shard;

/// A merge, validated.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The shards' results directories.
    pub dirs: Vec<PathBuf>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// Written after the coverage report, whose table it shows.
    pub html: Option<PathBuf>,
    pub durations: Option<PathBuf>,
    pub coverage: Option<MergeCoverage>,
}

/// A coverage report from the shards' profiles, exported against the test binaries of
/// the archive the shards ran, else of the workspace `cargo` builds (either must be the
/// shards' build).
#[derive(Debug, Clone)]
pub struct MergeCoverage {
    pub config: CoverageConfig,
    pub cargo: CargoOptions,
    pub jobs: usize,
    pub archive: Option<ArchiveSource>,
}

/// What a merge made.
pub struct MergeEnd {
    pub merged: Merged,
    pub coverage: Option<CoverageResult>,
    /// The exit code the merged run asks for, as the run would have.
    pub exit_code: i32,
}

/// Reads and checks every shard, then writes the merged reports asked for.
pub fn merge(opts: &MergeOptions) -> Result<MergeEnd, Error> {
    let mut shards = shards::read_all(&opts.dirs)?;
    shards::check(&mut shards)?;
    if opts.coverage.is_some() {
        // A shard in which no test ran has no profile, and needs none.
        let ran = |s: &Shard| s.report.tests.iter().any(|t| t.worker.is_some());
        if let Some(s) = shards
            .iter()
            .find(|s| ran(s) && !s.dir.join(COVERAGE_FILE).is_file())
        {
            return Err(MergeError::NoCoverage { dir: s.dir.clone() }.into());
        }
    }
    let history = combine::durations(&shards)?;
    let merged = combine::combine(&shards);
    if let Some(path) = &opts.junit {
        report::write_junit(&merged.record, path)?;
    }
    if let Some(path) = &opts.json {
        report::write_report(&merged.report, path)?;
    }
    if let Some(path) = &opts.durations {
        combine::write_durations(path, history)?;
    }
    let coverage = opts
        .coverage
        .as_ref()
        .map(|c| merge_coverage(c, &shards))
        .transpose();
    if let Some(path) = &opts.html {
        // The page is written whether or not the coverage report could be made.
        let summary = coverage
            .as_ref()
            .ok()
            .and_then(|c| c.as_ref())
            .map(|c| &c.summary);
        report::write_html(&merged.report, summary, path)?;
    }
    let coverage = coverage?;
    let mut exit_code = merged.record.exit_code();
    if let (exit_codes::OK, Some(result), Some(min)) = (
        exit_code,
        &coverage,
        opts.coverage
            .as_ref()
            .and_then(|c| c.config.fail_under_lines),
    ) {
        if result.summary.total.lines.percent() < min {
            exit_code = exit_codes::COVERAGE_BELOW_THRESHOLD;
        }
    }
    Ok(MergeEnd {
        merged,
        coverage,
        exit_code,
    })
}

/// The shards' profiles merged and exported against this workspace's instrumented
/// build, once that build is checked to be the shards'.
fn merge_coverage(c: &MergeCoverage, shards: &[Shard]) -> Result<CoverageResult, Error> {
    let session = CoverageSession::start(&c.config)?;
    // The extraction lives until the report is made.
    let (found, _extraction, here) = match &c.archive {
        Some(source) => {
            let opened = archive::open_for_run(source, true)?;
            let id = opened.info.build_id.clone();
            (opened.discovered, Some(opened.info), id)
        }
        None => {
            let found = session::discover(&c.cargo, c.jobs, true, false)?;
            let id = discover::build_identity(&found.list).map_err(|source| MergeError::Write {
                path: found.target_dir.clone(),
                source,
            })?;
            (found, None, id)
        }
    };
    let theirs = shards[0].report.build_id.clone().unwrap_or_default();
    if here != theirs {
        return Err(MergeError::CoverageBuild {
            here,
            shards: theirs,
        }
        .into());
    }
    let dir = session.profile_dir(&found.target_dir)?;
    for s in shards
        .iter()
        .filter(|s| s.dir.join(COVERAGE_FILE).is_file())
    {
        let to = dir.join(format!("shard-{}.profdata", s.index));
        std::fs::copy(s.dir.join(COVERAGE_FILE), &to)
            .map_err(|source| MergeError::Write { path: to, source })?;
    }
    Ok(session.finish(&found.list, &dir, &found.target_dir, &found.workspace_root)?)
}
