//! A run's results as the history keeps them: a row of `run_results` per binary of the
//! run, its tests' results one zstd-compressed postcard list. A run of 20,000 tests
//! writes a few rows of about 100 KB instead of 20,000 rows, which cost it 55 ms (and
//! 1.4 MB); the queries of `cargo xpar history` decode the rows they read, which is
//! also faster than SQL over a row per result (see `benches/history_db.rs`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xpar_metadata::{ReportTest, ReportTestStatus};

/// The zstd level: the fastest, as a run waits for it (names compress tenfold at it).
const ZSTD_LEVEL: i32 = 1;

/// One result of a test in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct StoredResult<'a> {
    /// Its position in the run's report (`--dist each` reports a test once per worker).
    pub seq: u32,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// `passed`, `failed`, `ignored` or `not-run`.
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    /// Passed on a retry.
    pub flaky: bool,
    /// Its last attempt's.
    pub duration_secs: f64,
    pub attempts: u32,
    #[serde(borrow)]
    pub worker: Option<Cow<'a, str>>,
    pub start_secs: Option<f64>,
    pub cpu_secs: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    /// A failure's one-line reason (none for other statuses).
    #[serde(borrow)]
    pub message: Option<Cow<'a, str>>,
}

impl StoredResult<'_> {
    /// It ran to a verdict: passed or failed.
    pub fn ran(&self) -> bool {
        matches!(&*self.status, "passed" | "failed")
    }
}

/// What could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub(super) enum CodecError {
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
    #[error("postcard: {0}")]
    Postcard(#[from] postcard::Error),
    #[error("{0}")]
    Value(String),
}

/// The name a status has in the history (as in the JSON report).
pub(super) fn status_name(status: ReportTestStatus) -> &'static str {
    match status {
        ReportTestStatus::Passed => "passed",
        ReportTestStatus::Failed => "failed",
        ReportTestStatus::Ignored => "ignored",
        ReportTestStatus::NotRun => "not-run",
    }
}

/// The report's tests, by binary id, each binary's results encoded.
pub(super) fn encode_report(tests: &[ReportTest]) -> Result<Vec<(&str, Vec<u8>)>, CodecError> {
    let mut by_binary: BTreeMap<&str, Vec<StoredResult<'_>>> = BTreeMap::new();
    for (seq, t) in tests.iter().enumerate() {
        let seq = u32::try_from(seq).map_err(|_| CodecError::Value("too many tests".into()))?;
        by_binary
            .entry(t.binary_id.as_str())
            .or_default()
            .push(stored(seq, t));
    }
    by_binary
        .into_iter()
        .map(|(binary, results)| Ok((binary, encode(&results)?)))
        .collect()
}

fn stored(seq: u32, t: &ReportTest) -> StoredResult<'_> {
    StoredResult {
        seq,
        name: Cow::Borrowed(&t.name),
        status: Cow::Borrowed(status_name(t.status)),
        flaky: t.flaky,
        duration_secs: t.duration_secs,
        attempts: u32::try_from(t.previous.len() + 1).unwrap_or(u32::MAX),
        worker: t.worker.as_deref().map(Cow::Borrowed),
        start_secs: t.start_secs,
        cpu_secs: t.cpu_secs,
        peak_rss_bytes: t.peak_rss_bytes,
        // Only a failure's message is kept: a stopped run's not-run tests all have the
        // same one.
        message: (t.status == ReportTestStatus::Failed)
            .then_some(t.message.as_deref())
            .flatten()
            .map(Cow::Borrowed),
    }
}

/// One binary's results, as a row keeps them.
pub(super) fn encode(results: &[StoredResult<'_>]) -> Result<Vec<u8>, CodecError> {
    if let Some(r) = results.iter().find(|r| !r.duration_secs.is_finite()) {
        return Err(CodecError::Value(format!(
            "{}: the duration {} is not a finite number",
            r.name, r.duration_secs
        )));
    }
    let plain = postcard::to_stdvec(results)?;
    Ok(zstd::bulk::compress(&plain, ZSTD_LEVEL)?)
}

/// A row's compressed results, decompressed: [`decode`] borrows from it.
pub(super) fn decompress(blob: &[u8]) -> Result<Vec<u8>, CodecError> {
    Ok(zstd::decode_all(blob)?)
}

/// The results in a row's decompressed bytes.
pub(super) fn decode(plain: &[u8]) -> Result<Vec<StoredResult<'_>>, CodecError> {
    Ok(postcard::from_bytes(plain)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_as_they_went_in() {
        let results = vec![
            StoredResult {
                seq: 0,
                name: "a::b".into(),
                status: "failed".into(),
                flaky: false,
                duration_secs: 0.25,
                attempts: 2,
                worker: Some("gw1".into()),
                start_secs: Some(0.5),
                cpu_secs: Some(0.125),
                peak_rss_bytes: Some(1 << 30),
                message: Some("assertion failed: 1 == 2".into()),
            },
            StoredResult {
                seq: 7,
                name: "c d".into(),
                status: "not-run".into(),
                flaky: false,
                duration_secs: 0.0,
                attempts: 1,
                worker: None,
                start_secs: None,
                cpu_secs: None,
                peak_rss_bytes: None,
                message: None,
            },
        ];
        let blob = encode(&results).unwrap();
        let plain = decompress(&blob).unwrap();
        assert_eq!(decode(&plain).unwrap(), results);
        assert!(decompress(b"not zstd").is_err());
        let mut bad = results.clone();
        bad[1].duration_secs = f64::NAN;
        assert!(encode(&bad).is_err(), "a NaN duration is refused");
    }
}
