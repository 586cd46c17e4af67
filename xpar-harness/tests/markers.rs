//! The macros end to end: marked tests in every position compile, keep their signatures,
//! run under their locks, and are all reported by the marker query under libtest's names.

use std::future::Future;
use std::pin::pin;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use xpar_harness::{group, parallel_safe, resource_intensive, serial};
use xpar_protocol::{MarkerReport, Serial, TestMarkers};

#[serial]
#[test]
fn serial_above_test() {}

#[test]
#[serial(db)]
fn serial_below_test() {}

#[serial(fs, db)]
#[group("g1")]
#[test]
fn stacked_serial_and_group() {}

#[test]
#[xpar_harness::group("g1")]
#[xpar_harness::resource_intensive(slots = 3)]
fn stacked_by_path_below_test() {}

#[resource_intensive]
#[test]
fn default_slots() {}

#[parallel_safe]
#[test]
fn returns_result() -> Result<(), String> {
    #![allow(clippy::unnecessary_wraps)]
    let n: i32 = "7".parse().map_err(|e| format!("{e}"))?;
    if n == 7 {
        return Ok(());
    }
    Err("unreachable".into())
}

mod outer {
    pub mod inner {
        use xpar_harness::parallel_safe;

        #[parallel_safe]
        #[test]
        fn nested() {}
    }
}

/// An async body marked above where a test attribute such as `#[tokio::test]` would go:
/// the guard is held across `.await` and the future stays `Send`.
#[serial(async_key)]
async fn async_body(n: u32) -> u32 {
    std::future::ready(()).await;
    n + 1
}

#[test]
fn async_bodies_keep_their_signature_and_stay_send() {
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    assert_eq!(block_on(assert_send(async_body(1))), 2);
}

/// Just enough executor to poll a future to completion on this thread.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn expected() -> Vec<TestMarkers> {
    let t = |name: &str| TestMarkers {
        name: name.into(),
        ..Default::default()
    };
    vec![
        TestMarkers {
            serial: Serial::Keys(vec!["async_key".into()]),
            ..t("async_body")
        },
        TestMarkers {
            resource_slots: Some(xpar_protocol::DEFAULT_RESOURCE_SLOTS),
            ..t("default_slots")
        },
        TestMarkers {
            parallel_safe: true,
            ..t("outer::inner::nested")
        },
        TestMarkers {
            parallel_safe: true,
            ..t("returns_result")
        },
        TestMarkers {
            serial: Serial::All,
            ..t("serial_above_test")
        },
        TestMarkers {
            serial: Serial::Keys(vec!["db".into()]),
            ..t("serial_below_test")
        },
        TestMarkers {
            group: Some("g1".into()),
            resource_slots: Some(3),
            ..t("stacked_by_path_below_test")
        },
        TestMarkers {
            serial: Serial::Keys(vec!["db".into(), "fs".into()]),
            group: Some("g1".into()),
            ..t("stacked_serial_and_group")
        },
    ]
}

#[test]
fn the_marker_query_reports_every_marked_test_and_still_lists() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse"])
        .env(xpar_protocol::env::MARKER_QUERY, &report_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    let report = MarkerReport::from_json(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report.tests, expected());
    // Every reported name that is a test is one libtest lists under the same name.
    for test in report.tests.iter().filter(|t| t.name != "async_body") {
        assert!(
            listed.contains(&format!("{}: test", test.name)),
            "{} not in {listed}",
            test.name
        );
    }
    // Nothing left behind besides the report (the temp file was renamed, not copied).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn without_the_query_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse"])
        .env_remove(xpar_protocol::env::MARKER_QUERY)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("serial_above_test: test"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_unwritable_report_fails_the_listing_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("report.json");
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--list")
        .env(xpar_protocol::env::MARKER_QUERY, &path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
}
