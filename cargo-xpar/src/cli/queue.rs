//! `--queue URL --run-id ID [--lease-timeout DUR]`, validated.

use std::time::Duration;

use xpar_runner::errors::UsageError;
use xpar_runner::plan::DistMode;
use xpar_runner::queue::QueueOptions;

use std::path::PathBuf;

use super::args::{QueueArgs, QueueCommand};
use super::config::parse_limit;

/// How long a run's keys outlive its last write: a day, long enough for a report step
/// to read them, short enough that Redis does not fill up with old runs.
const QUEUE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The shared queue the run takes its work from, if `--queue` is given. A partition or
/// a distribution mode other than `load` would mean two ways to share the work:
/// refused.
pub(crate) fn queue_options(
    args: QueueArgs,
    partition: bool,
    dist: DistMode,
) -> Result<Option<QueueOptions>, UsageError> {
    let (Some(url), Some(run_id)) = (args.queue, args.run_id) else {
        return Ok(None);
    };
    if partition {
        return Err(UsageError::Conflict {
            a: "--queue",
            b: "--partition",
        });
    }
    if dist != DistMode::Load {
        return Err(UsageError::OnlyWith {
            flag: "--queue",
            needs: "--dist load (the queue hands chunks out longest first, as load does)",
        });
    }
    let lease = parse_limit("--lease-timeout", Some(&args.lease_timeout))?.unwrap_or_default();
    Ok(Some(QueueOptions {
        url,
        run_id,
        lease,
        ttl: QUEUE_TTL,
        machine: QueueOptions::default_machine(),
    }))
}

/// `cargo xpar queue report|status`, validated.
#[derive(Debug, Clone)]
pub enum QueueConfig {
    Report {
        url: String,
        run_id: String,
        junit: Option<PathBuf>,
        json: Option<PathBuf>,
        html: Option<PathBuf>,
        timeout: Option<Duration>,
        quiet: bool,
    },
    Status {
        url: String,
        run_id: String,
    },
}

pub(crate) fn queue_config(cmd: QueueCommand) -> Result<QueueConfig, UsageError> {
    Ok(match cmd {
        QueueCommand::Report(a) => {
            for p in [&a.junit, &a.json, &a.html].into_iter().flatten() {
                super::writable::check_report_file("queue report", p)?;
            }
            QueueConfig::Report {
                url: a.target.queue,
                run_id: a.target.run_id,
                junit: a.junit,
                json: a.json,
                html: a.html,
                timeout: parse_limit("--timeout", a.timeout.as_deref())?,
                quiet: a.quiet,
            }
        }
        QueueCommand::Status(t) => QueueConfig::Status {
            url: t.queue,
            run_id: t.run_id,
        },
    })
}
