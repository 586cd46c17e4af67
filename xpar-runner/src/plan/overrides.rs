//! Per-test settings from a config file (`[[profile.NAME.overrides]]`), for tests that
//! cannot carry a marker: applied to the test list as if the tests carried the marker,
//! before anything is selected or planned.

use std::time::Duration;

use xpar_protocol::Serial;

use super::filter::TestFilter;
use crate::discover::{BinaryContent, Markers, TestList};

/// One override: the tests it is for, and what it sets on them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestOverride {
    /// A test-name filter, matched as a positional filter is (a substring).
    pub filter: String,
    /// Only tests of the binary with this id.
    pub binary: Option<String>,
    pub timeout: Option<Duration>,
    pub retries: Option<usize>,
    /// `#[serial]` (`Serial::All`) or `#[serial(key)]`.
    pub serial: Option<Serial>,
    /// `#[resource_intensive(slots = N)]`.
    pub slots: Option<u32>,
}

impl TestOverride {
    fn matches(&self, binary_id: &str, name: &str) -> bool {
        let by_name = TestFilter {
            patterns: vec![self.filter.clone()],
            ..TestFilter::default()
        };
        self.binary.as_deref().is_none_or(|b| b == binary_id) && by_name.matches_name(name)
    }
}

/// Sets what `overrides` say on every test of `list` they match; per setting, the first
/// override that matches a test and has that setting wins. An opaque binary has no
/// tests to set anything on.
pub fn apply_overrides(list: &mut TestList, overrides: &[TestOverride]) {
    if overrides.is_empty() {
        return;
    }
    for binary in &mut list.binaries {
        let id = binary.binary.id.as_str().to_owned();
        let BinaryContent::Tests(tests) = &mut binary.content else {
            continue;
        };
        for test in tests {
            let matching = overrides.iter().filter(|o| o.matches(&id, &test.name));
            apply(&mut test.markers, matching);
        }
    }
}

/// The first value of each setting among `matching` (in order) onto `markers`.
fn apply<'a>(markers: &mut Markers, matching: impl Iterator<Item = &'a TestOverride>) {
    let (mut timeout, mut retries, mut serial, mut slots) = (None, None, None, None);
    for o in matching {
        timeout = timeout.or(o.timeout);
        retries = retries.or(o.retries);
        serial = serial.or_else(|| o.serial.clone());
        slots = slots.or(o.slots);
    }
    if timeout.is_some() {
        markers.timeout = timeout;
    }
    if retries.is_some() {
        markers.retries = retries;
    }
    if let Some(serial) = serial {
        markers.serial = serial;
    }
    if slots.is_some() {
        markers.resource_slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{ListedBinary, ListedTest};

    fn list() -> TestList {
        let tests = |names: &[&str]| {
            names
                .iter()
                .map(|n| ListedTest {
                    name: n.to_string(),
                    ..ListedTest::default()
                })
                .collect()
        };
        TestList {
            binaries: vec![
                ListedBinary::fake_lib("a", tests(&["db::write", "db::read", "net::get"])),
                ListedBinary::fake_lib("b", tests(&["db::write"])),
            ],
        }
    }

    fn markers<'a>(list: &'a TestList, binary: usize, name: &str) -> &'a Markers {
        let BinaryContent::Tests(tests) = &list.binaries[binary].content else {
            panic!("opaque")
        };
        &tests.iter().find(|t| t.name == name).unwrap().markers
    }

    #[test]
    fn first_matching_override_wins_per_setting() {
        let mut l = list();
        let overrides = [
            TestOverride {
                filter: "db::write".into(),
                retries: Some(3),
                ..TestOverride::default()
            },
            TestOverride {
                filter: "db::".into(),
                retries: Some(1),
                timeout: Some(Duration::from_secs(5)),
                serial: Some(Serial::Keys(vec!["db".into()])),
                ..TestOverride::default()
            },
        ];
        apply_overrides(&mut l, &overrides);
        let w = markers(&l, 0, "db::write");
        assert_eq!(w.retries, Some(3));
        assert_eq!(w.timeout, Some(Duration::from_secs(5)));
        assert_eq!(w.serial, Serial::Keys(vec!["db".into()]));
        assert_eq!(markers(&l, 0, "db::read").retries, Some(1));
        assert_eq!(markers(&l, 0, "net::get"), &Markers::default());
    }

    #[test]
    fn binary_restricts_and_slots_set_resource_slots() {
        let mut l = list();
        let b_id = l.binaries[1].binary.id.as_str().to_owned();
        apply_overrides(
            &mut l,
            &[TestOverride {
                filter: "write".into(),
                binary: Some(b_id),
                slots: Some(2),
                serial: Some(Serial::All),
                ..TestOverride::default()
            }],
        );
        assert_eq!(markers(&l, 0, "db::write"), &Markers::default());
        let b = markers(&l, 1, "db::write");
        assert_eq!((b.resource_slots, &b.serial), (Some(2), &Serial::All));
        assert!(b.is_marked());
    }
}
