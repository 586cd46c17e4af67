//! Recorded runs: every run writes its events as JSON lines to
//! `<target-dir>/xpar/runs/<run-id>/events.jsonl`, after one header line, so that the run
//! can be shown and reported again from the record alone (`cargo xpar replay`). The
//! oldest records are removed past [`KEEP_RUNS`] runs or [`KEEP_BYTES`] bytes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::events::RunEvent;
pub use crate::errors::RunLogError;
pub use xpar_metadata::{RunHeader, RUN_LOG_FORMAT_VERSION};

/// The most recorded runs kept.
pub const KEEP_RUNS: usize = 20;
/// The most bytes of recorded runs kept (the newest run is kept whatever its size).
pub const KEEP_BYTES: u64 = 256 * 1024 * 1024;

const EVENTS_FILE: &str = "events.jsonl";

/// A header for a run starting now, with a new run id: the time, then the process
/// id, so ids sort by time; then, for a later run of the same process in the same
/// second (a long-lived process, as `cargo xpar mcp`, runs many), a sequence number.
pub fn new_header(dist: &str, flaky_is_failure: bool) -> RunHeader {
    let now = std::time::SystemTime::now();
    let started = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = started
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let seq = same_second_seq(&compact);
    RunHeader {
        format_version: RUN_LOG_FORMAT_VERSION,
        run_id: run_id(&compact, std::process::id(), seq),
        started,
        dist: dist.to_owned(),
        flaky_is_failure,
    }
}

/// How many runs of this process started in the second `compact` before this one.
fn same_second_seq(compact: &str) -> u32 {
    static LAST: std::sync::Mutex<(String, u32)> = std::sync::Mutex::new((String::new(), 0));
    // The pair is replaced whole: a panic elsewhere cannot leave it half written.
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if last.0 == compact {
        last.1 += 1;
    } else {
        *last = (compact.to_owned(), 0);
    }
    last.1
}

/// A run's id: the first run of a second keeps the `<time>-<pid>` form; later ones add
/// their sequence number, zero-padded so that ids still sort in the order they started.
fn run_id(compact: &str, pid: u32, seq: u32) -> String {
    match seq {
        0 => format!("{compact}-{pid}"),
        n => format!("{compact}-{pid}-{n:03}"),
    }
}

/// Where the records of the workspace whose target dir is `target_dir` are.
pub fn runs_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("xpar").join("runs")
}

/// A run being recorded. Writing is best effort: the first error is kept, the rest of
/// the record dropped, and [`RunLog::finish`] reports it; the run goes on.
pub struct RunLog {
    out: Option<BufWriter<File>>,
    error: Option<std::io::Error>,
    dir: PathBuf,
}

impl RunLog {
    /// Starts the record of a run in `runs_dir`, first removing the oldest records past
    /// the retention bounds.
    pub fn create(runs_dir: &Path, header: &RunHeader) -> std::io::Result<RunLog> {
        std::fs::create_dir_all(runs_dir)?;
        prune(runs_dir, KEEP_RUNS.saturating_sub(1), KEEP_BYTES)?;
        let dir = runs_dir.join(&header.run_id);
        std::fs::create_dir(&dir)?;
        let mut out = BufWriter::new(File::create(dir.join(EVENTS_FILE))?);
        serde_json::to_writer(&mut out, header)?;
        out.write_all(b"\n")?;
        Ok(RunLog {
            out: Some(out),
            error: None,
            dir,
        })
    }

    pub fn record(&mut self, event: &RunEvent) {
        let Some(out) = &mut self.out else {
            return;
        };
        let written = serde_json::to_writer(&mut *out, event)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
            // The end of the run is on disk as soon as it happened.
            .and_then(|()| match event {
                RunEvent::RunFinished { .. } => out.flush(),
                _ => Ok(()),
            });
        if let Err(e) = written {
            self.error = Some(e);
            self.out = None;
        }
    }

    /// The id of the run being recorded (its directory's name).
    pub fn run_id(&self) -> &str {
        self.dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    /// Flushes the record; the directory it is in, or the first error.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        Ok(self.dir)
    }
}

/// The recorded run `which` (a run id, or `latest`) in `runs_dir`.
pub fn find(runs_dir: &Path, which: &str) -> Result<PathBuf, RunLogError> {
    if which == "latest" {
        let runs = recorded(runs_dir).map_err(|source| RunLogError::Io {
            path: runs_dir.to_owned(),
            source,
        })?;
        return runs
            .into_iter()
            .last()
            .ok_or_else(|| RunLogError::NoRuns(runs_dir.to_owned()));
    }
    let dir = runs_dir.join(which);
    // A run id is one path component: nothing else is looked up.
    let one_component = Path::new(which).components().count() == 1 && !which.starts_with('.');
    if one_component && dir.join(EVENTS_FILE).is_file() {
        Ok(dir)
    } else {
        Err(RunLogError::NoSuchRun {
            id: which.to_owned(),
            dir: runs_dir.to_owned(),
        })
    }
}

/// The header and events of the record in `dir`.
pub fn read(dir: &Path) -> Result<(RunHeader, Vec<RunEvent>), RunLogError> {
    let path = dir.join(EVENTS_FILE);
    let io = |source| RunLogError::Io {
        path: path.clone(),
        source,
    };
    let malformed = |line: usize, why: String| RunLogError::Malformed {
        path: path.clone(),
        line,
        why,
    };
    let mut lines = BufReader::new(File::open(&path).map_err(io)?).lines();
    let first = lines
        .next()
        .ok_or_else(|| malformed(1, "it is empty".into()))?
        .map_err(io)?;
    let version: serde_json::Value =
        serde_json::from_str(&first).map_err(|e| malformed(1, e.to_string()))?;
    let found = version.get("format-version").and_then(|v| v.as_u64());
    if found != Some(u64::from(RUN_LOG_FORMAT_VERSION)) {
        return Err(RunLogError::Version {
            path: path.clone(),
            found: found.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)),
            expected: RUN_LOG_FORMAT_VERSION,
        });
    }
    let header: RunHeader =
        serde_json::from_value(version).map_err(|e| malformed(1, e.to_string()))?;
    let mut events = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.map_err(io)?;
        if line.is_empty() {
            continue;
        }
        events.push(serde_json::from_str(&line).map_err(|e| malformed(i + 2, e.to_string()))?);
    }
    Ok((header, events))
}

/// The recorded runs in `runs_dir`, oldest first (run ids sort by time).
fn recorded(runs_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(EVENTS_FILE).is_file())
        .collect();
    runs.sort();
    Ok(runs)
}

/// Removes the oldest records until at most `keep` are left and they hold at most
/// `max_bytes`.
fn prune(runs_dir: &Path, keep: usize, max_bytes: u64) -> std::io::Result<()> {
    let runs = recorded(runs_dir)?;
    let size = |dir: &Path| std::fs::metadata(dir.join(EVENTS_FILE)).map_or(0, |m| m.len());
    let mut total: u64 = runs.iter().map(|r| size(r)).sum();
    let mut left = runs.len();
    for dir in &runs {
        if left <= keep && total <= max_bytes {
            break;
        }
        total = total.saturating_sub(size(dir));
        left -= 1;
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use crate::report::{Failure, TestOutcome, TestStatus};

    fn header(id: &str) -> RunHeader {
        RunHeader {
            run_id: id.to_owned(),
            ..new_header("load", false)
        }
    }

    #[test]
    fn runs_of_one_process_in_one_second_have_ids_of_their_own_in_order() {
        let ids: Vec<String> = (0..12)
            .map(|seq| run_id("20261130T120000Z", 7, seq))
            .collect();
        assert_eq!(ids[0], "20261130T120000Z-7");
        assert_eq!(ids[1], "20261130T120000Z-7-001");
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
        // Two headers made at once (the same second, most of the time) differ.
        let (a, b) = (new_header("load", false), new_header("load", false));
        assert_ne!(a.run_id, b.run_id);
        assert!(a.run_id < b.run_id, "{} then {}", a.run_id, b.run_id);
    }

    #[test]
    fn two_runs_of_one_second_are_both_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_dir(dir.path());
        let (a, b) = (new_header("load", false), new_header("load", false));
        let first = RunLog::create(&runs, &a).unwrap().finish().unwrap();
        let second = RunLog::create(&runs, &b).unwrap().finish().unwrap();
        assert_ne!(first, second);
        assert_eq!(find(&runs, "latest").unwrap(), second);
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_dir(dir.path());
        let h = header("20261130T120000Z-1");
        let mut log = RunLog::create(&runs, &h).unwrap();
        let outcome = TestOutcome {
            binary_id: crate::discover::binary_id("a", crate::discover::BinaryKind::Lib, "a"),
            name: "t".into(),
            status: TestStatus::Failed(Failure::Signal {
                signal: 6,
                name: crate::process::os::signal_name(6).into(),
            }),
            duration: Duration::from_millis(1500),
            output: "out\u{fffe}\n".into(),
            worker: Some(1),
            started: Some(Duration::from_millis(2)),
            previous: vec![],
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        };
        let events = vec![
            RunEvent::TestFinished(outcome),
            RunEvent::Stopping { signal: 2 },
            RunEvent::RunFinished {
                wall: Duration::from_secs(2),
                cancelled: Some("stopped".into()),
            },
        ];
        for e in &events {
            log.record(e);
        }
        let written = log.finish().unwrap();
        assert_eq!(find(&runs, "latest").unwrap(), written);
        assert_eq!(find(&runs, &h.run_id).unwrap(), written);
        let (read_header, read_events) = read(&written).unwrap();
        assert_eq!(read_header, h);
        assert_eq!(format!("{read_events:?}"), format!("{events:?}"));
    }

    #[test]
    fn unknown_runs_and_versions_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_dir(dir.path());
        assert!(matches!(find(&runs, "latest"), Err(RunLogError::NoRuns(_))));
        assert!(matches!(
            find(&runs, "../x"),
            Err(RunLogError::NoSuchRun { .. })
        ));
        let old = runs.join("1");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join(EVENTS_FILE), "{\"format-version\": 7}\n").unwrap();
        let err = read(&find(&runs, "1").unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("format version 7 is not 1"),
            "{err}"
        );
    }

    #[test]
    fn the_oldest_records_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_dir(dir.path());
        for i in 0..(KEEP_RUNS + 3) {
            let log = RunLog::create(&runs, &header(&format!("r{i:03}"))).unwrap();
            log.finish().unwrap();
        }
        let left = recorded(&runs).unwrap();
        assert_eq!(left.len(), KEEP_RUNS);
        assert!(left[0].ends_with("r003"), "{left:?}");
        // A size bound removes as many records as it takes.
        prune(&runs, KEEP_RUNS, 1).unwrap();
        assert!(recorded(&runs).unwrap().is_empty());
    }
}
