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
