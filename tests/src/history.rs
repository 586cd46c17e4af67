//! Reads the run history a run left (`<target-dir>/xpar/history.db`) for the tests that
//! check what the planner will read: each binary's estimated test durations and process
//! costs, as the schema in docs/history-format.md stores them.

use std::collections::BTreeMap;
use std::path::Path;

/// A binary's estimates: its tests' expected seconds, its process cost (mean test
/// seconds, overhead seconds) when one was learned, and what was measured of the cores
/// its tests used (test name to `{cores, with_slots, one_slot}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Estimates {
    pub durations: BTreeMap<String, f64>,
    pub process: Option<(f64, f64)>,
    pub cores: BTreeMap<String, serde_json::Value>,
}

/// The estimates of the uninstrumented runs of the workspace at `dir`, by binary id;
/// empty when the history has none.
pub fn history_estimates(dir: &Path) -> BTreeMap<String, Estimates> {
    let path = dir.join("target/xpar/history.db");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut stmt = conn
        .prepare(
            "SELECT binary_id, durations, mean_test_secs, overhead_secs, cores FROM estimates
             WHERE instrumented = 0",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let text: String = r.get(1)?;
            let process = match (r.get(2)?, r.get(3)?) {
                (Some(m), Some(o)) => Some((m, o)),
                _ => None,
            };
            let cores: Option<String> = r.get(4)?;
            Ok((r.get::<_, String>(0)?, text, process, cores))
        })
        .unwrap();
    rows.map(|row| {
        let (binary, text, process, cores) = row.unwrap();
        let durations = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("estimates of {binary} are not a JSON object: {e}"));
        let cores = cores.map_or_else(BTreeMap::new, |text| {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("cores of {binary} are not a JSON object: {e}"))
        });
        let estimates = Estimates {
            durations,
            process,
            cores,
        };
        (binary, estimates)
    })
    .collect()
}
