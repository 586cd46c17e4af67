//! What the user sees on stderr: a live progress bar on a terminal (done/total, failures,
//! running tests, ETA) or plain status lines elsewhere, then the final summary.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cargo::ColorChoice;
use crate::cli::OutputWhen;
use crate::report::{worker_name, Failure, Notice, RunEvent, RunRecord, TestOutcome, TestStatus};

#[derive(Clone, Copy, Debug)]
pub struct DisplayOptions {
    pub quiet: bool,
    pub verbose: bool,
    pub color: ColorChoice,
    pub success_output: OutputWhen,
    pub failure_output: OutputWhen,
    /// Show failures as they happen and list them at the end (off for `stress`, whose
    /// report says it all).
    pub show_failures: bool,
    /// The sum of the expected times of every test to run, when the duration history
    /// knows them all: the progress bar's ETA comes from it, and without it there is none
    /// (a rate of tests per second says little when tests differ by orders of magnitude).
    pub expected: Option<Duration>,
}

pub struct Display {
    opts: DisplayOptions,
    colors: bool,
    bar: Option<ProgressBar>,
    /// worker -> the test it is running (binary id and name), and its name alone.
    running: BTreeMap<usize, (String, String)>,
    failed: usize,
    workers: usize,
    /// The time finished tests took, against [`DisplayOptions::expected`].
    done: Duration,
    /// Each event's text is written before the next event is handled, so a CI log shows
    /// every line as it happens, in order with the warnings written straight to stderr;
    /// but passing tests' lines wait in `pending` (up to [`PASS_LINES_WAIT`]), so a
    /// burst of thousands of tests a second costs a few writes, not one per test.
    out: std::io::Stderr,
    pending: String,
    pending_since: Option<std::time::Instant>,
}

/// The longest a passing test's line waits to be written with others.
const PASS_LINES_WAIT: Duration = Duration::from_millis(100);

const PASS: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();
const FAIL: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const SKIP: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)))
    .bold();
const BOLD: Style = Style::new().bold();

impl Display {
    pub fn new(opts: DisplayOptions) -> Self {
        let tty = std::io::stderr().is_terminal();
        let colors = match opts.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
        };
        Display {
            opts,
            colors,
            bar: tty.then(ProgressBar::hidden),
            running: BTreeMap::new(),
            failed: 0,
            workers: 1,
            done: Duration::ZERO,
            out: std::io::stderr(),
            pending: String::new(),
            pending_since: None,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.colors {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// A right-aligned status word, padded before it is painted so escapes do not count.
    fn label(&self, style: Style, word: &str) -> String {
        self.paint(style, &format!("{word:>12}"))
    }

    /// Writes lines above the progress bar (or plainly, without one).
    fn emit(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
            }),
            None => {
                self.pending.push_str(text);
                let since = *self
                    .pending_since
                    .get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= PASS_LINES_WAIT {
                    self.flush_pending();
                }
            }
        }
    }

    fn flush_pending(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.out.write_all(self.pending.as_bytes());
            self.pending.clear();
        }
        self.pending_since = None;
    }

    pub fn handle(&mut self, event: &RunEvent) {
        self.handle_event(event);
        let routine = matches!(event, RunEvent::TestFinished(o)
            if matches!(o.status, TestStatus::Passed | TestStatus::Ignored));
        if !routine {
            self.flush_pending();
        }
    }

    fn handle_event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted {
                to_run,
                workers,
                filtered_out,
                opaque,
                ..
            } => self.run_started(*to_run, *workers, *filtered_out, opaque),
            RunEvent::TestStarted {
                binary_id,
                name,
                worker,
            } => {
                let shown = format!("{binary_id} {name}");
                self.running.insert(*worker, (shown, name.clone()));
                self.update_bar();
            }
            RunEvent::TestSlow {
                binary_id,
                name,
                worker,
                elapsed,
            } => {
                let line = format!(
                    "{} [>{:>8.3}s] {:>4} {} {}\n",
                    self.label(SKIP, "SLOW"),
                    elapsed.as_secs_f64(),
                    worker_name(*worker),
                    self.paint(BOLD, binary_id.as_str()),
                    name
                );
                self.emit(&line);
            }
            RunEvent::TestFinished(outcome) => self.finished(outcome),
            RunEvent::TestRetrying {
                outcome,
                attempt,
                delay,
            } => {
                let mut text = self.status_line_for(outcome, Some(*attempt));
                text += &format!("{:>12}   retrying in {:.3}s\n", "", delay.as_secs_f64());
                self.emit(&text);
            }
            RunEvent::ProcessNotice {
                binary_id,
                worker,
                test,
                notice,
            } => self.process_notice(binary_id.as_str(), *worker, test.as_deref(), notice),
            RunEvent::RunFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            other => {
                let text = self.run_notice(other);
                self.emit(&text);
            }
        }
    }

    /// The lines that open the run, and the progress bar.
    fn run_started(
        &mut self,
        to_run: usize,
        workers: usize,
        filtered_out: usize,
        opaque: &[(crate::discover::BinaryId, String)],
    ) {
        self.workers = workers;
        let mut text = format!(
            "{} {} on {} ({filtered_out} filtered out)\n",
            self.label(BOLD, "Starting"),
            plural(to_run, "test"),
            plural(workers, "worker")
        );
        for (id, reason) in opaque {
            text += &format!(
                "{} {id} runs as one test: it does not list its tests as libtest does\n",
                self.label(SKIP, "Opaque")
            );
            if self.opts.verbose {
                text += &format!("{reason}\n");
            }
        }
        self.emit(&text);
        if let Some(bar) = &self.bar {
            bar.set_length(to_run as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.bold} [{elapsed_precise}] {bar:25} {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix("Running");
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    fn process_notice(
        &mut self,
        binary_id: &str,
        worker: usize,
        test: Option<&str>,
        notice: &Notice,
    ) {
        let label = match notice {
            Notice::SlowExit { .. } => "SLOW EXIT",
            Notice::LeakedPipe { .. } | Notice::Ended { .. } => "LEAK",
        };
        let text = format!(
            "{} {:>4} {} {}: {}\n",
            self.label(SKIP, label),
            worker_name(worker),
            self.paint(BOLD, binary_id),
            test.unwrap_or("(its test process)"),
            notice.message()
        );
        self.emit(&text);
    }

    /// The line of an event about the run rather than one test.
    fn run_notice(&self, event: &RunEvent) -> String {
        match event {
            RunEvent::BinaryBroken { binary_id, reason } => format!(
                "{} {}: its tests cannot run: {reason}\n",
                self.label(FAIL, "ERROR"),
                self.paint(BOLD, binary_id.as_str())
            ),
            RunEvent::TooManyCrashes { binary_id, crashes } => format!(
                "{} test processes of {binary_id} crashed {}: stopping the run \
                 (--max-worker-restart)\n",
                self.label(FAIL, "ERROR"),
                plural(*crashes, "time"),
            ),
            RunEvent::LeftoversEnded { processes } => {
                let notice = Notice::Ended {
                    processes: processes.clone(),
                };
                format!("{} {}\n", self.label(SKIP, "LEAK"), notice.message())
            }
            RunEvent::Stopping { signal } => format!(
                "{} received: stopping; again to kill the running tests at once\n",
                crate::process::os::signal_name(*signal)
            ),
            RunEvent::TmpKept { dir } => format!(
                "note: kept the run's temporary directories at {}\n",
                dir.display()
            ),
            _ => String::new(),
        }
    }

    fn update_bar(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(self.bar_message());
        }
    }

    /// What the progress bar says after its counts: the ETA when the history allows one,
    /// failures so far, and the tests running now with their binary ids.
    fn bar_message(&self) -> String {
        let running: Vec<&str> = self.running.values().map(|(s, _)| s.as_str()).collect();
        let mut msg = String::new();
        if let Some(eta) = self.eta() {
            msg += &format!("ETA {} | ", humantime::format_duration(eta));
        }
        msg += &format!("{} failed | {}", self.failed, running.join(", "));
        msg
    }

    /// The expected time left over the workers, to the second; none when the history
    /// does not know every test, or when the tests have already run past what was
    /// expected.
    fn eta(&self) -> Option<Duration> {
        let left = self.opts.expected?.checked_sub(self.done)?;
        let secs = (left.as_secs_f64() / self.workers.max(1) as f64).ceil();
        (secs >= 1.0).then(|| Duration::from_secs(secs as u64))
    }

    fn finished(&mut self, o: &TestOutcome) {
        if let Some(w) = o.worker {
            if self.running.get(&w).is_some_and(|(_, n)| *n == o.name) {
                self.running.remove(&w);
            }
            self.done += o.duration;
        }
        let counts_for_progress = !matches!(o.status, TestStatus::Ignored | TestStatus::NotRun(_));
        if let (Some(bar), true) = (&self.bar, counts_for_progress) {
            bar.inc(1);
        }
        let (show_line, show_output) = match &o.status {
            TestStatus::Passed => (!self.opts.quiet, self.opts.success_output.immediate()),
            TestStatus::Failed(f) => {
                self.failed += 1;
                // A binary that cannot start was reported once, for all its tests.
                let show = self.opts.show_failures && *f != Failure::BinaryBroken;
                (show, show && self.opts.failure_output.immediate())
            }
            // A suite left out because a suite it depends on did not pass is said.
            TestStatus::NotRun(_) if o.binary_id.is_suite() => (true, false),
            TestStatus::Ignored | TestStatus::NotRun(_) => (self.opts.verbose, false),
        };
        self.update_bar();
        let mut text = String::new();
        if show_line {
            text += &self.status_line(o);
        }
        if show_output {
            text += &self.output_block(o);
        }
        if !text.is_empty() {
            self.emit(&text);
        }
    }

    fn status_line(&self, o: &TestOutcome) -> String {
        self.status_line_for(o, None)
    }

    /// The status line, its word after `TRY N` for an attempt that will be retried.
    fn status_line_for(&self, o: &TestOutcome, attempt: Option<usize>) -> String {
        let (word, style) = match &o.status {
            TestStatus::Passed if o.is_flaky() => ("FLAKY", SKIP),
            TestStatus::Passed => ("PASS", PASS),
            TestStatus::Failed(Failure::TimedOut { .. }) => ("TIMEOUT", FAIL),
            TestStatus::Failed(Failure::Interrupted { name, .. }) => (name.as_str(), FAIL),
            TestStatus::Failed(_) => ("FAIL", FAIL),
            TestStatus::Ignored => ("SKIP", SKIP),
            TestStatus::NotRun(_) => ("NOT RUN", SKIP),
        };
        let (word, style) = match attempt {
            Some(n) => (format!("TRY {n} {word}"), SKIP),
            None => (word.to_owned(), style),
        };
        let word = word.as_str();
        let worker = o.worker.map(worker_name).unwrap_or_default();
        let mut line = format!(
            "{} [{:>9.3}s] {:>4} {}{}\n",
            self.label(style, word),
            o.duration.as_secs_f64(),
            worker,
            self.paint(BOLD, o.binary_id.as_str()),
            o.name_after_id()
        );
        match &o.status {
            TestStatus::Failed(Failure::OpaqueExit { status }) if o.binary_id.is_suite() => {
                line += &format!("{:>12}   command failed with {status}\n", "");
            }
            TestStatus::Failed(f) => line += &format!("{:>12}   {}\n", "", f.message()),
            TestStatus::NotRun(why) if o.binary_id.is_suite() => {
                line += &format!("{:>12}   {why}\n", "");
            }
            _ => {}
        }
        line
    }

    fn output_block(&self, o: &TestOutcome) -> String {
        let style = if o.status.is_failure() { FAIL } else { PASS };
        let header = format!("--- OUTPUT: {}{} ---", o.binary_id, o.name_after_id());
        let mut text = format!("\n{}\n{}", self.paint(style, &header), o.output);
        if !o.output.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text
    }

    /// The final summary: counts, wall time, sum of test times, speedup, and failures.
    pub fn finish(&mut self, record: &RunRecord) {
        let mut text = self.output_blocks(record);
        text += "------------\n";
        text += &self.summary_line(record);
        text += &format!("{:>12}  {}\n", "", times_line(record));
        for (id, _) in &record.opaque {
            text += &format!(
                "{:>12}  {id} ran as one opaque test (not a libtest binary)\n",
                ""
            );
        }
        text += &self.failure_lines(record);
        let ended = record.processes_ended();
        if ended > 0 {
            text += &format!(
                "{}  ended {} that tests left running (see the LEAK lines)\n",
                self.label(SKIP, "Leaked"),
                if ended == 1 {
                    "1 process".to_owned()
                } else {
                    format!("{ended} processes")
                }
            );
        }
        // Why tests were left unrun, when some were.
        if let (Some(why), true) = (&record.cancelled, record.not_run() > 0) {
            text += &format!("{}  {why}\n", self.label(FAIL, "Cancelled"));
        }
        self.emit(&text);
        self.flush_pending();
        let _ = self.out.flush();
    }

    /// The output shown at the end (`--success-output final`, `--failure-output final`).
    fn output_blocks(&self, record: &RunRecord) -> String {
        let mut text = String::new();
        if self.opts.success_output.at_end() {
            for o in record
                .outcomes
                .iter()
                .filter(|o| o.status == TestStatus::Passed)
            {
                text += &self.output_block(o);
            }
        }
        if self.opts.failure_output.at_end() {
            for o in record.failures() {
                text += &self.output_block(o);
            }
        }
        text
    }

    /// `Summary [   1.234s] N tests run: ...`.
    fn summary_line(&self, record: &RunRecord) -> String {
        let mut counts = format!(
            "{} run: {} passed, {} failed, {} ignored",
            plural(record.ran(), "test"),
            record.passed(),
            record.failed(),
            record.ignored()
        );
        if record.flaky() > 0 {
            counts += &format!(", {} flaky", record.flaky());
        }
        if record.not_run() > 0 {
            counts += &format!(", {} not run", record.not_run());
        }
        if record.filtered_out > 0 {
            counts += &format!(", {} filtered out", record.filtered_out);
        }
        let style = if record.failed() > 0 { FAIL } else { PASS };
        format!(
            "{} [{:>9.3}s] {}\n",
            self.label(style, "Summary"),
            record.wall.as_secs_f64(),
            counts
        )
    }

    /// The failed tests again, the binaries that could not start, the flaky tests.
    fn failure_lines(&self, record: &RunRecord) -> String {
        let mut text = String::new();
        let listed = record.failures().filter(|o| {
            self.opts.show_failures && o.status != TestStatus::Failed(Failure::BinaryBroken)
        });
        for o in listed {
            text += &self.status_line(o);
        }
        for (id, reason) in &record.broken {
            let n = record
                .outcomes
                .iter()
                .filter(|o| {
                    o.binary_id == *id && o.status == TestStatus::Failed(Failure::BinaryBroken)
                })
                .count();
            let first = reason.lines().next().unwrap_or_default();
            text += &format!(
                "{} {} ({}): could not start: {first}\n",
                self.label(FAIL, "ERROR"),
                self.paint(BOLD, id.as_str()),
                plural(n, "test")
            );
        }
        for o in record.outcomes.iter().filter(|o| o.is_flaky()) {
            text += &self.status_line(o);
            text += &format!("{:>12}   passed on attempt {}\n", "", o.previous.len() + 1);
        }
        text
    }
}

/// The summary's second line: the sum of test times and, when that sum is large enough
/// for the ratio to mean something, the speedup (sum / wall time). On a suite of
/// millisecond tests the wall time is mostly process starts, and "0.02x speedup" would
/// read as a slowdown that parallelism caused.
fn times_line(record: &RunRecord) -> String {
    let sum = record.test_time_sum();
    let workers = plural(record.workers, "worker");
    if sum >= Duration::from_secs(1) || (sum >= record.wall && !sum.is_zero()) {
        format!(
            "sum of test times {:.3}s, {:.2}x speedup on {workers}",
            sum.as_secs_f64(),
            record.speedup()
        )
    } else {
        format!("sum of test times {:.3}s on {workers}", sum.as_secs_f64())
    }
}

/// `1 worker`, `2 workers`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The display as the runner's reporter: made once the run is planned (its ETA comes
/// from the plan), and silent when there is nothing to run.
pub struct Terminal {
    opts: DisplayOptions,
    display: Option<Display>,
}

impl Terminal {
    pub fn new(opts: DisplayOptions) -> Self {
        Terminal {
            opts,
            display: None,
        }
    }

    /// The summary, once the run is over (nothing when nothing was shown).
    pub fn finish(&mut self, record: &RunRecord) {
        if let Some(d) = &mut self.display {
            d.finish(record);
        }
    }
}

impl xpar_runner::session::Reporter for Terminal {
    fn planned(&mut self, show: bool, expected: Option<Duration>) {
        if show {
            self.display = Some(Display::new(DisplayOptions {
                expected,
                ..self.opts
            }));
        }
    }

    fn event(&mut self, event: &RunEvent) {
        if let Some(d) = &mut self.display {
            d.handle(event);
        }
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn note(&mut self, label: &str, message: &str) {
        eprintln!("{label:>12} {message}");
    }

    fn plan_finished(&mut self, record: &RunRecord) {
        self.finish(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{BinaryId, BinaryKind};

    fn id(name: &str) -> BinaryId {
        crate::discover::binary_id(name, BinaryKind::Lib, name)
    }

    fn started(bin: &str, name: &str, worker: usize) -> RunEvent {
        RunEvent::TestStarted {
            binary_id: id(bin),
            name: name.into(),
            worker,
        }
    }

    fn finished(bin: &str, name: &str, worker: usize, secs: u64, pass: bool) -> RunEvent {
        RunEvent::TestFinished(TestOutcome {
            binary_id: id(bin),
            name: name.into(),
            status: if pass {
                TestStatus::Passed
            } else {
                TestStatus::Failed(Failure::Failed)
            },
            duration: Duration::from_secs(secs),
            output: String::new(),
            worker: Some(worker),
            started: Some(Duration::ZERO),
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        })
    }

    /// The progress bar's message through a recorded run: the ETA from the history's
    /// expected times over the workers, gone once the tests outrun it; the running tests
    /// with their binary ids.
    fn messages(expected: Option<Duration>) -> String {
        let mut d = Display::new(DisplayOptions {
            quiet: true,
            verbose: false,
            color: ColorChoice::Never,
            success_output: OutputWhen::Never,
            failure_output: OutputWhen::Never,
            show_failures: false,
            expected,
        });
        let events = [
            RunEvent::RunStarted {
                to_run: 4,
                workers: 2,
                filtered_out: 0,
                opaque: Vec::new(),
                run_id: None,
            },
            started("alpha", "tests::slow", 0),
            started("beta", "it::quick", 1),
            finished("beta", "it::quick", 1, 2, true),
            started("beta", "it::fails", 1),
            finished("beta", "it::fails", 1, 4, false),
            started("beta", "it::last", 1),
            finished("alpha", "tests::slow", 0, 30, true),
            finished("beta", "it::last", 1, 1, true),
        ];
        let mut out = String::new();
        for e in &events {
            d.handle_event(e);
            out += &d.bar_message();
            out.push('\n');
        }
        out
    }

    #[test]
    fn progress_message_of_a_recorded_run() {
        insta::assert_snapshot!(messages(Some(Duration::from_secs(40))), @r"
        ETA 20s | 0 failed | 
        ETA 20s | 0 failed | alpha tests::slow
        ETA 20s | 0 failed | alpha tests::slow, beta it::quick
        ETA 19s | 0 failed | alpha tests::slow
        ETA 19s | 0 failed | alpha tests::slow, beta it::fails
        ETA 17s | 1 failed | alpha tests::slow
        ETA 17s | 1 failed | alpha tests::slow, beta it::last
        ETA 2s | 1 failed | beta it::last
        ETA 2s | 1 failed | 
        ");
        // Without a history that knows every test, no ETA at all.
        assert!(!messages(None).contains("ETA"));
    }
}
