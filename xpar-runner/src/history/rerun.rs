//! `--last-failed` and `--failed-first`, pytest's `--lf` and `--ff`: the tests that
//! failed in the last recorded run, found among the tests selected now. With
//! `--last-failed` only they run; when there are none to run, every selected test runs,
//! and the run says why.

use std::collections::{HashMap, HashSet};

use super::db::LastRun;
use crate::discover::TestList;
use crate::ids::TestKey;
use crate::plan::{Selection, UnitTests};

/// What a run does with the last run's failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rerun {
    /// `--last-failed`: run only them.
    LastFailed,
    /// `--failed-first`: run them first, then the rest.
    FailedFirst,
}

impl Rerun {
    pub fn flag(self) -> &'static str {
        match self {
            Rerun::LastFailed => "--last-failed",
            Rerun::FailedFirst => "--failed-first",
        }
    }
}

/// The last run's failures among the tests of `selection`, for the planner to put first;
/// under `--last-failed`, `selection` keeps only them (when there are any). Also what to
/// tell the user about it.
pub fn failed_tests(
    how: Rerun,
    last: Option<&LastRun>,
    list: &TestList,
    selection: &mut Selection,
) -> (HashSet<TestKey>, String) {
    let flag = how.flag();
    let Some(last) = last else {
        return (
            HashSet::new(),
            format!("no run recorded yet: running every selected test ({flag})"),
        );
    };
    let run = &last.run_id;
    if last.failed.is_empty() {
        return (
            HashSet::new(),
            format!("no test failed in run {run}: running every selected test ({flag})"),
        );
    }
    let mut failed: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (binary, name) in &last.failed {
        failed.entry(binary).or_default().insert(name);
    }
    let is_failed = |b: usize, name: &str| {
        failed
            .get(list.binaries[b].binary.id.as_str())
            .is_some_and(|names| names.contains(name))
    };
    let mut keys = HashSet::new();
    for u in &selection.units {
        match &u.tests {
            UnitTests::Named(names) => keys.extend(
                (names.iter())
                    .filter(|n| is_failed(u.binary, n))
                    .map(|n| TestKey::new(u.binary, n.clone())),
            ),
            UnitTests::Opaque => {
                let id = list.binaries[u.binary].binary.id.as_str();
                if is_failed(u.binary, id) {
                    keys.insert(TestKey::new(u.binary, id));
                }
            }
        }
    }
    let (n, total) = (keys.len(), last.failed.len());
    if keys.is_empty() {
        let which = if total == 1 {
            "the test that failed".to_owned()
        } else {
            format!("the {total} tests that failed")
        };
        return (
            keys,
            format!("{which} in run {run} not selected: running every selected test ({flag})"),
        );
    }
    let (tests, verb) = if n == 1 {
        ("the test".to_owned(), "runs")
    } else {
        (format!("the {n} tests"), "run")
    };
    let of = if n < total {
        format!(" ({} more not selected)", total - n)
    } else {
        String::new()
    };
    let note = match how {
        Rerun::LastFailed => {
            selection.retain(list, |b, name| keys.contains(&TestKey::new(b, name)));
            format!("running {tests} that failed in run {run}{of} ({flag})")
        }
        Rerun::FailedFirst => {
            format!("{tests} that failed in run {run} {verb} first{of} ({flag})")
        }
    };
    (keys, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{ListedBinary, ListedTest};
    use crate::plan::{select, TestFilter};

    fn list() -> TestList {
        let tests = |names: &[&str]| {
            (names.iter())
                .map(|n| ListedTest {
                    name: n.to_string(),
                    ..ListedTest::default()
                })
                .collect()
        };
        TestList {
            binaries: vec![
                ListedBinary::fake_lib("a", tests(&["x", "y", "z"])),
                ListedBinary::fake_lib("b", tests(&["x"])),
            ],
        }
    }

    fn last(failed: &[(&str, &str)]) -> LastRun {
        LastRun {
            run_id: "R".into(),
            failed: (failed.iter())
                .map(|(b, n)| (b.to_string(), n.to_string()))
                .collect(),
        }
    }

    #[test]
    fn last_failed_keeps_only_the_failures() {
        let list = list();
        let mut sel = select(&list, &TestFilter::default());
        let failed = last(&[("a", "y"), ("b", "x"), ("gone", "t")]);
        let (keys, note) = failed_tests(Rerun::LastFailed, Some(&failed), &list, &mut sel);
        assert_eq!(
            keys,
            HashSet::from([TestKey::new(0, "y"), TestKey::new(1, "x")])
        );
        assert_eq!(sel.run_count(), 2);
        assert_eq!(sel.filtered_out, 2);
        assert_eq!(
            note,
            "running the 2 tests that failed in run R (1 more not selected) (--last-failed)"
        );
    }

    #[test]
    fn failed_first_keeps_everything() {
        let list = list();
        let mut sel = select(&list, &TestFilter::default());
        let failed = last(&[("a", "z")]);
        let (keys, note) = failed_tests(Rerun::FailedFirst, Some(&failed), &list, &mut sel);
        assert_eq!(keys, HashSet::from([TestKey::new(0, "z")]));
        assert_eq!(sel.run_count(), 4);
        assert_eq!(
            note,
            "the test that failed in run R runs first (--failed-first)"
        );
    }

    /// As pytest's `--lf`: nothing known to have failed among the selected, everything
    /// selected runs, and the note says why.
    #[test]
    fn with_nothing_to_rerun_everything_runs() {
        let list = list();
        let cases: [(Option<LastRun>, &str); 3] = [
            (None, "no run recorded yet"),
            (Some(last(&[])), "no test failed in run R"),
            (
                Some(last(&[("gone", "t"), ("a", "nope")])),
                "the 2 tests that failed in run R not selected",
            ),
        ];
        for (l, want) in cases {
            let mut sel = select(&list, &TestFilter::default());
            let (keys, note) = failed_tests(Rerun::LastFailed, l.as_ref(), &list, &mut sel);
            assert!(keys.is_empty());
            assert_eq!(sel.run_count(), 4, "{note}");
            assert!(
                note.starts_with(want)
                    && note.ends_with(": running every selected test (--last-failed)"),
                "{note}"
            );
        }
    }
}
