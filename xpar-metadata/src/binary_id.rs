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
}

impl fmt::Display for BinaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
