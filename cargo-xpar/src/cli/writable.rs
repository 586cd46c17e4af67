//! The report paths of a run (`--junit`, `--json`, `--html`, `--coverage-output`), checked before
//! anything is built: a path the reports cannot be written to is a usage error then, not
//! a failure after the whole run. Missing parent directories are created, as the
//! writers would create them; nothing is written to the report paths themselves, so a run
//! that stops early leaves no empty report behind.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

use crate::errors::UsageError;

/// Checks that a report file can be written at `path`: its parent directories exist (they
/// are created if missing), and `path` is a writable file or can be created.
/// `what` names the report in the error (`--junit report`).
pub fn check_report_file(what: &'static str, path: &Path) -> Result<(), UsageError> {
    let fail = |reason: String| UsageError::ReportPath {
        what,
        path: path.to_owned(),
        reason,
    };
    if path.is_dir() {
        return Err(fail("it is a directory".to_owned()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    make_dir(parent).map_err(&fail)?;
    if path.exists() {
        // Opened without truncating: the old report stays until the new one replaces it.
        OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| fail(e.to_string()))?;
    } else {
        probe_dir(parent).map_err(|e| fail(e.to_string()))?;
    }
    Ok(())
}

/// Checks that reports can be written into the directory `dir`, creating it if missing.
pub fn check_report_dir(what: &'static str, dir: &Path) -> Result<(), UsageError> {
    let fail = |reason: String| UsageError::ReportPath {
        what,
        path: dir.to_owned(),
        reason,
    };
    make_dir(dir).map_err(&fail)?;
    probe_dir(dir).map_err(|e| fail(e.to_string()))
}

/// Creates `dir` and its missing parents; the error names a part of the path that exists
/// but is not a directory, which `create_dir_all` reports only as "File exists".
fn make_dir(dir: &Path) -> Result<(), String> {
    if let Some(file) = dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
        return Err(format!("{} is not a directory", file.display()));
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())
}

/// Creates and removes a file in `dir`: whether a report can be created there. (Not a
/// `tempfile`, whose error names the probe's own path rather than saying what is wrong.)
fn probe_dir(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".xpar-write-check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parents_are_created_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/junit.xml");
        check_report_file("--junit report", &path).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert!(!path.exists(), "no empty report is left");
        assert_eq!(
            std::fs::read_dir(tmp.path().join("a/b")).unwrap().count(),
            0
        );

        std::fs::write(&path, "old").unwrap();
        check_report_file("--junit report", &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");

        let out = tmp.path().join("cov/out");
        check_report_dir("--coverage-output reports", &out).unwrap();
        assert!(out.is_dir());
    }

    #[test]
    fn unwritable_paths_are_refused_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        let table: &[(&Path, &str)] = &[
            (tmp.path(), "it is a directory"),
            (&file.join("junit.xml"), "is not a directory"),
            (&file.join("x/junit.xml"), "is not a directory"),
        ];
        for (path, want) in table {
            let err = check_report_file("--junit report", path)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("cannot write --junit report to "), "{err}");
            assert!(err.contains(want), "{path:?}: {err}");
        }
        let err = check_report_dir("--coverage-output reports", &file)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
