//! After a `--coverage` run: merge every worker's profile data (`llvm-profdata merge
//! -sparse`), then export it against every test binary and every executable the tests
//! could spawn (`llvm-cov export` / `show`), leaving out registry and toolchain sources,
//! in the formats asked for (each once, in place of any an earlier run left), and
//! summarise it per crate.

use std::path::{Path, PathBuf};

use super::cobertura::{cobertura_xml, parse_lcov};
use super::summary::{parse_summary, Summary};
use super::tools::LlvmTools;
use crate::errors::CoverageError;
use crate::process::{describe_status, tail, ProcessBuilder};

/// A report format (`--coverage-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl CoverageFormat {
    pub const ALL: [CoverageFormat; 4] = [
        CoverageFormat::Lcov,
        CoverageFormat::Cobertura,
        CoverageFormat::Json,
        CoverageFormat::Html,
    ];

    /// What the format is written as in the output directory: a file, or for `html` a
    /// directory.
    fn file_name(self) -> &'static str {
        match self {
            CoverageFormat::Lcov => "lcov.info",
            CoverageFormat::Cobertura => "cobertura.xml",
            CoverageFormat::Json => "coverage.json",
            CoverageFormat::Html => "html",
        }
    }
}

/// What llvm-cov's HTML report holds; an `html/` with anything else in it is not ours.
const HTML_ENTRIES: &[&str] = &["index.html", "style.css", "control.js", "coverage"];

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
    /// llvm-cov's `-ignore-filename-regex`: sources that are not the workspace's.
    pub ignore_filenames: &'a str,
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
            .arg(format!("-ignore-filename-regex={}", self.ignore_filenames));
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
    // Whatever this run does not write must not look as if it had.
    remove_old_reports(input.out_dir)?;
    let profraw: Vec<PathBuf> = std::fs::read_dir(input.profile_dir)
        .map_err(|source| CoverageError::Io {
            path: input.profile_dir.to_owned(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        // A run's raw profiles; a merge's shard profiles, already indexed.
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "profraw" || e == "profdata")
                && p.file_name().is_some_and(|n| n != "merged.profdata")
        })
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
    for &format in input.formats {
        let path = input.out_dir.join(format.file_name());
        let text = match format {
            CoverageFormat::Lcov => lcov()?,
            CoverageFormat::Cobertura => {
                let files = parse_lcov(&lcov()?).map_err(CoverageError::Parse)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                cobertura_xml(&files, input.workspace_root, |f| input.crate_of(f), now)
            }
            CoverageFormat::Json => {
                let mut p = input.llvm_cov("export", &profdata);
                p.arg("-format=text");
                run(&p)?
            }
            CoverageFormat::Html => {
                let mut p = input.llvm_cov("show", &profdata);
                p.args(["-format=html", "-show-line-counts-or-regions"])
                    .arg(format!("-output-dir={}", path.display()));
                run(&p)?;
                written.push(path.join("index.html"));
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
    let mut summary =
        parse_summary(&run(&p)?, |f| input.crate_of(f)).map_err(CoverageError::Parse)?;
    summary.relative_to(input.workspace_root);
    Ok((summary, written))
}

/// Removes the reports an earlier run left in `out_dir`, of every format, and nothing
/// else: `out_dir` may be the user's (`--coverage-output`), so an `html/` holding
/// anything llvm-cov does not write stays.
fn remove_old_reports(out_dir: &Path) -> Result<(), CoverageError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CoverageError::Io { path, source }
    };
    for format in &CoverageFormat::ALL {
        let path = out_dir.join(format.file_name());
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&path)(e)),
        };
        if !meta.is_dir() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        } else if *format == CoverageFormat::Html && only_llvm_cov_html(&path) {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Whether every entry of `dir` is one llvm-cov's HTML report writes.
fn only_llvm_cov_html(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .into_iter()
            .all(|e| e.is_ok_and(|e| HTML_ENTRIES.iter().any(|n| e.file_name() == *n)))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_reports_go_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        for f in [
            "lcov.info",
            "cobertura.xml",
            "coverage.json",
            "notes.txt",
            "lcov.info.bak",
        ] {
            std::fs::write(out.join(f), "old").unwrap();
        }
        std::fs::create_dir_all(out.join("html/coverage/gone")).unwrap();
        for f in [
            "html/index.html",
            "html/style.css",
            "html/coverage/gone/lib.rs.html",
        ] {
            std::fs::write(out.join(f), "old").unwrap();
        }
        std::fs::create_dir(out.join("mine")).unwrap();
        remove_old_reports(out).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["lcov.info.bak", "mine", "notes.txt"]);
        // A missing directory is nothing to remove.
        remove_old_reports(&out.join("not-there")).unwrap();
    }

    #[test]
    fn an_html_dir_with_files_llvm_cov_does_not_write_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let html = dir.path().join("html");
        std::fs::create_dir(&html).unwrap();
        for f in ["index.html", "about.html"] {
            std::fs::write(html.join(f), "the user's").unwrap();
        }
        remove_old_reports(dir.path()).unwrap();
        assert!(html.join("about.html").is_file());
        assert!(html.join("index.html").is_file());
    }
}
