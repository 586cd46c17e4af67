//! One `--coverage` run from the runner's side: the tools are found before anything is
//! built (a missing tool fails fast), each run's profiles go to a directory of their own
//! under the target dir (kept, so shards of a run can be merged later), and the reports
//! are written once the tests are done.

use std::path::{Path, PathBuf};

use super::foreign::{foreign_roots, ignore_regex};
use super::report::{write_reports, ReportInput};
use super::summary::Summary;
use super::tools::{self, LlvmTools};
use super::CoverageConfig;
use crate::discover::TestList;
use crate::errors::CoverageError;

pub struct CoverageSession {
    tools: LlvmTools,
    config: CoverageConfig,
}

/// What a finished coverage run produced.
pub struct CoverageResult {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    pub profile_dir: PathBuf,
}

impl CoverageSession {
    pub fn start(config: &CoverageConfig) -> Result<Self, CoverageError> {
        Ok(CoverageSession {
            tools: tools::find()?,
            config: config.clone(),
        })
    }

    /// A new directory for this run's profiles: `<target>/xpar/coverage-runs/<time>-<pid>`.
    pub fn profile_dir(&self, target_dir: &Path) -> Result<PathBuf, CoverageError> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let dir = target_dir
            .join("xpar")
            .join("coverage-runs")
            .join(format!("{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| CoverageError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Merges the run's profiles and writes the reports.
    pub fn finish(
        &self,
        list: &TestList,
        profile_dir: &Path,
        target_dir: &Path,
        workspace_root: &Path,
    ) -> Result<CoverageResult, CoverageError> {
        let mut objects: Vec<PathBuf> = Vec::new();
        let mut packages: Vec<(String, PathBuf)> = Vec::new();
        for lb in &list.binaries {
            let b = &lb.binary;
            objects.push(b.path.clone());
            // Executables the tests may spawn, built instrumented beside them.
            objects.extend(
                b.env
                    .iter()
                    .filter(|(k, _)| k.starts_with("CARGO_BIN_EXE_"))
                    .map(|(_, v)| PathBuf::from(v)),
            );
            packages.push((b.package.clone(), b.cwd.clone()));
        }
        objects.sort();
        objects.dedup();
        objects.retain(|o| o.is_file());
        packages.sort();
        packages.dedup();
        let out_dir = self
            .config
            .output
            .clone()
            .unwrap_or_else(|| target_dir.join("xpar").join("coverage"));
        let (summary, files) = write_reports(&ReportInput {
            tools: &self.tools,
            profile_dir,
            objects,
            packages,
            workspace_root,
            ignore_filenames: &ignore_regex(&foreign_roots(&self.tools.sysroot)),
            out_dir: &out_dir,
            formats: &self.config.formats,
        })?;
        Ok(CoverageResult {
            summary,
            files,
            profile_dir: profile_dir.to_owned(),
        })
    }

    pub fn fail_under_lines(&self) -> Option<f64> {
        self.config.fail_under_lines
    }
}
