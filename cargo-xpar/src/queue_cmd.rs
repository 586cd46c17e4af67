//! `cargo xpar queue report|status`: a shared run (`run --queue`) seen from outside its
//! machines.

use std::time::Duration;

use crate::cli::{OutputWhen, QueueConfig};
use crate::display::{Display, DisplayOptions};
use crate::errors::Error;
use crate::exit_codes;
use crate::report;
use xpar_runner::queue::{self, QueueStatus, RemoteQueue, Waited};

/// How long a report's reads may keep the queue's connection (it holds no lease).
const LEASE: Duration = Duration::from_secs(30);
const TTL: Duration = Duration::from_secs(24 * 3600);

pub(crate) fn queue(cfg: &QueueConfig) -> Result<i32, Error> {
    match cfg {
        QueueConfig::Status { url, run_id } => {
            let mut q = connect(url, run_id)?;
            let status = q.status()?;
            if status.total == 0 && status.machines.is_empty() {
                eprintln!(
                    "error: no run `{run_id}` in this queue: no machine joined it yet, or its keys expired"
                );
                return Ok(exit_codes::SETUP_ERROR);
            }
            print!("{}", status_text(&status));
            Ok(exit_codes::OK)
        }
        QueueConfig::Report {
            url,
            run_id,
            junit,
            json,
            html,
            timeout,
            quiet,
        } => report_run(
            url,
            run_id,
            [junit, json, html].map(Option::as_deref),
            *timeout,
            *quiet,
        ),
    }
}

/// `queue report`: waits for the run, then shows it and writes its reports.
fn report_run(
    url: &str,
    run_id: &str,
    [junit, json, html]: [Option<&std::path::Path>; 3],
    timeout: Option<Duration>,
    quiet: bool,
) -> Result<i32, Error> {
    let mut q = connect(url, run_id)?;
    let waited = queue::wait(&mut q, Duration::from_millis(500), timeout, &mut progress())?;
    let queue::Collected {
        mut record,
        missing,
        lanes,
        mut machine_of,
    } = queue::collect(&mut q)?;
    let (Waited::Complete(s) | Waited::Abandoned(s)) = &waited;
    record.cancelled.clone_from(&s.cancelled);
    // Tests without a result are in the reports, not run, with the reason.
    let why = match &s.cancelled {
        Some(reason) => reason.clone(),
        None => "no machine of the run was left to run it".to_owned(),
    };
    for test in &missing {
        record.outcomes.push(queue::not_run(test, &why));
        machine_of.push(String::new());
    }
    // Every machine's workers are lanes of their own; the run's wall time is from the
    // first machine's start to the last result's end.
    record.wall = record
        .outcomes
        .iter()
        .filter_map(|o| Some(o.started? + o.duration))
        .max()
        .unwrap_or_default();
    let mut display = Display::new(DisplayOptions {
        quiet,
        verbose: false,
        color: crate::cargo::ColorChoice::Auto,
        success_output: OutputWhen::Never,
        failure_output: OutputWhen::Final,
        show_failures: true,
        expected: None,
    });
    display.finish(&record);
    if let Some(p) = junit {
        report::write_junit(&record, p)?;
    }
    if json.is_some() || html.is_some() {
        let mut r = report::run_report(&record, "load", &report::ReportMeta::default());
        for (t, machine) in r.tests.iter_mut().zip(&machine_of) {
            t.machine = Some(machine.clone()).filter(|m| !m.is_empty());
        }
        r.machines = (lanes.machines.iter())
            .map(
                |(name, first_worker, workers, _)| xpar_metadata::ReportMachine {
                    name: name.clone(),
                    first_worker: *first_worker,
                    workers: *workers,
                },
            )
            .collect();
        if let Some(p) = json {
            report::write_report(&r, p)?;
        }
        if let Some(p) = html {
            // Coverage is not merged across a queue's machines: no coverage table.
            report::write_html(&r, None, p)?;
        }
    }
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().take(5).map(|t| t.to_string()).collect();
        eprintln!(
            "error: {} test{} of run `{run_id}` did not run ({why}): {}{}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            names.join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        );
        return Ok(exit_codes::TEST_RUN_FAILED);
    }
    Ok(record.exit_code())
}

/// A line each time the count of tests done or of machines alive changes.
fn progress() -> impl FnMut(&QueueStatus) {
    let mut said = (u64::MAX, usize::MAX);
    move |s| {
        let alive = s.machines.iter().filter(|m| m.alive).count();
        if s.total == 0 && s.machines.is_empty() {
            if said != (0, 0) {
                eprintln!("{:>12} for the run's first machine", "Waiting");
            }
            said = (0, 0);
            return;
        }
        if (s.done, alive) != said {
            said = (s.done, alive);
            eprintln!(
                "{:>12} {}/{} tests done, {alive} machine{} alive",
                "Waiting",
                s.done,
                s.total,
                if alive == 1 { "" } else { "s" }
            );
        }
    }
}

fn connect(url: &str, run_id: &str) -> Result<RemoteQueue, Error> {
    let name = format!("report-{}", std::process::id());
    Ok(RemoteQueue::connect(url, run_id, &name, LEASE, TTL)?)
}

/// `queue status` as text.
fn status_text(s: &QueueStatus) -> String {
    let mut out = format!(
        "tests: {}/{} done, {} chunks queued, {} failures, {} leases expired\n",
        s.done, s.total, s.queued, s.failures, s.expired
    );
    if let Some(why) = &s.cancelled {
        out += &format!("cancelled: {why}\n");
    }
    out += &format!("machines ({}):\n", s.machines.len());
    for m in &s.machines {
        let state = if m.alive { "alive" } else { "gone" };
        out += &format!("  {:<32} {state} ({:+.1}s)\n", m.name, m.seconds_left);
    }
    out += &format!("leases ({}):\n", s.leases.len());
    for l in &s.leases {
        out += &format!(
            "  chunk {:<6} {} {} ({:+.1}s)\n",
            l.chunk, l.machine, l.worker, l.seconds_left
        );
    }
    out
}
