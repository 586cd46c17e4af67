//! After a `--coverage` run: merge every worker's profile data (`llvm-profdata merge
//! -sparse`), then export it against every test binary and every executable the tests
//! could spawn (`llvm-cov export` / `show`), leaving out registry and toolchain sources,
//! in the formats asked for, and summarise it per crate.

use std::path::{Path, PathBuf};

use super::cobertura::{cobertura_xml, parse_lcov};
use super::summary::{parse_summary, Summary};
use super::tools::LlvmTools;
use crate::errors::CoverageError;
use crate::process::{describe_status, tail, ProcessBuilder};

/// A report format (`--coverage-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CoverageFormat {
    /// `lcov.info`: Codecov, Coveralls, genhtml.
    Lcov,
    /// `cobertura.xml`: GitLab, Azure DevOps, Jenkins.
    Cobertura,
    /// `coverage.json`: llvm-cov's own JSON export.
    Json,
    /// `html/index.html`: llvm-cov's annotated sources.
    Html,
}

/// Sources that are not the workspace's: crates.io and git dependencies, the standard
/// library.
const IGNORE_FILES: &str = r"(/\.cargo/(registry|git)/|/\.rustup/toolchains/|^/rustc/)";

/// Everything the export needs.
pub struct ReportInput<'a> {
    pub tools: &'a LlvmTools,
    /// Where the run's `.profraw` files are; the merged profile goes there too.
    pub profile_dir: &'a Path,
    /// Test binaries and the executables they may spawn.
    pub objects: Vec<PathBuf>,
    /// (package name, package root), to give each source file its crate.
    pub packages: Vec<(String, PathBuf)>,
    pub workspace_root: &'a Path,
    pub out_dir: &'a Path,
    pub formats: &'a [CoverageFormat],
}

impl ReportInput<'_> {
    /// The crate whose root holds `file` (the deepest one), else `(other)`.
    fn crate_of(&self, file: &str) -> String {
        self.packages
            .iter()
            .filter(|(_, root)| Path::new(file).starts_with(root))
            .max_by_key(|(_, root)| root.as_os_str().len())
            .map_or_else(|| "(other)".to_owned(), |(name, _)| name.clone())
    }

    fn llvm_cov(&self, subcommand: &str, profdata: &Path) -> ProcessBuilder {
        let mut p = ProcessBuilder::new(&self.tools.cov);
        p.arg(subcommand)
            .arg(format!("-instr-profile={}", profdata.display()))
            .arg(format!("-ignore-filename-regex={IGNORE_FILES}"));
        for (i, o) in self.objects.iter().enumerate() {
            if i == 0 {
                p.arg(o);
            } else {
                p.arg(format!("-object={}", o.display()));
            }
        }
        p
    }
}

/// Merges, exports and summarises; returns the summary and the files written.
pub fn write_reports(input: &ReportInput<'_>) -> Result<(Summary, Vec<PathBuf>), CoverageError> {
    let profraw: Vec<PathBuf> = std::fs::read_dir(input.profile_dir)
        .map_err(|source| CoverageError::Io {
            path: input.profile_dir.to_owned(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "profraw"))
        .collect();
    if profraw.is_empty() {
        return Err(CoverageError::NoProfiles {
            dir: input.profile_dir.to_owned(),
        });
    }
    let profdata = input.profile_dir.join("merged.profdata");
    let mut merge = ProcessBuilder::new(&input.tools.profdata);
    merge
        .args(["merge", "-sparse"])
        .args(&profraw)
        .arg("-o")
        .arg(&profdata);
    run(&merge)?;

    std::fs::create_dir_all(input.out_dir).map_err(|source| CoverageError::Io {
        path: input.out_dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    let mut lcov_text: Option<String> = None;
    let mut lcov = || -> Result<String, CoverageError> {
        if let Some(t) = &lcov_text {
            return Ok(t.clone());
        }
        let mut p = input.llvm_cov("export", &profdata);
        p.arg("-format=lcov");
        let t = run(&p)?;
        lcov_text = Some(t.clone());
        Ok(t)
    };
    for format in input.formats {
        let (path, text) = match format {
            CoverageFormat::Lcov => (input.out_dir.join("lcov.info"), lcov()?),
            CoverageFormat::Cobertura => {
                let files = parse_lcov(&lcov()?).map_err(CoverageError::Parse)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let xml = cobertura_xml(&files, input.workspace_root, |f| input.crate_of(f), now);
                (input.out_dir.join("cobertura.xml"), xml)
            }
            CoverageFormat::Json => {
                let mut p = input.llvm_cov("export", &profdata);
                p.arg("-format=text");
                (input.out_dir.join("coverage.json"), run(&p)?)
            }
            CoverageFormat::Html => {
                let dir = input.out_dir.join("html");
                let mut p = input.llvm_cov("show", &profdata);
                p.args(["-format=html", "-show-line-counts-or-regions"])
                    .arg(format!("-output-dir={}", dir.display()));
                run(&p)?;
                written.push(dir.join("index.html"));
                continue;
            }
        };
        std::fs::write(&path, text).map_err(|source| CoverageError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }

    let mut p = input.llvm_cov("export", &profdata);
    p.args(["-format=text", "-summary-only"]);
    let summary = parse_summary(&run(&p)?, |f| input.crate_of(f)).map_err(CoverageError::Parse)?;
    Ok((summary, written))
}

/// Runs `p`, returning its stdout; a failure names the command, its status and the tail
/// of what it printed.
fn run(p: &ProcessBuilder) -> Result<String, CoverageError> {
    let out = p
        .command()
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| CoverageError::Spawn {
            command: p.to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(CoverageError::Tool {
            command: p.to_string(),
            status: describe_status(out.status),
            output: tail(&String::from_utf8_lossy(&out.stderr), 10),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
