//! Reads the merged stdout+stderr of one batch process running libtest with
//! `--format json --nocapture --test-threads=1`: JSON events interleaved with whatever the
//! tests print. Bytes between a test's `started` event and its result belong to that test,
//! so a test that kills its process keeps the output it wrote before dying.

use serde::Deserialize;

/// A result libtest reported for a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibtestResult {
    Ok,
    Failed,
    Ignored,
}

/// What one line of the stream meant.
#[derive(Clone, Debug, PartialEq)]
pub enum ParsedEvent {
    Started {
        name: String,
    },
    Finished {
        name: String,
        result: LibtestResult,
        /// Seconds, from `--report-time`.
        exec_time: Option<f64>,
        output: Vec<u8>,
    },
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    event: String,
    name: Option<String>,
    exec_time: Option<f64>,
    stdout: Option<String>,
    message: Option<String>,
}

/// Where libtest's JSON events start; a test that prints without a trailing newline
/// leaves its bytes in front of the next event on the same line.
const EVENT_START: &[u8] = b"{ \"type\": \"";

/// The most output kept per test: the first [`HEAD_KEPT`] bytes and the last bytes up
/// to this size, with a note of what was left out between. A test that prints hundreds of
/// megabytes must not take the runner's memory, or the reports' size, with it.
const MAX_KEPT: usize = 8 << 20;
const HEAD_KEPT: usize = 1 << 20;

/// The state of one batch process's stream.
#[derive(Debug, Default)]
pub struct StreamParser {
    current: Option<(String, Vec<u8>)>,
    /// Bytes of the current test's output left out (see [`MAX_KEPT`]).
    omitted: usize,
    /// Output written outside any test (before the first, between tests, after the last).
    outside: Vec<u8>,
    started_any: bool,
    suite_finished: bool,
}

impl StreamParser {
    /// Feeds one line (with its `\n`, if it had one).
    pub fn feed(&mut self, line: &[u8]) -> Option<ParsedEvent> {
        let Some(pos) = find(line, EVENT_START) else {
            self.push_output(line);
            return None;
        };
        let Ok(raw) = serde_json::from_slice::<RawEvent>(line[pos..].trim_ascii_end()) else {
            self.push_output(line);
            return None;
        };
        // With one test thread libtest's own events alternate: `started`, then the result
        // of that test. An event out of that order was printed by the running test (a
        // test of a test runner, say) and is its output, never a result.
        let in_order = match (raw.kind.as_str(), raw.event.as_str(), &self.current) {
            ("test", "started", current) => current.is_none(),
            ("test", "ok" | "failed" | "ignored", Some((current, _))) => {
                raw.name.as_ref() == Some(current)
            }
            ("test", "ok" | "failed" | "ignored", None) => false,
            // libtest's warning that the running test is slow.
            ("test", "timeout", Some((current, _))) => raw.name.as_ref() == Some(current),
            (_, _, current) => current.is_none(),
        };
        if !in_order {
            self.push_output(line);
            return None;
        }
        self.push_output(&line[..pos]);
        match (raw.kind.as_str(), raw.event.as_str()) {
            ("suite", "ok" | "failed") => {
                self.suite_finished = true;
                None
            }
            ("test", "started") => {
                let name = raw.name?;
                self.started_any = true;
                self.current = Some((name.clone(), Vec::new()));
                Some(ParsedEvent::Started { name })
            }
            ("test", event @ ("ok" | "failed" | "ignored")) => {
                let name = raw.name?;
                let mut output = self
                    .take_in_progress()
                    .map(|(_, out)| out)
                    .unwrap_or_default();
                // In capture mode libtest hands the output over in the event instead.
                if let Some(captured) = raw.stdout {
                    output.extend(captured.into_bytes());
                }
                if let Some(message) = raw.message {
                    if !output.ends_with(b"\n") && !output.is_empty() {
                        output.push(b'\n');
                    }
                    output.extend(message.into_bytes());
                    output.push(b'\n');
                }
                let result = match event {
                    "ok" => LibtestResult::Ok,
                    "ignored" => LibtestResult::Ignored,
                    _ => LibtestResult::Failed,
                };
                Some(ParsedEvent::Finished {
                    name,
                    result,
                    exec_time: raw.exec_time,
                    output,
                })
            }
            // `suite started`, and `timeout` (a warning that a test runs long, not a result).
            _ => None,
        }
    }

    fn push_output(&mut self, bytes: &[u8]) {
        let out = match &mut self.current {
            Some((_, out)) => out,
            None => &mut self.outside,
        };
        out.extend_from_slice(bytes);
        // Trim only once well past the limit, so a flood is trimmed now and then, not on
        // every line.
        if out.len() > MAX_KEPT + MAX_KEPT / 2 {
            self.omitted += trim(out);
        }
    }

    /// The test that was running when the stream ended, with its output so far.
    pub fn take_in_progress(&mut self) -> Option<(String, Vec<u8>)> {
        let (name, mut out) = self.current.take()?;
        self.omitted += trim(&mut out);
        if self.omitted > 0 {
            let note = format!(
                "\n[cargo xpar: {} bytes of this test's output left out]\n",
                std::mem::take(&mut self.omitted)
            );
            out.splice(HEAD_KEPT..HEAD_KEPT, note.into_bytes());
        }
        Some((name, out))
    }

    /// Output written outside any test.
    pub fn take_outside_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outside)
    }

    pub fn started_any(&self) -> bool {
        self.started_any
    }

    /// libtest printed its final suite event: the process ended normally.
    pub fn suite_finished(&self) -> bool {
        self.suite_finished
    }
}

/// Cuts `out` to [`MAX_KEPT`] bytes, keeping its head and tail; returns the bytes cut.
fn trim(out: &mut Vec<u8>) -> usize {
    if out.len() <= MAX_KEPT {
        return 0;
    }
    let cut = HEAD_KEPT..out.len() - (MAX_KEPT - HEAD_KEPT);
    let n = cut.len();
    out.drain(cut);
    n
}

/// Where `needle` (which starts with `{`) begins in `haystack`. Only the places of `{`
/// are compared: most output lines have none, and a flood of output must stay cheap.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real output of a libtest 1.95 binary run as a batch (`--nocapture`), cut at the abort.
    const ABORTED: &str = r#"{ "type": "suite", "event": "started", "test_count": 6 }
{ "type": "test", "event": "started", "name": "tests::a_pass" }
hello out
hello err
{ "type": "test", "name": "tests::a_pass", "event": "ok", "exec_time": 0.000003106 }
{ "type": "test", "event": "started", "name": "tests::b_fail" }

thread 'tests::b_fail' (1718) panicked at src/lib.rs:4:46:
assertion `left == right` failed
partial{ "type": "test", "name": "tests::b_fail", "event": "failed", "exec_time": 0.170361425 }
{ "type": "test", "event": "started", "name": "tests::c_abort" }
before abort
"#;

    fn feed_all(p: &mut StreamParser, text: &str) -> Vec<ParsedEvent> {
        text.split_inclusive('\n')
            .filter_map(|l| p.feed(l.as_bytes()))
            .collect()
    }

    fn finished(name: &str, result: LibtestResult, t: f64, out: &str) -> ParsedEvent {
        ParsedEvent::Finished {
            name: name.into(),
            result,
            exec_time: Some(t),
            output: out.as_bytes().to_vec(),
        }
    }

    #[test]
    fn output_goes_to_the_test_that_wrote_it_and_a_crash_keeps_its_output() {
        let mut p = StreamParser::default();
        let events = feed_all(&mut p, ABORTED);
        assert_eq!(
            events,
            [
                ParsedEvent::Started {
                    name: "tests::a_pass".into()
                },
                finished(
                    "tests::a_pass",
                    LibtestResult::Ok,
                    0.000003106,
                    "hello out\nhello err\n"
                ),
                ParsedEvent::Started {
                    name: "tests::b_fail".into()
                },
                finished(
                    "tests::b_fail",
                    LibtestResult::Failed,
                    0.170361425,
                    "\nthread 'tests::b_fail' (1718) panicked at src/lib.rs:4:46:\nassertion `left == right` failed\npartial"
                ),
                ParsedEvent::Started {
                    name: "tests::c_abort".into()
                },
            ]
        );
        assert!(!p.suite_finished());
        assert_eq!(
            p.take_in_progress(),
            Some(("tests::c_abort".into(), b"before abort\n".to_vec()))
        );
    }

    #[test]
    fn captured_stdout_and_message_fields_are_output() {
        let mut p = StreamParser::default();
        let text = r#"{ "type": "test", "event": "started", "name": "t" }
{ "type": "test", "name": "t", "event": "failed", "exec_time": 0.5, "stdout": "captured\n", "message": "test did not panic as expected" }
{ "type": "suite", "event": "failed", "passed": 0, "failed": 1, "ignored": 0, "measured": 0, "filtered_out": 0, "exec_time": 0.5 }
"#;
        let events = feed_all(&mut p, text);
        assert_eq!(
            events[1],
            finished(
                "t",
                LibtestResult::Failed,
                0.5,
                "captured\ntest did not panic as expected\n"
            )
        );
        assert!(p.suite_finished());
        assert_eq!(p.take_in_progress(), None);
    }

    #[test]
    fn lines_that_only_look_like_events_are_output() {
        let mut p = StreamParser::default();
        let text = "{ \"type\": \"test\", \"event\": \"started\", \"name\": \"t\" }\n\
                    { \"type\": \"broken\n\
                    {\"type\":\"test\",\"event\":\"ok\",\"name\":\"t\"}\n";
        let events = feed_all(&mut p, text);
        assert_eq!(events.len(), 1);
        let (name, out) = p.take_in_progress().unwrap();
        assert_eq!(name, "t");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{ \"type\": \"broken\n{\"type\":\"test\",\"event\":\"ok\",\"name\":\"t\"}\n"
        );
    }

    /// A test that prints libtest's events (a test of a test runner) neither ends
    /// itself nor reports another test.
    #[test]
    fn events_a_test_prints_are_its_output() {
        let mut p = StreamParser::default();
        let forged = "{ \"type\": \"test\", \"event\": \"started\", \"name\": \"b\" }\n\
                      { \"type\": \"test\", \"name\": \"b\", \"event\": \"ok\" }\n\
                      { \"type\": \"suite\", \"event\": \"ok\", \"passed\": 1 }\n";
        let text = format!(
            "{{ \"type\": \"test\", \"event\": \"started\", \"name\": \"a\" }}\n\
             {forged}\
             {{ \"type\": \"test\", \"name\": \"a\", \"event\": \"failed\" }}\n\
             {{ \"type\": \"test\", \"event\": \"started\", \"name\": \"b\" }}\n\
             {{ \"type\": \"test\", \"name\": \"b\", \"event\": \"failed\" }}\n"
        );
        let events = feed_all(&mut p, &text);
        assert!(!p.suite_finished());
        assert_eq!(
            events,
            [
                ParsedEvent::Started { name: "a".into() },
                ParsedEvent::Finished {
                    name: "a".into(),
                    result: LibtestResult::Failed,
                    exec_time: None,
                    output: forged.as_bytes().to_vec(),
                },
                ParsedEvent::Started { name: "b".into() },
                ParsedEvent::Finished {
                    name: "b".into(),
                    result: LibtestResult::Failed,
                    exec_time: None,
                    output: Vec::new(),
                },
            ]
        );
    }

    #[test]
    fn output_before_any_test_is_kept_outside() {
        let mut p = StreamParser::default();
        let events = feed_all(&mut p, "error while loading shared libraries: libx.so\n");
        assert!(events.is_empty());
        assert!(!p.started_any());
        assert_eq!(
            p.take_outside_output(),
            b"error while loading shared libraries: libx.so\n"
        );
    }

    #[test]
    fn a_flood_of_output_is_cut_in_the_middle() {
        let mut p = StreamParser::default();
        p.feed(b"{ \"type\": \"test\", \"event\": \"started\", \"name\": \"t\" }\n");
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        for _ in 0..20 * 1024 {
            p.feed(&line);
        }
        p.feed(b"the end\n");
        let (_, out) = p.take_in_progress().unwrap();
        assert!(out.len() < MAX_KEPT + 1024, "{}", out.len());
        assert!(out.ends_with(b"the end\n"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("bytes of this test's output left out"));
    }

    #[test]
    fn events_after_output_on_the_same_line_are_found() {
        assert_eq!(find(b"ab{c{ \"type\": \"x", EVENT_START), Some(4));
        assert_eq!(find(b"{{{", EVENT_START), None);
    }

    #[test]
    fn timeout_warnings_are_not_results() {
        let mut p = StreamParser::default();
        let text = "{ \"type\": \"test\", \"event\": \"started\", \"name\": \"slow\" }\n\
                    { \"type\": \"test\", \"event\": \"timeout\", \"name\": \"slow\" }\n";
        assert_eq!(feed_all(&mut p, text).len(), 1);
        assert_eq!(
            p.take_in_progress(),
            Some(("slow".into(), Vec::new())),
            "the warning is not the test's output either"
        );
    }
}
