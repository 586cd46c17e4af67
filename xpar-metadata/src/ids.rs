//! How results name a test across runs and machines ([`TestId`]), and which run of it a
//! result is ([`Attempt`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::BinaryId;

/// A test as other runs and other machines know it: its binary's id and its name. What
/// results are keyed by once they leave the run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TestId {
    pub binary_id: BinaryId,
    pub name: String,
}

impl TestId {
    pub fn new(binary_id: BinaryId, name: impl Into<String>) -> Self {
        TestId {
            binary_id,
            name: name.into(),
        }
    }
}

impl fmt::Display for TestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.binary_id, self.name)
    }
}

/// Which run of a test a result is: the first is 1, each retry (`--retries`) one more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "usize", try_from = "usize")]
pub struct Attempt(usize);

impl Attempt {
    pub const FIRST: Attempt = Attempt(1);

    /// The attempt that follows `failed` failed attempts.
    pub fn after(failed: usize) -> Attempt {
        Attempt(failed.saturating_add(1))
    }

    pub fn next(self) -> Attempt {
        Attempt(self.0.saturating_add(1))
    }

    /// Its number, from 1.
    pub fn number(self) -> usize {
        self.0
    }
}

impl From<Attempt> for usize {
    fn from(a: Attempt) -> usize {
        a.0
    }
}

impl TryFrom<usize> for Attempt {
    type Error = &'static str;

    fn try_from(n: usize) -> Result<Attempt, Self::Error> {
        match n {
            0 => Err("attempts are counted from 1"),
            n => Ok(Attempt(n)),
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
