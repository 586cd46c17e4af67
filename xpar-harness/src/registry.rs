//! The link-time list of marked tests: one entry per marked test function, written by the
//! macros' expansion and read whole by the marker query. Being assembled by the linker,
//! it is complete before any code runs, so no constructor-ordering question arises.

use xpar_protocol::{Serial, TestMarkers};

/// Every marked test linked into this binary.
#[linkme::distributed_slice]
pub static MARKED_TESTS: [MarkedTest];

/// What the expansion records for one test. Fields are `'static` so that it is a
/// constant the linker can place.
#[derive(Debug)]
pub struct MarkedTest {
    /// `module_path!()` where the test function is defined.
    pub module_path: &'static str,
    pub fn_name: &'static str,
    pub serial: SerialMarker,
    pub parallel_safe: bool,
    pub resource_slots: Option<u32>,
    pub group: Option<&'static str>,
}

/// `#[serial]` as recorded: keys are sorted and unique (the macro sees to it).
#[derive(Debug)]
pub enum SerialMarker {
    No,
    All,
    Keys(&'static [&'static str]),
}

impl MarkedTest {
    /// The name libtest gives the test: its module path without the crate name, then the
    /// function name (`tests::db::writes`; a top-level test of an integration test file is
    /// just `writes`).
    pub fn test_name(&self) -> String {
        match self.module_path.split_once("::") {
            Some((_crate, path)) => format!("{path}::{}", self.fn_name),
            None => self.fn_name.to_owned(),
        }
    }

    pub fn to_markers(&self) -> TestMarkers {
        TestMarkers {
            name: self.test_name(),
            serial: match self.serial {
                SerialMarker::No => Serial::No,
                SerialMarker::All => Serial::All,
                SerialMarker::Keys(keys) => {
                    Serial::Keys(keys.iter().map(|k| (*k).to_owned()).collect())
                }
            },
            parallel_safe: self.parallel_safe,
            resource_slots: self.resource_slots,
            group: self.group.map(str::to_owned),
        }
    }
}

/// The markers of every registered test, sorted by name so that the report is stable.
pub fn all_markers() -> Vec<TestMarkers> {
    let mut all: Vec<TestMarkers> = MARKED_TESTS.iter().map(MarkedTest::to_markers).collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(module_path: &'static str) -> MarkedTest {
        MarkedTest {
            module_path,
            fn_name: "t",
            serial: SerialMarker::Keys(&["a", "b"]),
            parallel_safe: false,
            resource_slots: Some(3),
            group: Some("g"),
        }
    }

    #[test]
    fn test_names_drop_the_crate() {
        assert_eq!(marked("mycrate::tests::db").test_name(), "tests::db::t");
        assert_eq!(marked("integration_file").test_name(), "t");
    }

    #[test]
    fn markers_carry_every_field() {
        let m = marked("c::m").to_markers();
        assert_eq!(m.name, "m::t");
        assert_eq!(m.serial, Serial::Keys(vec!["a".into(), "b".into()]));
        assert_eq!(m.resource_slots, Some(3));
        assert_eq!(m.group.as_deref(), Some("g"));
        assert!(!m.parallel_safe);
    }
}
