//! A suite's own JUnit report (`junit = "path"`): its test cases join the run's results,
//! under the suite's binary id, each named `classname::name` (or `name` when it has no
//! class), with its verdict, time and output. Read with quick-xml's pull parser; JUnit
//! writers agree on little beyond `testcase` with `name`, `classname`, `time` and the
//! children `failure`, `error`, `skipped`, `system-out` and `system-err`, which is all
//! that is read here.

use std::path::Path;
use std::time::Duration;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::report::{Failure, TestOutcome, TestStatus};
use xpar_metadata::BinaryId;

/// The test cases of the JUnit report `xml`, as results of `binary_id`.
pub fn cases(xml: &str, binary_id: &BinaryId) -> Result<Vec<TestOutcome>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut case: Option<TestOutcome> = None;
    // The text of the element being read inside a case (a failure's body, system-out).
    let mut text_of: Option<Vec<u8>> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                case = Some(new_case(&e, binary_id)?);
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                out.push(new_case(&e, binary_id)?);
            }
            Event::Start(e) | Event::Empty(e) if case.is_some() => {
                let c = case.as_mut().expect("inside a case");
                match e.name().as_ref() {
                    b"failure" | b"error" => {
                        c.status = TestStatus::Failed(Failure::Failed);
                        if let Some(m) = attr(&e, b"message")? {
                            c.output.push_str(&m);
                            c.output.push('\n');
                        }
                        text_of = Some(Vec::new());
                    }
                    b"skipped" => c.status = TestStatus::Ignored,
                    b"system-out" | b"system-err" => text_of = Some(Vec::new()),
                    _ => {}
                }
            }
            Event::Text(t) if text_of.is_some() => {
                let text = t.decode().map_err(|e| e.to_string())?;
                text_of
                    .as_mut()
                    .expect("reading text")
                    .extend(text.as_bytes());
            }
            // `&amp;`, `&#10;`: the reader gives references apart from the text.
            Event::GeneralRef(r) if text_of.is_some() => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity `&{name};`"))?
                            .to_owned()
                    }
                };
                text_of
                    .as_mut()
                    .expect("reading text")
                    .extend(resolved.as_bytes());
            }
            Event::CData(t) if text_of.is_some() => {
                let bytes: &[u8] = t.as_ref();
                text_of
                    .as_mut()
                    .expect("reading text")
                    .extend_from_slice(bytes);
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => {
                out.extend(case.take());
            }
            Event::End(_) if text_of.is_some() => {
                let text = text_of.take().expect("reading text");
                if let Some(c) = case.as_mut() {
                    c.output.push_str(&String::from_utf8_lossy(&text));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// A case as its start tag says: passed until a child says otherwise.
fn new_case(e: &BytesStart<'_>, binary_id: &BinaryId) -> Result<TestOutcome, String> {
    let name = attr(e, b"name")?.ok_or("a testcase without a name")?;
    let name = match attr(e, b"classname")?.filter(|c| !c.is_empty()) {
        Some(class) => format!("{class}::{name}"),
        None => name,
    };
    let mut o = TestOutcome::not_started(binary_id.clone(), name, TestStatus::Passed);
    let seconds: f64 = attr(e, b"time")?
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0.0);
    o.duration = Duration::try_from_secs_f64(seconds).unwrap_or_default();
    Ok(o)
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        if a.key.as_ref() == key {
            let v = (a.normalized_value(XmlVersion::Implicit1_0)).map_err(|e| e.to_string())?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// The cases of the report at `path`, read after the suite ran.
pub fn read(path: &Path, binary_id: &BinaryId) -> Result<Vec<TestOutcome>, String> {
    let xml = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    cases(&xml, binary_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_read_with_their_verdicts_times_and_output() {
        let xml = r#"<?xml version="1.0"?>
<testsuites><testsuite name="py" tests="4">
  <testcase classname="tests.test_a" name="test_ok" time="0.25"/>
  <testcase classname="tests.test_a" name="test_bad" time="1.5">
    <failure message="assert 1 == 2">Traceback &amp; more</failure>
    <system-out><![CDATA[printed <here>]]></system-out>
  </testcase>
  <testcase name="test_skip"><skipped/></testcase>
  <testcase name="test_err"><error message="boom"/></testcase>
</testsuite></testsuites>"#;
        let id = BinaryId::new("@suite/py");
        let cases = cases(xml, &id).unwrap();
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tests.test_a::test_ok",
                "tests.test_a::test_bad",
                "test_skip",
                "test_err"
            ]
        );
        assert_eq!(cases[0].status, TestStatus::Passed);
        assert_eq!(cases[0].duration, Duration::from_millis(250));
        assert!(cases[1].status.is_failure());
        assert_eq!(
            cases[1].output,
            "assert 1 == 2\nTraceback & moreprinted <here>"
        );
        assert_eq!(cases[2].status, TestStatus::Ignored);
        assert!(cases[3].status.is_failure());
        assert!(cases.iter().all(|c| c.binary_id == id));
        assert!(super::cases("<testsuite><testcase time=\"1\"/></testsuite>", &id).is_err());
        assert!(super::cases("<testsuite><testcase name=\"a\"", &id).is_err());
    }
}
