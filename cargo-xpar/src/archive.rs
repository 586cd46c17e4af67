//! `cargo xpar archive`: build and list the tests, then pack them into an archive for
//! `run --archive-file` on machines that build nothing; cargo's progress and ours on
//! stderr, and one line at the end saying what went where.

use std::time::Instant;

use crate::cli::{self, ArchiveConfig};
use crate::errors::Error;
use crate::exit_codes;
use xpar_runner::archive::{self, ArchiveBuild};
use xpar_runner::session;

pub(crate) fn archive(cfg: &ArchiveConfig) -> Result<i32, Error> {
    let start = Instant::now();
    let jobs = cli::parse_jobs("auto")?;
    // Rustdoc compiles doctests from the sources when they run: an archive cannot hold
    // them (`--doc` is refused with the other flags archives cannot take).
    if xpar_runner::doctest::discover::wanted(&cfg.cargo) && !cfg.cargo.quiet {
        eprintln!(
            "{:>12} doctests are not archived (rustdoc builds them from the sources): run them where the sources are, with `cargo xpar --doc`",
            "Note"
        );
    }
    let found = session::discover(&cfg.cargo, jobs, cfg.coverage, false)?;
    if !cfg.cargo.quiet {
        eprintln!(
            "{:>12} {} binaries to {}",
            "Archiving",
            found.list.binaries.len(),
            cfg.file.display()
        );
    }
    let build = ArchiveBuild {
        workspace_root: found.workspace_root.clone(),
        target_dir: found.target_dir.clone(),
        coverage: cfg.coverage,
    };
    let summary = archive::create(&found.list, &build, &cfg.file)?;
    eprintln!(
        "{:>12} {} binaries, {} files to {} ({}) in {:.2}s",
        "Archived",
        summary.binaries,
        summary.files,
        cfg.file.display(),
        human_size(summary.bytes),
        start.elapsed().as_secs_f64()
    );
    Ok(exit_codes::OK)
}

/// `1.2 MiB`, `340 KiB`, `12 B`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 + 512 * 1024), "5.5 MiB");
    }
}
