//! How a run names its tests: within one run by the binary's place in the run's list
//! ([`TestKey`]), across runs and machines by the binary's id ([`TestId`]), and which run
//! of a test a result is ([`Attempt`]).

pub use xpar_metadata::{Attempt, TestId};

/// A test within one run: its binary's index in the run's `TestList::binaries`, and its
/// name (an opaque binary's one test is named after its binary id). Cheap to compare,
/// meaningless outside the run that made the list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestKey {
    pub binary: usize,
    pub name: String,
}

impl TestKey {
    pub fn new(binary: usize, name: impl Into<String>) -> Self {
        TestKey {
            binary,
            name: name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_from_one() {
        assert_eq!(Attempt::after(0), Attempt::FIRST);
        assert_eq!(Attempt::FIRST.next().number(), 2);
        assert_eq!(Attempt::after(2).to_string(), "3");
        assert_eq!(Attempt::try_from(0), Err("attempts are counted from 1"));
        assert_eq!(Attempt::try_from(4).map(usize::from), Ok(4));
    }
}
