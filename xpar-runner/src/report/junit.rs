//! The JUnit XML report (quick-junit): a `testsuite` per binary id, a `testcase` per test
//! with `classname` = binary id, failures with their message and captured output, ignored
//! and unrun tests as `skipped`.

use std::collections::BTreeMap;
use std::path::Path;

use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};

use super::events::{worker_name, TestStatus};
use super::record::RunRecord;
use crate::errors::ReportError;

/// `text` with every character XML 1.0 does not allow (C0 controls but tab, line feed
/// and carriage return; U+FFFE, U+FFFF) replaced by U+FFFD. quick-junit drops control
/// characters but lets U+FFFE and U+FFFF through, and one of them makes the whole report
/// unreadable to an XML parser.
fn xml_text(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        return text.into();
    }
    text.chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect::<String>()
        .into()
}

/// Builds the report from a finished run.
pub fn junit_report(record: &RunRecord) -> Report {
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for o in &record.outcomes {
        let status = match &o.status {
            TestStatus::Passed => TestCaseStatus::success(),
            TestStatus::Failed(f) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(xml_text(&f.message()))
                    .set_description(xml_text(&o.output));
                s
            }
            TestStatus::Ignored => TestCaseStatus::skipped(),
            TestStatus::NotRun(reason) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(xml_text(&format!("not run: {reason}")));
                s
            }
        };
        let mut status = status;
        // Earlier failed attempts: flakyFailure under a pass, rerunFailure under a failure.
        status.add_reruns(o.previous.iter().map(|p| {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            if let TestStatus::Failed(f) = &p.status {
                rerun.set_message(xml_text(&f.message()));
            }
            rerun
                .set_time(p.duration)
                .set_description(xml_text(&p.output));
            rerun
        }));
        let mut case = TestCase::new(xml_text(&o.name), status);
        case.set_classname(o.binary_id.as_str())
            .set_time(o.duration);
        if let Some(w) = o.worker {
            case.add_property(Property::new("xpar.worker", worker_name(w)));
        }
        if let Some(r) = o.resources {
            let cpu = format!("{:.6}", r.cpu.as_secs_f64());
            case.add_property(Property::new("xpar.cpu-secs", cpu));
            if let Some(bytes) = r.peak_rss {
                case.add_property(Property::new("xpar.peak-rss-bytes", bytes.to_string()));
            }
        }
        suites
            .entry(o.binary_id.as_str())
            .or_insert_with(|| TestSuite::new(o.binary_id.as_str()))
            .add_test_case(case);
    }
    let mut report = Report::new("cargo-xpar");
    report
        .set_time(record.wall)
        .add_test_suites(suites.into_values());
    report
}

/// Writes the report to `path`, creating its directory.
pub fn write_junit(record: &RunRecord, path: &Path) -> Result<(), ReportError> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| ReportError::Junit {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(Box::new(e)))?;
    }
    let file = std::fs::File::create(path).map_err(|e| err(Box::new(e)))?;
    junit_report(record)
        .serialize(std::io::BufWriter::new(file))
        .map_err(|e| err(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;
    use crate::report::{Failure, RunEvent, TestOutcome};
    use std::time::Duration;

    fn outcome(bin: &str, name: &str, status: TestStatus, output: &str) -> RunEvent {
        RunEvent::TestFinished(TestOutcome {
            binary_id: crate::discover::binary_id(bin, BinaryKind::Lib, bin),
            name: name.into(),
            status,
            duration: Duration::from_millis(5),
            output: output.into(),
            worker: Some(1),
            started: None,
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        })
    }

    #[test]
    fn report_from_recorded_events() {
        let mut record = RunRecord::default();
        let events = [
            outcome("alpha", "tests::passes", TestStatus::Passed, "hidden"),
            outcome(
                "alpha",
                "tests::aborts",
                TestStatus::Failed(Failure::Signal {
                    signal: 6,
                    name: "SIGABRT".into(),
                }),
                "output before abort\n",
            ),
            outcome("beta", "tests::slow", TestStatus::Ignored, ""),
            RunEvent::RunFinished {
                wall: Duration::from_millis(20),
                cancelled: None,
            },
        ];
        for e in &events {
            record.handle(e);
        }
        let xml = junit_report(&record).to_string().unwrap();
        insta::assert_snapshot!(xml);
    }

    /// Every class of character XML 1.0 forbids, in the output, the message and the name:
    /// the report still parses, and what is allowed is kept as it was.
    #[test]
    fn any_bytes_a_test_prints_give_well_formed_xml() {
        let mut nasty = String::from("start ");
        nasty.extend((0u32..0x20).filter_map(char::from_u32));
        nasty.push_str(
            "\u{7F}\u{D7FF}\u{E000}\u{FFFD}\u{FFFE}\u{FFFF}\u{10000}\u{10FFFF} <&>\"' end",
        );
        let mut record = RunRecord::default();
        let failure = TestStatus::Failed(Failure::NoResult {
            reason: nasty.clone(),
        });
        record.handle(&outcome(
            "alpha",
            &format!("tests::n{nasty}"),
            failure,
            &nasty,
        ));
        let xml = junit_report(&record).to_string().unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("a failure element");
        let text = failure.text().unwrap_or_default();
        assert!(text.starts_with("start "), "{text:?}");
        assert!(
            text.ends_with("\u{FFFD}\u{FFFD}\u{10000}\u{10FFFF} <&>\"' end"),
            "{text:?}"
        );
        assert!(text.contains("\n"), "line feeds are kept: {text:?}");
        assert!(!text.contains('\u{FFFE}') && !text.contains('\u{1}'));
    }
}
