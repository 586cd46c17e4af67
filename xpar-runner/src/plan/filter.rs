//! Which listed tests run, which are reported ignored, and which are filtered out.

use super::markexpr::MarkerExpr;
use crate::discover::{BinaryContent, ListedTest, Markers, TestList};
use crate::ids::TestKey;

/// What to do with `#[ignore]`d tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunIgnored {
    /// Report them ignored, run the rest (libtest's default).
    #[default]
    Default,
    /// Run only them (`--ignored`).
    Only,
    /// Run them and the rest (`--include-ignored`).
    Include,
}

/// libtest's selection rules: a test runs if it matches a filter (or there is none) and
/// matches no `--skip`; substring matches unless `--exact`. Then `-m`, by marker.
#[derive(Clone, Debug, Default)]
pub struct TestFilter {
    pub patterns: Vec<String>,
    pub exact: bool,
    pub skip: Vec<String>,
    pub run_ignored: RunIgnored,
    pub markers: Option<MarkerExpr>,
}

impl TestFilter {
    pub fn matches_name(&self, name: &str) -> bool {
        let hit = |p: &String| {
            if self.exact {
                name == p
            } else {
                name.contains(p.as_str())
            }
        };
        (self.patterns.is_empty() || self.patterns.iter().any(hit)) && !self.skip.iter().any(hit)
    }

    pub fn matches_markers(&self, markers: &Markers) -> bool {
        self.markers.as_ref().is_none_or(|e| e.matches(markers))
    }

    /// Name and marker filters together.
    pub fn matches(&self, test: &ListedTest) -> bool {
        self.matches_name(&test.name) && self.matches_markers(&test.markers)
    }
}

/// The tests of one binary that are to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitTests {
    /// These libtest tests, by exact name, in list order.
    Named(Vec<String>),
    /// The whole opaque binary, as one test.
    Opaque,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Index into `TestList::binaries`.
    pub binary: usize,
    pub tests: UnitTests,
}

/// The outcome of applying a filter to a test list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub units: Vec<Unit>,
    /// Tests reported as ignored without running.
    pub ignored: Vec<TestKey>,
    /// Tests the filters left out.
    pub filtered_out: usize,
}

impl Selection {
    pub fn run_count(&self) -> usize {
        self.units
            .iter()
            .map(|u| match &u.tests {
                UnitTests::Named(names) => names.len(),
                UnitTests::Opaque => 1,
            })
            .sum()
    }
}

impl Selection {
    /// Keeps the tests to run for which `keep(binary, name)` holds (an opaque binary is
    /// named by its binary id) and no ignored one: the rest count as filtered out.
    pub fn retain(&mut self, list: &TestList, keep: impl Fn(usize, &str) -> bool) {
        let mut dropped = 0;
        self.units.retain_mut(|u| match &mut u.tests {
            UnitTests::Opaque => {
                let kept = keep(u.binary, list.binaries[u.binary].binary.id.as_str());
                dropped += usize::from(!kept);
                kept
            }
            UnitTests::Named(names) => {
                let before = names.len();
                names.retain(|n| keep(u.binary, n));
                dropped += before - names.len();
                !names.is_empty()
            }
        });
        dropped += self.ignored.len();
        self.ignored.clear();
        self.filtered_out += dropped;
    }
}

/// Applies `filter` to every binary of `list`. An opaque binary is matched by its binary id
/// (the name it is reported under) and never counts as ignored.
pub fn select(list: &TestList, filter: &TestFilter) -> Selection {
    let mut sel = Selection::default();
    for (i, lb) in list.binaries.iter().enumerate() {
        match &lb.content {
            BinaryContent::Opaque { .. } => {
                if filter.run_ignored != RunIgnored::Only
                    && filter.matches_name(lb.binary.id.as_str())
                    && filter.matches_markers(&Markers::default())
                {
                    sel.units.push(Unit {
                        binary: i,
                        tests: UnitTests::Opaque,
                    });
                } else {
                    sel.filtered_out += 1;
                }
            }
            BinaryContent::Tests(tests) => {
                let mut names = Vec::new();
                for t in tests {
                    if !filter.matches(t) {
                        sel.filtered_out += 1;
                        continue;
                    }
                    match (filter.run_ignored, t.ignored) {
                        (RunIgnored::Default, true) => sel.ignored.push(TestKey::new(i, &t.name)),
                        (RunIgnored::Only, false) => sel.filtered_out += 1,
                        _ => names.push(t.name.clone()),
                    }
                }
                if !names.is_empty() {
                    sel.units.push(Unit {
                        binary: i,
                        tests: UnitTests::Named(names),
                    });
                }
            }
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{ListedBinary, ListedTest};

    pub(crate) fn list_of(bins: &[(&str, &[(&str, bool)])]) -> TestList {
        TestList {
            binaries: bins
                .iter()
                .map(|(id, tests)| {
                    ListedBinary::fake_lib(
                        id,
                        tests
                            .iter()
                            .map(|(n, ig)| ListedTest {
                                name: n.to_string(),
                                ignored: *ig,
                                ..ListedTest::default()
                            })
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    fn names(sel: &Selection) -> Vec<String> {
        sel.units
            .iter()
            .flat_map(|u| match &u.tests {
                UnitTests::Named(n) => n.clone(),
                UnitTests::Opaque => vec!["<opaque>".into()],
            })
            .collect()
    }

    #[test]
    fn substring_exact_and_skip() {
        let list = list_of(&[("a", &[("pre", false), ("pre_fix", false), ("other", false)])]);
        let f = |patterns: &[&str], exact, skip: &[&str]| TestFilter {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            exact,
            skip: skip.iter().map(|s| s.to_string()).collect(),
            run_ignored: RunIgnored::Default,
            markers: None,
        };
        assert_eq!(
            names(&select(&list, &f(&["pre"], false, &[]))),
            ["pre", "pre_fix"]
        );
        assert_eq!(names(&select(&list, &f(&["pre"], true, &[]))), ["pre"]);
        assert_eq!(
            names(&select(&list, &f(&[], false, &["fix"]))),
            ["pre", "other"]
        );
        assert_eq!(
            names(&select(&list, &f(&[], true, &["pre"]))),
            ["pre_fix", "other"]
        );
        assert_eq!(select(&list, &f(&["pre"], true, &[])).filtered_out, 2);
    }

    #[test]
    fn ignored_modes() {
        let list = list_of(&[("a", &[("t", false), ("slow", true)])]);
        let mut f = TestFilter::default();
        let s = select(&list, &f);
        assert_eq!(names(&s), ["t"]);
        assert_eq!(s.ignored, [TestKey::new(0, "slow")]);
        f.run_ignored = RunIgnored::Only;
        assert_eq!(names(&select(&list, &f)), ["slow"]);
        f.run_ignored = RunIgnored::Include;
        assert_eq!(names(&select(&list, &f)), ["t", "slow"]);
    }

    #[test]
    fn retain_keeps_the_chosen_tests_and_counts_the_rest_filtered_out() {
        let list = list_of(&[
            ("a", &[("x", false), ("y", false), ("skipped", true)]),
            ("b", &[("z", false)]),
        ]);
        let mut s = select(&list, &TestFilter::default());
        s.retain(&list, |b, n| (b, n) == (0, "y"));
        assert_eq!(names(&s), ["y"]);
        assert_eq!(s.units.len(), 1);
        assert!(s.ignored.is_empty());
        assert_eq!(s.filtered_out, 3);
        assert_eq!(s.run_count(), 1);
    }
}
