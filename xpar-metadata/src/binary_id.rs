//! The id of a test binary, the key that joins a test list to a run report.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id nextest gives a test binary: `crate` (library), `crate::bin/NAME`,
/// `crate::TARGET` (integration test), `crate::example/NAME`, `crate::bench/NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BinaryId(String);

impl BinaryId {
    pub fn new(id: impl Into<String>) -> Self {
        BinaryId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of a command suite of the config file, `@suite/NAME` (no package name
    /// starts with `@`, so no target's id is one).
    pub fn is_suite(&self) -> bool {
        self.0.starts_with(SUITE_PREFIX)
    }
}

/// What a command suite's binary id starts with.
pub const SUITE_PREFIX: &str = "@suite/";

/// What the binary id of a library's doctests starts with (`@doc/PACKAGE`).
pub const DOCTEST_PREFIX: &str = "@doc/";

impl fmt::Display for BinaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
