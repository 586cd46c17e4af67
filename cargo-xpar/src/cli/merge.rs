//! `cargo xpar merge`'s arguments, validated.

use std::path::PathBuf;

use xpar_runner::errors::UsageError;
use xpar_runner::merge::{MergeCoverage, MergeOptions};

use super::archive::archive_source;
use super::args::{FromArchiveArgs, MergeArgs};
use super::config::{coverage_config, parse_jobs, MergeConfig};
use super::writable;

impl MergeConfig {
    pub(crate) fn from_args(args: MergeArgs) -> Result<Self, UsageError> {
        let file =
            |what: &'static str, p: Option<PathBuf>| -> Result<Option<PathBuf>, UsageError> {
                if let Some(p) = &p {
                    writable::check_report_file(what, p)?;
                }
                Ok(p)
            };
        let wants_coverage = !args.coverage_format.is_empty()
            || args.coverage_output.is_some()
            || args.fail_under_lines.is_some();
        let coverage = coverage_config(
            wants_coverage,
            args.coverage_format,
            args.coverage_output,
            args.fail_under_lines,
        )?;
        let from_archive = FromArchiveArgs {
            archive_file: args.archive_file,
            workspace_remap: args.workspace_remap,
            extract_to: None,
        };
        let archive = archive_source(from_archive, &args.cargo)?;
        if archive.is_some() && !wants_coverage {
            // The reports come from the results alone; only coverage needs the binaries.
            return Err(UsageError::OnlyWith {
                flag: "merge --archive-file",
                needs: "--coverage-format, --coverage-output or --fail-under-lines",
            });
        }
        let cargo = args.cargo.into_options();
        Ok(MergeConfig {
            merge: MergeOptions {
                dirs: args.dirs,
                junit: file("--junit report", args.junit)?,
                json: file("--json report", args.json)?,
                html: file("--html report", args.html)?,
                durations: file("--durations history", args.durations)?,
                coverage: match coverage {
                    Some(config) => Some(MergeCoverage {
                        config,
                        cargo: cargo.clone(),
                        jobs: parse_jobs("auto")?,
                        archive,
                    }),
                    None => None,
                },
            },
            cargo,
        })
    }
}
