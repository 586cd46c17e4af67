//! Reads the JUnit XML that `cargo xpar --junit` writes into plain test cases.

use std::path::Path;

/// One `<testcase>` of a JUnit report.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitCase {
    /// The `name` of the enclosing `<testsuite>`.
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// The `time` attribute, in seconds.
    pub time: f64,
    /// The `<failure>` (or `<error>`) child, if any.
    pub failure: Option<JunitFailure>,
    /// Whether the case has a `<skipped>` child.
    pub skipped: bool,
}

/// A `<failure>` or `<error>` element of a test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunitFailure {
    /// The element name: `failure` or `error`.
    pub kind: String,
    /// The `message` attribute (empty if absent).
    pub message: String,
    /// The element's text: the test's captured output.
    pub text: String,
}

/// Reads and parses the JUnit file at `path`, panicking with the reason if it can't.
pub fn read_junit(path: &Path) -> Vec<JunitCase> {
    try_read_junit(path).unwrap_or_else(|err| panic!("{err}"))
}

/// Reads and parses the JUnit file at `path`.
pub fn try_read_junit(path: &Path) -> Result<Vec<JunitCase>, String> {
    let xml = std::fs::read_to_string(path)
        .map_err(|err| format!("could not read JUnit file {}: {err}", path.display()))?;
    parse_junit(&xml).map_err(|err| format!("bad JUnit file {}: {err}", path.display()))
}

/// Parses a JUnit report into its test cases, in document order.
pub fn parse_junit(xml: &str) -> Result<Vec<JunitCase>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|err| format!("invalid XML: {err}"))?;
    let mut cases = Vec::new();
    for suite in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        let suite_name = attr(suite, "name")?;
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            cases.push(parse_case(suite_name, case)?);
        }
    }
    Ok(cases)
}

fn parse_case(suite: &str, case: roxmltree::Node<'_, '_>) -> Result<JunitCase, String> {
    let name = attr(case, "name")?;
    let time = attr(case, "time")?;
    let time = time
        .parse()
        .map_err(|err| format!("testcase {name}: bad time {time:?}: {err}"))?;
    let failure = case
        .children()
        .find(|n| n.has_tag_name("failure") || n.has_tag_name("error"))
        .map(|n| JunitFailure {
            kind: n.tag_name().name().to_owned(),
            message: n.attribute("message").unwrap_or_default().to_owned(),
            text: n
                .descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect(),
        });
    Ok(JunitCase {
        suite: suite.to_owned(),
        classname: attr(case, "classname")?.to_owned(),
        name: name.to_owned(),
        time,
        failure,
        skipped: case.children().any(|n| n.has_tag_name("skipped")),
    })
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Result<&'a str, String> {
    node.attribute(name).ok_or_else(|| {
        let pos = node.document().text_pos_at(node.range().start);
        format!(
            "<{}> at {pos} has no {name} attribute",
            node.tag_name().name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="xpar-run" tests="3" failures="1" errors="0">
    <testsuite name="alpha" tests="3" disabled="1" errors="0" failures="1">
        <testcase name="tests::passes" classname="alpha" time="0.001">
        </testcase>
        <testcase name="tests::fails" classname="alpha" time="0.25">
            <failure message="test failed" type="test failure">about to fail
thread panicked at &apos;boom&apos;<![CDATA[ <raw> ]]></failure>
        </testcase>
        <testcase name="tests::ignored_test" classname="alpha" time="0">
            <skipped/>
        </testcase>
    </testsuite>
</testsuites>
"#;

    #[test]
    fn parses_outcomes_and_failure_text() {
        let cases = parse_junit(SAMPLE).unwrap();
        let names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["tests::passes", "tests::fails", "tests::ignored_test"]
        );
        assert!(cases
            .iter()
            .all(|c| c.suite == "alpha" && c.classname == "alpha"));
        assert_eq!(cases[0].failure, None);
        assert!(!cases[0].skipped);
        let failure = cases[1].failure.as_ref().unwrap();
        assert_eq!(failure.kind, "failure");
        assert_eq!(failure.message, "test failed");
        assert_eq!(
            failure.text,
            "about to fail\nthread panicked at 'boom' <raw> "
        );
        assert_eq!(cases[1].time, 0.25);
        assert!(cases[2].skipped);
        assert_eq!(cases[2].failure, None);
    }

    #[test]
    fn rejects_broken_reports() {
        let err = parse_junit("<testsuites><testsuite name=\"a\">").unwrap_err();
        assert!(err.starts_with("invalid XML"), "{err}");

        let err = parse_junit(r#"<testsuite name="a"><testcase name="t" time="1"/></testsuite>"#)
            .unwrap_err();
        assert!(err.contains("no classname attribute"), "{err}");

        let bad_time =
            r#"<testsuite name="a"><testcase name="t" classname="a" time="soon"/></testsuite>"#;
        let err = parse_junit(bad_time).unwrap_err();
        assert!(err.contains("bad time \"soon\""), "{err}");
    }
}
