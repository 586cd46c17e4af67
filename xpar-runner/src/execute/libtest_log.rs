//! Reads one batch process of a stock libtest binary, run as
//! `BIN --exact NAME... --test-threads=1 --logfile /dev/fd/3 [--nocapture]`, through two
//! channels:
//!
//! - the **result log** (`--logfile`): libtest writes `ok NAME`, `failed NAME`,
//!   `failed: MESSAGE NAME` or `ignored[: REASON] NAME` there as each test ends. The tests
//!   never write to it, so no output a test prints can forge or corrupt a verdict. It is
//!   stable (marked deprecated) and needs no `RUSTC_BOOTSTRAP`.
//! - the **stream** (stdout and stderr on one pipe): libtest prints `test NAME ... ` before
//!   each test (one test thread) and its result word after it; what lies between belongs to
//!   that test. Under libtest's own capture (the default), a failed test's captured output
//!   comes at the end, in the `---- NAME stdout ----` sections.
//!
//! Pure: the worker feeds bytes with the time they arrived and asks what is decided.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// A verdict libtest wrote to the result log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// With libtest's message, for a `#[should_panic]` test that did not panic as asked.
    Failed(Option<String>),
    /// With the `#[ignore = "..."]` reason, if there was one.
    Ignored(Option<String>),
}

/// The most output kept per test: the first [`HEAD_KEPT`] bytes and the last bytes up
/// to this size, with a note of what was left out between. A test that prints hundreds of
/// megabytes must not take the runner's memory, or the reports' size, with it.
pub const MAX_KEPT: usize = 8 << 20;
const HEAD_KEPT: usize = 1 << 20;

/// Output with a size bound: the head and the tail are kept, the middle is counted.
#[derive(Clone, Debug, Default)]
pub struct Capped {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    omitted: usize,
}

impl Capped {
    pub fn push(&mut self, bytes: &[u8]) {
        let room = HEAD_KEPT.saturating_sub(self.head.len());
        if self.tail.is_empty() && room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            self.push_tail(&bytes[n..]);
        } else {
            self.push_tail(bytes);
        }
    }

    fn push_tail(&mut self, bytes: &[u8]) {
        const TAIL_KEPT: usize = MAX_KEPT - HEAD_KEPT;
        if bytes.len() >= TAIL_KEPT {
            self.omitted += self.tail.len() + bytes.len() - TAIL_KEPT;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - TAIL_KEPT..]);
            return;
        }
        let over = (self.tail.len() + bytes.len()).saturating_sub(TAIL_KEPT);
        self.tail.drain(..over);
        self.omitted += over;
        self.tail.extend(bytes);
    }

    /// Everything kept, with a note where bytes were left out.
    pub fn into_bytes(self) -> Vec<u8> {
        let mut out = self.head;
        if self.omitted > 0 {
            out.extend_from_slice(
                format!(
                    "\n[cargo xpar: {} bytes of this test's output left out]\n",
                    self.omitted
                )
                .as_bytes(),
            );
        }
        let (a, b) = self.tail.as_slices();
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        out
    }

    /// Drops `suffix` from the end, if the kept bytes end with it.
    fn strip_suffix(&mut self, suffix: &[u8]) -> bool {
        let len = self.head.len() + self.tail.len();
        if suffix.len() > len {
            return false;
        }
        let ends = if self.tail.len() >= suffix.len() {
            self.tail
                .range(self.tail.len() - suffix.len()..)
                .eq(suffix.iter())
        } else {
            let from_head = suffix.len() - self.tail.len();
            self.head[self.head.len() - from_head..] == suffix[..from_head]
                && self.tail.iter().eq(suffix[from_head..].iter())
        };
        if ends {
            let mut n = suffix.len();
            let t = n.min(self.tail.len());
            self.tail.truncate(self.tail.len() - t);
            n -= t;
            self.head.truncate(self.head.len() - n);
        }
        ends
    }
}

#[derive(Debug, Default)]
struct TestState {
    /// When its `test NAME ... ` line arrived.
    started: Option<Instant>,
    verdict: Option<(Verdict, Instant)>,
    /// How many results of this name libtest gives (a doctest generated twice on one
    /// line is listed and run twice under one name), and those in so far, combined:
    /// a failure of either copy is the test's.
    copies: usize,
    partial: Option<Verdict>,
    seen: usize,
    /// What it wrote to the stream (everything, without libtest's capture).
    output: Capped,
    /// Its `---- NAME stdout ----` section (libtest's capture of a failed test).
    captured: Vec<u8>,
    /// No more of the stream can be its own.
    closed: bool,
    taken: bool,
}

/// Where in libtest's output the stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Tests,
    /// In the `failures:` sections: the section of this test (if one started).
    Failures(Option<usize>),
    /// The list of failed names and the summary: nothing more belongs to a test.
    Summary,
}

/// A test that is decided: its verdict and all of its output are in.
#[derive(Debug)]
pub struct Decided {
    pub name: String,
    pub verdict: Verdict,
    pub started: Option<Instant>,
    pub duration: Duration,
    pub output: Vec<u8>,
    /// Failed under libtest's capture, and the process ended before libtest printed
    /// what it captured.
    pub output_lost: bool,
}

/// The state of one batch process's two channels.
#[derive(Debug)]
pub struct BatchParser {
    /// libtest captures the tests' output itself (no `--nocapture`).
    capture: bool,
    /// The names sent, in the order libtest runs them (sorted by name).
    order: Vec<String>,
    index: HashMap<String, usize>,
    tests: Vec<TestState>,
    /// The test whose `test NAME ... ` line came last.
    current: Option<usize>,
    phase: Phase,
    /// A stream line not yet ended by `\n`.
    line: Vec<u8>,
    /// The previous stream line was empty (libtest's sections start after one).
    after_blank: bool,
    /// The result log, from the start of the record not yet complete.
    log: Vec<u8>,
    /// Output written outside any test (before the first one, mostly).
    outside: Capped,
    /// Where the next [`BatchParser::take_decided`] starts looking.
    cursor: usize,
    stream_ended: bool,
    /// Tests of the binary that were not sent but may run beside those that were (a
    /// doctest selection's extras): their results are read and dropped.
    others: HashSet<String>,
}

impl BatchParser {
    /// A parser for a process that was sent `names`.
    pub fn new(names: &[String], capture: bool) -> Self {
        let mut order: Vec<String> = names.to_vec();
        // libtest sorts the tests it runs by name.
        order.sort();
        order.dedup();
        let index = order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let tests = (order.iter())
            .map(|_| TestState {
                copies: 0,
                ..TestState::default()
            })
            .collect();
        BatchParser {
            capture,
            order,
            index,
            tests,
            current: None,
            phase: Phase::Tests,
            line: Vec::new(),
            after_blank: false,
            log: Vec::new(),
            outside: Capped::default(),
            cursor: 0,
            stream_ended: false,
            others: HashSet::new(),
        }
    }

    /// Knowing every name of the binary, `all` (a name listed twice runs twice): the
    /// results of those not sent are dropped rather than taken for part of another
    /// record, and a name sent that runs twice is decided by both of its results.
    pub fn knowing(mut self, all: &[&str]) -> Self {
        for name in all {
            match self.index.get(*name) {
                Some(&i) => self.tests[i].copies += 1,
                None => {
                    self.others.insert((*name).to_owned());
                }
            }
        }
        self
    }

    /// Feeds bytes of the result log. Returns the tests that got a verdict.
    pub fn feed_log(&mut self, bytes: &[u8], at: Instant) -> Vec<String> {
        self.log.extend_from_slice(bytes);
        let mut got = Vec::new();
        // A record may span lines (a message or an ignore reason with line breaks): it
        // is complete at the first line end where it names a test still waiting.
        // Anything before a record's start that no record took is dropped.
        let mut scan = 0;
        while let Some(nl) = memchr_from(&self.log, b'\n', scan) {
            let mut starts = vec![0];
            starts.extend(
                self.log[..nl]
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            let found = starts.into_iter().find_map(|start| {
                let record = String::from_utf8_lossy(&self.log[start..nl]);
                // A log written with Windows line ends.
                self.parse_record(record.strip_suffix('\r').unwrap_or(&record))
            });
            match found {
                Some((Some(i), verdict)) => {
                    self.log.drain(..=nl);
                    scan = 0;
                    let t = &mut self.tests[i];
                    t.seen += 1;
                    let combined = match t.partial.take() {
                        Some(earlier @ Verdict::Failed(_)) => earlier,
                        _ => verdict,
                    };
                    if t.seen >= t.copies.max(1) {
                        t.verdict = Some((combined, at));
                        got.push(self.order[i].clone());
                    } else {
                        t.partial = Some(combined);
                    }
                }
                // A test not sent: its record is dropped.
                Some((None, _)) => {
                    self.log.drain(..=nl);
                    scan = 0;
                }
                None => scan = nl + 1,
            }
        }
        got
    }

    /// `ok NAME`, `failed NAME`, `failed: MSG NAME`, `failed (time limit exceeded) NAME`,
    /// `ignored NAME`, `ignored: REASON NAME`, for a name sent that has no verdict yet
    /// (or one known not sent).
    /// For a name not sent but known ([`Self::knowing`]), the index is `None`.
    fn parse_record(&self, record: &str) -> Option<(Option<usize>, Verdict)> {
        let (word, rest) = record.split_once(' ')?;
        let waiting = |name: &str| match self.index.get(name) {
            Some(&i) => self.tests[i].verdict.is_none().then_some(Some(i)),
            None => self.others.contains(name).then_some(None),
        };
        if let Some(i) = waiting(rest) {
            return match word {
                "ok" => Some((i, Verdict::Ok)),
                "failed" => Some((i, Verdict::Failed(None))),
                "ignored" => Some((i, Verdict::Ignored(None))),
                _ => None,
            };
        }
        if !matches!(word, "failed:" | "ignored:" | "failed") {
            return None;
        }
        // `failed: MSG NAME`, `failed (time limit exceeded) NAME`, `ignored: REASON NAME`:
        // the name is the longest suffix after a space that is a test waiting.
        let mut from = 0;
        while let Some(sp) = rest[from..].find(' ') {
            let split = from + sp;
            if let Some(i) = waiting(&rest[split + 1..]) {
                let msg = rest[..split].to_owned();
                let v = match word {
                    "ignored:" => Verdict::Ignored(Some(msg)),
                    _ => Verdict::Failed(Some(msg)),
                };
                return Some((i, v));
            }
            from = split + 1;
        }
        None
    }

    /// Feeds bytes of the stream. Returns the tests that started.
    pub fn feed_stream(&mut self, bytes: &[u8], at: Instant) -> Vec<String> {
        let mut started = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.line.is_empty() && self.phase == Phase::Tests {
                // A test's output, however much of it, goes on in one piece up to the
                // next line that may be libtest's: a test printing a hundred megabytes
                // must not keep its worker reading behind the process (and the
                // watchdog timing a test that ended long ago).
                let plain = plain_lines(rest);
                if plain > 0 {
                    self.push_output(&rest[..plain]);
                    self.after_blank = false;
                    rest = &rest[plain..];
                    continue;
                }
            }
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    self.line.extend_from_slice(&rest[..=nl]);
                    rest = &rest[nl + 1..];
                    let line = std::mem::take(&mut self.line);
                    started.extend(self.stream_line(&line, at));
                }
                None => {
                    self.line.extend_from_slice(rest);
                    // libtest flushes `test NAME ... ` before it runs the test, without a
                    // line end: the test starts now, not when its result word comes.
                    if self.phase == Phase::Tests && self.marker(&self.line).is_some() {
                        let line = std::mem::take(&mut self.line);
                        started.extend(self.stream_line(&line, at));
                        break;
                    }
                    // A long line without an end (a test printing megabytes on one line)
                    // is output as it comes, not held until its end.
                    if self.line.len() > 64 * 1024 && self.phase == Phase::Tests {
                        let line = std::mem::take(&mut self.line);
                        self.push_output(&line);
                        self.after_blank = false;
                    }
                    rest = &[];
                }
            }
        }
        started
    }

    /// The stream has ended (or will no longer be read).
    pub fn end_stream(&mut self, at: Instant) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let _ = self.stream_line(&line, at);
        }
        self.stream_ended = true;
        if let Some(c) = self.current {
            self.close(c);
        }
    }

    fn stream_line(&mut self, line: &[u8], at: Instant) -> Option<String> {
        if self.phase == Phase::Tests && self.other_marker(line) {
            // A test not sent ran: what follows is not the current test's.
            if let Some(c) = self.current.take() {
                self.close(c);
            }
            self.after_blank = false;
            return None;
        }
        if let Some(i) = self.marker(line) {
            if let Some(c) = self.current {
                self.close(c);
            }
            // A test whose verdict came in before its line (the channels race) has its
            // line now; one skipped in between never started.
            self.current = Some(i);
            self.phase = Phase::Tests;
            let t = &mut self.tests[i];
            t.started.get_or_insert(at);
            let head = marker_len(line, &self.order[i]);
            let rest = line[head..].to_vec();
            self.after_blank = false;
            self.push_output(&rest);
            return Some(self.order[i].clone());
        }
        let blank = line == b"\n";
        let was_blank = std::mem::replace(&mut self.after_blank, blank);
        match self.phase {
            Phase::Tests => {
                if was_blank && (line == b"failures:\n" || line.starts_with(b"test result: ")) {
                    if let Some(c) = self.current {
                        // The blank line before was libtest's, not the test's.
                        self.tests[c].output.strip_suffix(b"\n");
                        self.close(c);
                    }
                    self.phase = if line == b"failures:\n" {
                        Phase::Failures(None)
                    } else {
                        Phase::Summary
                    };
                    return None;
                }
                self.push_output(line);
            }
            Phase::Failures(section) => {
                if let Some(i) = self.section_header(line) {
                    if let Some(s) = section {
                        strip_one_newline(&mut self.tests[s].captured);
                    }
                    self.phase = Phase::Failures(Some(i));
                } else if was_blank && line == b"failures:\n" {
                    if let Some(s) = section {
                        strip_one_newline(&mut self.tests[s].captured);
                    }
                    self.phase = Phase::Summary;
                } else if let Some(s) = section {
                    let captured = &mut self.tests[s].captured;
                    if captured.len() < MAX_KEPT {
                        captured.extend_from_slice(line);
                    }
                }
            }
            Phase::Summary => {}
        }
        None
    }

    /// Whether `line` is the `test NAME ... ` line of a test not sent.
    fn other_marker(&self, line: &[u8]) -> bool {
        if self.others.is_empty() {
            return false;
        }
        let Some(rest) = line.strip_prefix(b"test ") else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(&rest[..rest.len().min(4096)]) else {
            return false;
        };
        text.match_indices(" ... ").any(|(end, _)| {
            let candidate = &text[..end];
            [" - should panic", " - compile fail", " - compile"]
                .iter()
                .find_map(|suffix| candidate.strip_suffix(suffix))
                .into_iter()
                .chain([candidate])
                .any(|n| self.others.contains(n))
        })
    }

    /// `test NAME ... ` (or `test NAME - should panic ... `, and for doctests
    /// `- compile ... `, `- compile fail ... `) of a sent test that has not started, after
    /// the current one.
    fn marker(&self, line: &[u8]) -> Option<usize> {
        let rest = line.strip_prefix(b"test ")?;
        let text = std::str::from_utf8(&rest[..rest.len().min(4096)]).ok()?;
        let mut from = 0;
        while let Some(p) = text[from..].find(" ... ") {
            let end = from + p;
            let candidate = &text[..end];
            // Libtest adds the kind of a should_panic test, and of a doctest that is
            // only compiled, to its line.
            let name = [" - should panic", " - compile fail", " - compile"]
                .iter()
                .find_map(|suffix| candidate.strip_suffix(suffix))
                .filter(|n| self.index.contains_key(*n))
                .unwrap_or(candidate);
            if let Some(&i) = self.index.get(name) {
                let after_current = self.current.is_none_or(|c| i > c);
                if after_current && self.tests[i].started.is_none() {
                    return Some(i);
                }
            }
            from = end + 1;
        }
        None
    }

    fn section_header(&self, line: &[u8]) -> Option<usize> {
        let name = line
            .strip_prefix(b"---- ")?
            .strip_suffix(b" stdout ----\n")?;
        // Any test sent: the stream may be read before the result log says it failed.
        self.index.get(std::str::from_utf8(name).ok()?).copied()
    }

    fn push_output(&mut self, bytes: &[u8]) {
        match self.current {
            Some(c) if !self.tests[c].closed => self.tests[c].output.push(bytes),
            _ => self.outside.push(bytes),
        }
    }

    fn close(&mut self, i: usize) {
        self.tests[i].closed = true;
    }

    /// Tests now decided (verdict and output in), in the order they ran, each once.
    /// How many tests the process was sent.
    pub fn sent(&self) -> usize {
        self.tests.len()
    }

    pub fn take_decided(&mut self) -> Vec<Decided> {
        let mut out = Vec::new();
        while self.cursor < self.tests.len() {
            let i = self.cursor;
            let t = &self.tests[i];
            if t.taken {
                self.cursor += 1;
                continue;
            }
            let Some((verdict, _)) = &t.verdict else {
                if t.started.is_none() && self.later_started(i) {
                    // Never started though later tests did: not in this binary, or
                    // skipped by the user's arguments. Left for `unfinished`.
                    self.cursor += 1;
                    continue;
                }
                break;
            };
            // A failed test's captured output comes at the end of the stream.
            let waits_for_capture = self.capture && matches!(verdict, Verdict::Failed(_));
            let ready = t.closed && (!waits_for_capture || self.stream_ended);
            if !ready {
                break;
            }
            out.push(self.take(i));
            self.cursor += 1;
        }
        out
    }

    fn later_started(&self, i: usize) -> bool {
        self.tests[i + 1..]
            .iter()
            .any(|t| t.started.is_some() || t.verdict.is_some())
    }

    fn take(&mut self, i: usize) -> Decided {
        let prev_verdict = self.tests[..i]
            .iter()
            .rev()
            .find_map(|t| t.verdict.as_ref().map(|v| v.1));
        let t = &mut self.tests[i];
        t.taken = true;
        let (verdict, ended) = t
            .verdict
            .clone()
            .unwrap_or((Verdict::Failed(None), Instant::now()));
        // libtest's result word ends the test's part of the stream.
        let word: Vec<u8> = match &verdict {
            Verdict::Ok => b"ok\n".to_vec(),
            Verdict::Failed(_) => b"FAILED\n".to_vec(),
            Verdict::Ignored(None) => b"ignored\n".to_vec(),
            Verdict::Ignored(Some(reason)) => format!("ignored, {reason}\n").into_bytes(),
        };
        t.output.strip_suffix(&word);
        let lost = self.capture
            && matches!(verdict, Verdict::Failed(_))
            && t.captured.is_empty()
            && self.phase == Phase::Tests;
        let mut output = std::mem::take(&mut t.output).into_bytes();
        output.extend_from_slice(&std::mem::take(&mut t.captured));
        if let (false, Verdict::Failed(Some(msg))) = (self.capture, &verdict) {
            // Under capture libtest puts its message in the section; here it is not.
            output.extend_from_slice(format!("note: {msg}\n").as_bytes());
        }
        // The two channels are read apart, so a name line can come before the previous
        // verdict or after its own: the test ran between the two verdicts.
        let started = match (t.started, prev_verdict) {
            (Some(s), Some(p)) => Some(s.max(p).min(ended)),
            (s, p) => s.or(p),
        };
        Decided {
            name: self.order[i].clone(),
            verdict,
            started,
            duration: started.map_or(Duration::ZERO, |s| ended.saturating_duration_since(s)),
            output,
            output_lost: lost,
        }
    }

    /// The test that started and has no verdict: the one running when the process died.
    /// Without its `test NAME ... ` line (the test before it pointed stdout elsewhere),
    /// it is the first test without a verdict after the last one with one: libtest runs
    /// them in order.
    pub fn in_progress(&self) -> Option<usize> {
        if let Some(c) = self.current {
            if self.tests[c].verdict.is_none() && !self.tests[c].taken {
                return Some(c);
            }
        }
        if self.suite_finished() {
            return None;
        }
        let last = self.tests.iter().rposition(|t| t.verdict.is_some())?;
        let next = last + 1;
        (next < self.tests.len() && !self.tests[next].taken && self.tests[next].verdict.is_none())
            .then_some(next)
    }

    /// Takes the test that was running when the process died, with its output so far.
    pub fn take_in_progress(&mut self) -> Option<(String, Option<Instant>, Vec<u8>)> {
        let i = self.in_progress()?;
        let t = &mut self.tests[i];
        t.taken = true;
        let started = t.started;
        Some((
            self.order[i].clone(),
            started,
            std::mem::take(&mut t.output).into_bytes(),
        ))
    }

    /// Tests with a verdict whose output will not come (the process died before
    /// printing libtest's sections): decided now with what there is.
    pub fn take_rest_decided(&mut self) -> Vec<Decided> {
        let mut out = Vec::new();
        for i in 0..self.tests.len() {
            if !self.tests[i].taken && self.tests[i].verdict.is_some() {
                self.tests[i].closed = true;
                out.push(self.take(i));
            }
        }
        out
    }

    /// Whether any test started (or got a verdict): a process that died before that
    /// may be a binary that cannot start at all.
    pub fn started_any(&self) -> bool {
        self.tests
            .iter()
            .any(|t| t.started.is_some() || t.verdict.is_some())
    }

    /// Whether libtest printed its summary (it ran everything it was going to).
    pub fn suite_finished(&self) -> bool {
        self.phase == Phase::Summary
    }

    /// Whether every test sent has a verdict.
    pub fn all_verdicts(&self) -> bool {
        self.tests.iter().all(|t| t.verdict.is_some())
    }

    /// Names sent that never got a verdict nor ran, in order.
    pub fn unfinished(&self) -> Vec<String> {
        self.tests
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.taken && t.verdict.is_none())
            .map(|(i, _)| self.order[i].clone())
            .collect()
    }

    /// What was written outside any test, without libtest's own lines.
    pub fn take_outside_output(&mut self) -> Vec<u8> {
        let bytes = std::mem::take(&mut self.outside).into_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let kept: String = text
            .split_inclusive('\n')
            .filter(|l| {
                let l = l.trim_end();
                !(l.is_empty()
                    || l == "warning: `--logfile` is deprecated"
                    || (l.starts_with("running ")
                        && (l.ends_with(" tests") || l.ends_with(" test"))))
            })
            .collect();
        kept.into_bytes()
    }
}

fn strip_one_newline(v: &mut Vec<u8>) {
    if v.last() == Some(&b'\n') {
        v.pop();
    }
}

/// The length of `test NAME ... ` (or `test NAME - should panic ... `) at the start of
/// `line`.
fn marker_len(line: &[u8], name: &str) -> usize {
    let plain = 5 + name.len();
    if line[plain..].starts_with(b" - should panic ... ") {
        plain + " - should panic ... ".len()
    } else {
        plain + " ... ".len()
    }
}

fn memchr_from(hay: &[u8], needle: u8, from: usize) -> Option<usize> {
    memchr::memchr(needle, &hay[from..]).map(|p| p + from)
}

/// The length of the complete lines at the start of `bytes` that only a test prints
/// (none blank, none `test ...` or `failures:`), which [`BatchParser::stream_line`]
/// would add to the current test's output one by one.
fn plain_lines(bytes: &[u8]) -> usize {
    let mut end = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let line = &bytes[end..=nl];
        if line == b"\n" || line.starts_with(b"test ") || line == b"failures:\n" {
            break;
        }
        end = nl + 1;
    }
    end
}

#[cfg(test)]
#[path = "libtest_log_tests.rs"]
mod tests;
