//! The archive flags validated: `archive`'s own, and `--archive-file` on `run` and
//! `list`, which builds nothing and so takes none of the flags that tell cargo what to
//! build.

use std::path::PathBuf;

use super::args::{ArchiveArgs, CargoOptions, FromArchiveArgs};
use super::writable;
use crate::errors::UsageError;
use xpar_runner::archive::ArchiveSource;

/// What `archive` will do, validated.
#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    pub cargo: xpar_runner::cargo::CargoOptions,
    pub file: PathBuf,
    pub coverage: bool,
}

impl ArchiveConfig {
    pub(crate) fn from_args(args: ArchiveArgs) -> Result<Self, UsageError> {
        writable::check_report_file("--archive-file", &args.archive_file)?;
        if args.cargo.doc {
            // Rustdoc builds doctests from the sources when they run.
            return Err(UsageError::Conflict {
                a: "archive",
                b: "--doc",
            });
        }
        Ok(ArchiveConfig {
            cargo: args.cargo.into_options(),
            file: args.archive_file,
            coverage: args.coverage,
        })
    }
}

/// The archive to take the tests from, if any; a cargo build flag beside it is a usage
/// error (it would be silently ignored).
pub(crate) fn archive_source(
    args: FromArchiveArgs,
    cargo: &CargoOptions,
) -> Result<Option<ArchiveSource>, UsageError> {
    let Some(file) = args.archive_file else {
        return Ok(None);
    };
    if let Some(flag) = build_flag(cargo) {
        return Err(UsageError::Conflict {
            a: "--archive-file",
            b: flag,
        });
    }
    Ok(Some(ArchiveSource {
        file,
        workspace_remap: args.workspace_remap,
        extract_to: args.extract_to,
    }))
}

/// The first flag given that tells cargo what or how to build.
fn build_flag(c: &CargoOptions) -> Option<&'static str> {
    [
        (!c.packages.is_empty(), "--package"),
        (c.workspace, "--workspace"),
        (!c.exclude.is_empty(), "--exclude"),
        (c.lib, "--lib"),
        (c.bins, "--bins"),
        (!c.bin.is_empty(), "--bin"),
        (c.tests, "--tests"),
        (!c.test.is_empty(), "--test"),
        (c.examples, "--examples"),
        (!c.example.is_empty(), "--example"),
        (c.all_targets, "--all-targets"),
        (c.doc, "--doc"),
        (!c.features.is_empty(), "--features"),
        (c.all_features, "--all-features"),
        (c.no_default_features, "--no-default-features"),
        (c.release, "--release"),
        (c.profile.is_some(), "--profile"),
        (c.target_dir.is_some(), "--target-dir"),
        (c.manifest_path.is_some(), "--manifest-path"),
        (c.locked, "--locked"),
        (c.offline, "--offline"),
        (c.frozen, "--frozen"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
}

#[cfg(test)]
mod tests {
    use crate::cli::parse_for_test as parse;
    use std::path::Path;

    use crate::cli::Invocation;

    #[test]
    fn run_and_list_take_an_archive() {
        let source = match parse(&[
            "run",
            "--archive-file",
            "a.tar.zst",
            "--workspace-remap",
            "checkout",
            "--extract-to",
            "x",
            "-j",
            "3",
            "name",
        ]) {
            Ok(Invocation::Run(cfg)) => cfg.run.archive.expect("an archive"),
            other => panic!("{other:?}"),
        };
        assert_eq!(source.file, Path::new("a.tar.zst"));
        assert_eq!(
            source.workspace_remap.as_deref(),
            Some(Path::new("checkout"))
        );
        assert_eq!(source.extract_to.as_deref(), Some(Path::new("x")));
        match parse(&["--archive-file", "a.tar.zst"]) {
            Ok(Invocation::Run(cfg)) => assert!(cfg.run.archive.is_some()),
            other => panic!("{other:?}"),
        }
        match parse(&["list", "--archive-file", "a.tar.zst"]) {
            Ok(Invocation::List(cfg)) => assert!(cfg.archive.is_some()),
            other => panic!("{other:?}"),
        }
        match parse(&["run"]) {
            Ok(Invocation::Run(cfg)) => assert!(cfg.run.archive.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn archive_takes_the_cargo_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out/a.tar.zst");
        let file = file.to_str().unwrap();
        match parse(&[
            "archive",
            "--archive-file",
            file,
            "-p",
            "alpha",
            "--release",
            "--coverage",
        ]) {
            Ok(Invocation::Archive(cfg)) => {
                assert_eq!(cfg.cargo.packages, ["alpha"]);
                assert!(cfg.cargo.release && cfg.coverage);
                assert_eq!(cfg.file, Path::new(file));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().to_str().unwrap();
        let table: &[(&[&str], &str)] = &[
            (
                &["--archive-file", "a", "--release"],
                "`--archive-file` cannot be used with `--release`",
            ),
            (
                &["run", "--archive-file", "a", "-p", "x"],
                "`--archive-file` cannot be used with `--package`",
            ),
            (
                &["list", "--archive-file", "a", "--features", "f"],
                "`--archive-file` cannot be used with `--features`",
            ),
            (
                &["--archive-file", "a", "--manifest-path", "Cargo.toml"],
                "with `--manifest-path`",
            ),
            (&["--workspace-remap", "d"], "MissingRequiredArgument"),
            (&["--extract-to", "d"], "MissingRequiredArgument"),
            (&["archive"], "MissingRequiredArgument"),
            (&["archive", "--archive-file", dir], "it is a directory"),
        ];
        for (args, want) in table {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
}
