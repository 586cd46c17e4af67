//! The duration history as a JSON file: what `--durations FILE` reads and writes (CI
//! carries it between runs, where no run history survives), what a results directory
//! holds and what `cargo xpar merge --durations` writes. A file that cannot be read or
//! written should cost the caller a warning, never the run: it only makes schedules
//! better.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::History;
use crate::plan::{CoreUse, Durations, GivenSlots, ProcessCosts};
use crate::report::{RunRecord, TestStatus};

/// Raised on any incompatible change of the file; an unknown version is ignored, not
/// misread.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct HistoryFile {
    format_version: u32,
    /// Seconds per test, by binary id, then test name.
    durations: Durations,
    /// What a process of each binary costs, by binary id (absent in older files).
    #[serde(default)]
    processes: ProcessCosts,
}

/// The recorded history; empty when there is none yet. `Err` says why a history that
/// exists cannot be read: the caller warns and goes on with an empty one, which the run
/// then replaces.
pub fn load(path: &Path) -> Result<History, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
        Err(e) => return Err(e.to_string()),
    };
    match serde_json::from_str::<HistoryFile>(&text) {
        Ok(f) if f.format_version == FORMAT_VERSION => Ok(History {
            cores: CoreUse::default(),
            durations: f.durations,
            processes: f.processes,
        }),
        Ok(f) => Err(format!(
            "format version {} is not {FORMAT_VERSION}",
            f.format_version
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `history` with the durations `record` measured folded in, the process costs the run
/// learned, and the cores its tests used (`held`: the tests that held slots for theirs).
pub fn updated(
    mut history: History,
    record: &RunRecord,
    processes: ProcessCosts,
    held: &GivenSlots,
) -> History {
    history
        .durations
        .merge_run(record.outcomes.iter().filter_map(|o| {
            let ran = matches!(o.status, TestStatus::Passed | TestStatus::Failed(_));
            (ran && o.worker.is_some()).then(|| {
                (
                    o.binary_id.as_str(),
                    o.name.as_str(),
                    o.duration.as_secs_f64(),
                )
            })
        }));
    history.processes = processes;
    // A doctest's process is rustdoc compiling the next doctests while one runs: its
    // CPU time is the compiler's, not the doctest's. A figure above the machine's cores
    // is a measurement that went wrong (results that arrived together).
    let most = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64) + 0.5;
    for o in &record.outcomes {
        let ran = matches!(o.status, TestStatus::Passed | TestStatus::Failed(_));
        let doctest = o
            .binary_id
            .as_str()
            .starts_with(xpar_metadata::DOCTEST_PREFIX);
        if let (true, Some(r)) = (ran && !doctest && o.worker.is_some(), o.resources) {
            let (cpu, wall) = (r.cpu.as_secs_f64(), o.duration.as_secs_f64());
            if cpu <= wall * most {
                let id = o.binary_id.as_str();
                let slots = held.contains(id, &o.name);
                history.cores.record(id, &o.name, cpu, wall, slots);
            }
        }
    }
    history
}

/// Writes `history` to `path` atomically (a temp file renamed over it), so a concurrent
/// run never reads half a file.
pub fn write(path: &Path, history: &History) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let file = HistoryFile {
        format_version: FORMAT_VERSION,
        durations: history.durations.clone(),
        processes: history.processes.clone(),
    };
    // serde_json writes in small pieces: buffer them, or each is a system call.
    let mut out = std::io::BufWriter::new(tmp);
    serde_json::to_writer(&mut out, &file)?;
    out.flush()?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::{Failure, TestOutcome};
    use std::time::Duration;

    fn outcome(name: &str, status: TestStatus, secs: f64) -> TestOutcome {
        TestOutcome {
            binary_id: crate::discover::binary_id("a", crate::discover::BinaryKind::Lib, "a"),
            name: name.into(),
            status,
            duration: Duration::from_secs_f64(secs),
            output: String::new(),
            worker: Some(0),
            started: None,
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        }
    }

    fn path(dir: &Path) -> std::path::PathBuf {
        dir.join("xpar").join("durations.json")
    }

    fn save(p: &Path, history: History, record: &RunRecord, costs: ProcessCosts) {
        write(p, &updated(history, record, costs, &GivenSlots::default())).unwrap();
    }

    #[test]
    fn runs_accumulate_and_only_tests_that_ran_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert!(load(&p).unwrap().durations.is_empty());
        let mut record = RunRecord {
            outcomes: vec![
                outcome("pass", TestStatus::Passed, 2.0),
                outcome("fail", TestStatus::Failed(Failure::Failed), 1.0),
                outcome("skip", TestStatus::Ignored, 0.0),
                outcome("unrun", TestStatus::NotRun("stopped".into()), 0.0),
            ],
            ..RunRecord::default()
        };
        let costs: ProcessCosts = [(
            "a".to_owned(),
            crate::plan::ProcessCost {
                mean_test: 0.001,
                overhead: 0.1,
            },
        )]
        .into();
        save(&p, load(&p).unwrap(), &record, costs.clone());
        let h = load(&p).unwrap();
        assert_eq!(h.durations.get("a", "pass"), Some(2.0));
        assert_eq!(h.durations.get("a", "fail"), Some(1.0));
        assert_eq!(h.durations.len(), 2);
        assert_eq!(h.processes, costs);
        record.outcomes = vec![outcome("pass", TestStatus::Passed, 4.0)];
        save(&p, h, &record, costs);
        let h = load(&p).unwrap();
        assert_eq!(h.durations.get("a", "pass"), Some(3.0));
        assert_eq!(h.durations.get("a", "fail"), Some(1.0));
    }

    /// A history written before process costs were kept still gives its durations.
    #[test]
    fn a_history_without_process_costs_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"format_version": 1, "durations": {"a": {"t": 1.5}}}"#,
        )
        .unwrap();
        let h = load(&p).unwrap();
        assert_eq!(h.durations.get("a", "t"), Some(1.5));
        assert!(h.processes.is_empty());
    }

    #[test]
    fn a_corrupt_or_foreign_history_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "{ not json").unwrap();
        assert!(load(&p).is_err());
        std::fs::write(
            &p,
            r#"{"format_version": 9, "durations": {"a": {"t": 1.0}}}"#,
        )
        .unwrap();
        let why = load(&p).unwrap_err();
        assert!(why.contains("format version 9 is not 1"), "{why}");
    }
}
