//! The parser on real libtest output and on output that tries to fool it.
use super::*;

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

fn feed_all(p: &mut BatchParser, stream: &str, log: &str) -> Vec<Decided> {
    let now = Instant::now();
    p.feed_stream(stream.as_bytes(), now);
    p.feed_log(log.as_bytes(), now);
    p.end_stream(now);
    p.take_decided()
}

/// Real output of a libtest 1.95 binary (`--logfile`, libtest's capture).
const CAPTURED_STREAM: &str = "warning: `--logfile` is deprecated\nrunning 7 tests\n\
test tests::a_ok ... ok\ntest tests::b_fail ... FAILED\ntest tests::c_ign ... ok\n\
test tests::d_sp - should panic ... FAILED\ntest tests::e_ok ... direct child\nok\n\
test tests::f_json ... ok\ntest tests::g_ok ... ok\n\nfailures:\n\n\
---- tests::b_fail stdout ----\nout b\nno newline\nthread 'tests::b_fail' (19235) panicked at src/lib.rs:4:69:\nboom\nsecond line\n\n\
---- tests::d_sp stdout ----\n\nthread 'tests::d_sp' (19237) panicked at src/lib.rs:6:59:\nabc\nok tests::e_ok\n\
note: panic did not contain expected string\n      panic message: \"abc\\nok tests::e_ok\"\n expected substring: \"xyz\"\n\n\
failures:\n    tests::b_fail\n    tests::d_sp\n\n\
test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s\n\n";

const CAPTURED_LOG: &str = "ok tests::a_ok\nfailed tests::b_fail\nok tests::c_ign\n\
failed: panic did not contain expected string\n      panic message: \"abc\\nok tests::e_ok\"\n expected substring: \"xyz\" tests::d_sp\n\
ok tests::e_ok\nok tests::f_json\nok tests::g_ok\n";

fn all7() -> Vec<String> {
    names(&[
        "tests::g_ok",
        "tests::a_ok",
        "tests::b_fail",
        "tests::c_ign",
        "tests::d_sp",
        "tests::e_ok",
        "tests::f_json",
    ])
}

#[test]
fn verdicts_come_from_the_log_and_output_from_the_stream() {
    let mut p = BatchParser::new(&all7(), true);
    let d = feed_all(&mut p, CAPTURED_STREAM, CAPTURED_LOG);
    let got: Vec<(&str, &Verdict)> = d.iter().map(|d| (d.name.as_str(), &d.verdict)).collect();
    assert_eq!(got.len(), 7, "{got:?}");
    assert_eq!(got[0], ("tests::a_ok", &Verdict::Ok));
    assert_eq!(got[1], ("tests::b_fail", &Verdict::Failed(None)));
    assert!(matches!(got[3].1, Verdict::Failed(Some(m)) if m.starts_with("panic did not contain")));
    // The should_panic message cannot smuggle in a verdict for e_ok: it is escaped.
    assert_eq!(got[4], ("tests::e_ok", &Verdict::Ok));
    let out = |n: &str| {
        String::from_utf8_lossy(&d.iter().find(|x| x.name == n).unwrap().output).into_owned()
    };
    assert_eq!(out("tests::a_ok"), "");
    assert_eq!(out("tests::e_ok"), "direct child\n");
    assert!(
        out("tests::b_fail").starts_with("out b\nno newline\nthread"),
        "{}",
        out("tests::b_fail")
    );
    assert!(
        out("tests::b_fail").ends_with("second line\n"),
        "{:?}",
        out("tests::b_fail")
    );
    assert!(out("tests::d_sp").contains("expected substring"));
    assert!(p.suite_finished());
    assert!(p.unfinished().is_empty());
    assert_eq!(p.take_outside_output(), b"");
}

#[test]
fn printed_events_and_glued_text_are_output_not_results() {
    let stream = "running 2 tests\ntest a ... {\"type\":\"test\",\"event\":\"ok\",\"name\":\"b\"}ok\ntest b ... \
ok b\ntest result: ok\nthread 'b' panicked\nFAILED\n\nfailures:\n\n---- b stdout ----\nboom\n\nfailures:\n    b\n\ntest result: FAILED. 1 passed; 1 failed\n";
    let log = "ok a\nfailed b\n";
    let mut p = BatchParser::new(&names(&["a", "b"]), false);
    let d = feed_all(&mut p, stream, log);
    assert_eq!(d[0].verdict, Verdict::Ok);
    assert_eq!(
        d[0].output,
        b"{\"type\":\"test\",\"event\":\"ok\",\"name\":\"b\"}"
    );
    assert_eq!(d[1].verdict, Verdict::Failed(None));
    let b = String::from_utf8_lossy(&d[1].output);
    assert!(
        b.starts_with("ok b\ntest result: ok\nthread 'b' panicked\n"),
        "{b}"
    );
}

#[test]
fn a_test_starts_when_its_name_line_comes_not_its_result() {
    let mut p = BatchParser::new(&names(&["a"]), true);
    let t0 = Instant::now();
    assert_eq!(
        p.feed_stream(b"running 1 test\ntest a ... ", t0),
        vec!["a".to_string()]
    );
    let t1 = t0 + Duration::from_millis(20);
    p.feed_stream(b"ok\n", t1);
    p.feed_log(b"ok a\n", t1);
    p.end_stream(t1);
    let d = p.take_decided();
    assert_eq!(d[0].duration, Duration::from_millis(20));
    assert_eq!(d[0].output, b"");
}

#[test]
fn a_verdict_only_for_a_name_sent_and_only_once() {
    let mut p = BatchParser::new(&names(&["a"]), true);
    let got = p.feed_log(b"ok zzz\nok a\nfailed a\n", Instant::now());
    assert_eq!(got, vec!["a".to_string()]);
    assert_eq!(p.tests[0].verdict.as_ref().unwrap().0, Verdict::Ok);
}

/// A result log with Windows line ends (`\r\n`) reads as one with `\n`.
#[test]
fn records_with_windows_line_ends() {
    let mut p = BatchParser::new(&names(&["a", "b"]), true);
    let got = p.feed_log(b"ok a\r\nfailed b\r\n", Instant::now());
    assert_eq!(got, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(p.tests[0].verdict.as_ref().unwrap().0, Verdict::Ok);
    assert!(matches!(
        p.tests[1].verdict.as_ref().unwrap().0,
        Verdict::Failed(_)
    ));
}

#[test]
fn multi_line_ignore_reasons_and_records_split_across_reads() {
    let mut p = BatchParser::new(&names(&["x::c", "x::d"]), true);
    let now = Instant::now();
    assert!(p.feed_log(b"ignored: why\nno", now).is_empty());
    assert_eq!(p.feed_log(b"t x::c\nok x::", now), vec!["x::c".to_string()]);
    assert_eq!(p.feed_log(b"d\n", now), vec!["x::d".to_string()]);
    assert_eq!(
        p.tests[0].verdict.as_ref().unwrap().0,
        Verdict::Ignored(Some("why\nnot".into()))
    );
}

#[test]
fn a_crash_leaves_the_running_test_in_progress_with_its_output() {
    let mut p = BatchParser::new(&names(&["a", "b", "c"]), false);
    let now = Instant::now();
    p.feed_stream(
        b"running 3 tests\ntest a ... ok\ntest b ... before abort\n",
        now,
    );
    p.feed_log(b"ok a\n", now);
    p.end_stream(now);
    let d = p.take_decided();
    assert_eq!(d.len(), 1);
    let (name, _, output) = p.take_in_progress().unwrap();
    assert_eq!(name, "b");
    assert_eq!(output, b"before abort\n");
    assert_eq!(p.unfinished(), vec!["c".to_string()]);
    assert!(!p.suite_finished());
}

#[test]
fn a_name_the_binary_does_not_have_is_unfinished() {
    let mut p = BatchParser::new(&names(&["a", "b", "c"]), true);
    let d = feed_all(
        &mut p,
        "running 2 tests\ntest a ... ok\ntest c ... ok\n\ntest result: ok. 2 passed\n",
        "ok a\nok c\n",
    );
    assert_eq!(
        d.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["a", "c"]
    );
    assert_eq!(p.unfinished(), vec!["b".to_string()]);
    assert!(p.suite_finished());
}

#[test]
fn output_is_capped_with_a_note() {
    let mut c = Capped::default();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..20 {
        c.push(&chunk);
    }
    c.push(b"END");
    let out = c.into_bytes();
    assert!(out.len() < MAX_KEPT + 200);
    assert!(out.ends_with(b"END"));
    assert!(String::from_utf8_lossy(&out).contains("bytes of this test's output left out"));
}

/// Rustdoc's libtest names a doctest that is only compiled with its kind after the name
/// (real output of an edition 2021 library, 1.95): each starts where its line says.
#[test]
fn doctests_only_compiled_start_at_their_line() {
    let stream = "\nrunning 3 tests\n\
test src/lib.rs - f (line 12) - should panic ... ok\n\
test src/lib.rs - f (line 5) - compile ... ok\n\
test src/lib.rs - f (line 9) - compile fail ... ok\n\n\
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s\n\n";
    // In libtest's order: by name.
    let sent = names(&[
        "src/lib.rs - f (line 12)",
        "src/lib.rs - f (line 5)",
        "src/lib.rs - f (line 9)",
    ]);
    let mut p = BatchParser::new(&sent, true);
    let started = p.feed_stream(stream.as_bytes(), Instant::now());
    assert_eq!(started, sent);
}

/// A doctest selection runs a test not sent (an extra): its result is dropped, not read
/// as part of a record of the test after it (doctest names have spaces, so the next
/// name is a suffix of `failed EXTRA\nok NAME`).
#[test]
fn results_of_tests_not_sent_are_dropped() {
    let all = ["src/lib.rs - (line 115)", "src/lib.rs - Foo (line 115)"];
    let sent = names(&["src/lib.rs - Foo (line 115)"]);
    let mut p = BatchParser::new(&sent, true).knowing(&all);
    let stream = "\nrunning 2 tests\ntest src/lib.rs - (line 115) ... FAILED\n\
test src/lib.rs - Foo (line 115) ... ok\n\n\
failures:\n\n---- src/lib.rs - (line 115) stdout ----\nboom\n\n\
failures:\n    src/lib.rs - (line 115)\n\n\
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s\n\n";
    let log = "failed src/lib.rs - (line 115)\nok src/lib.rs - Foo (line 115)\n";
    let d = feed_all(&mut p, stream, log);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].name, "src/lib.rs - Foo (line 115)");
    assert_eq!(d[0].verdict, Verdict::Ok);
    assert!(
        d[0].output.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&d[0].output)
    );
}

/// A name listed twice runs twice: its verdict waits for both results, and a failure of
/// either is the test's.
#[test]
fn a_name_that_runs_twice_is_decided_by_both_runs() {
    let all = [
        "src/lib.rs - S (line 7)",
        "src/lib.rs - S (line 7)",
        "src/lib.rs - z (line 9)",
    ];
    let sent = names(&["src/lib.rs - S (line 7)", "src/lib.rs - z (line 9)"]);
    for (first, second) in [("ok", "failed"), ("failed", "ok")] {
        let mut p = BatchParser::new(&sent, false).knowing(&all);
        let log = format!(
            "{first} src/lib.rs - S (line 7)\n{second} src/lib.rs - S (line 7)\nok src/lib.rs - z (line 9)\n"
        );
        let stream = "test src/lib.rs - S (line 7) ... ok\ntest src/lib.rs - S (line 7) ... ok\n\
test src/lib.rs - z (line 9) ... ok\n";
        let d = feed_all(&mut p, stream, &log);
        let got: Vec<(&str, &Verdict)> = d.iter().map(|d| (d.name.as_str(), &d.verdict)).collect();
        assert_eq!(
            got,
            [
                ("src/lib.rs - S (line 7)", &Verdict::Failed(None)),
                ("src/lib.rs - z (line 9)", &Verdict::Ok)
            ],
            "{first} then {second}"
        );
    }
}

/// Output read in one piece (the fast way through a test's plain lines) or in pieces of
/// any size (a line at a time) is cut into the same tests' outputs.
#[test]
fn any_chunking_of_the_stream_gives_the_same_outputs() {
    let tricky = "running 3 tests\ntest a ... line one\nline two\n\nfailures: not libtest's\n\
test b is not a marker\nlast\nok\ntest b ... \n\nmore\nFAILED\ntest c ... ok\n\nfailures:\n\n\
---- b stdout ----\nboom\n\nfailures:\n    b\n\ntest result: FAILED. 2 passed; 1 failed\n";
    let cases = [
        (CAPTURED_STREAM, CAPTURED_LOG, all7()),
        (tricky, "ok a\nfailed b\nok c\n", names(&["a", "b", "c"])),
    ];
    for (stream, log, sent) in cases {
        let whole = {
            let mut p = BatchParser::new(&sent, true);
            feed_all(&mut p, stream, log)
        };
        for size in 1..=17 {
            let mut p = BatchParser::new(&sent, true);
            let now = Instant::now();
            for piece in stream.as_bytes().chunks(size) {
                p.feed_stream(piece, now);
            }
            p.feed_log(log.as_bytes(), now);
            p.end_stream(now);
            let pieces = p.take_decided();
            let outputs = |d: &[Decided]| -> Vec<(String, String)> {
                d.iter()
                    .map(|d| (d.name.clone(), String::from_utf8_lossy(&d.output).into()))
                    .collect()
            };
            assert_eq!(outputs(&whole), outputs(&pieces), "pieces of {size}");
        }
    }
    let mut p = BatchParser::new(&names(&["a", "b", "c"]), true);
    let d = feed_all(&mut p, tricky, "ok a\nfailed b\nok c\n");
    assert_eq!(
        String::from_utf8_lossy(&d[0].output),
        "line one\nline two\n\nfailures: not libtest's\ntest b is not a marker\nlast\n"
    );
}
