//! `cargo xpar merge DIR...`: the shards' results as one run. It says which shards it
//! merged, then shows the failures and the summary as one run would, writes the merged
//! reports and exits as that run would have.

use crate::cli::{MergeConfig, OutputWhen};
use crate::display::{Display, DisplayOptions};
use crate::errors::Error;
use crate::exit_codes;

pub(crate) fn merge(cfg: &MergeConfig) -> Result<i32, Error> {
    let end = xpar_runner::merge::merge(&cfg.merge)?;
    let report = &end.merged.report;
    let build = report.build_id.as_deref().unwrap_or_default();
    eprintln!(
        "{:>12} {} shard{} of build {}",
        "Merging",
        report.shards.len(),
        if report.shards.len() == 1 { "" } else { "s" },
        &build[..build.len().min(12)]
    );
    for s in &report.shards {
        eprintln!(
            "{:>12} shard {}: {} worker{}, {:.3}s{}",
            "",
            s.index,
            s.workers,
            if s.workers == 1 { "" } else { "s" },
            s.wall_secs,
            s.run_id
                .as_deref()
                .map(|id| format!(", run {id}"))
                .unwrap_or_default()
        );
    }
    let mut display = Display::new(DisplayOptions {
        quiet: cfg.cargo.quiet,
        verbose: cfg.cargo.verbose > 0,
        color: cfg.cargo.color,
        success_output: OutputWhen::Never,
        failure_output: OutputWhen::Final,
        show_failures: true,
        expected: None,
    });
    display.finish(&end.merged.record);
    for path in [
        &cfg.merge.junit,
        &cfg.merge.json,
        &cfg.merge.html,
        &cfg.merge.durations,
    ]
    .into_iter()
    .flatten()
    {
        eprintln!("{:>12} {}", "Wrote", path.display());
    }
    if let Some(result) = &end.coverage {
        crate::run::show_coverage(result);
        if end.exit_code == exit_codes::COVERAGE_BELOW_THRESHOLD {
            let lines = result.summary.total.lines.percent();
            let min = cfg
                .merge
                .coverage
                .as_ref()
                .and_then(|c| c.config.fail_under_lines)
                .unwrap_or_default();
            eprintln!("error: line coverage {lines:.2}% is below --fail-under-lines {min}");
        }
    }
    Ok(end.exit_code)
}
