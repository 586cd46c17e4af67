//! What machines sharing one run's work queue on Redis (`--queue redis://...`) write there
//! for each other: a chunk of work ([`ChunkSpec`]), stored as JSON. A run's queue holds
//! the [`QUEUE_FORMAT_VERSION`] of the machine that seeded it, and a machine of another
//! version refuses to join rather than misread it.

use serde::{Deserialize, Serialize};

use crate::{Attempt, BinaryId};

/// The version of [`ChunkSpec`] and of the layout of a run's keys in Redis.
pub const QUEUE_FORMAT_VERSION: u32 = 1;

/// Tests of one binary for one worker to run in one process, as every machine of the run
/// knows them (by binary id, not by a place in one machine's list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChunkSpec {
    pub binary_id: BinaryId,
    pub tests: ChunkTests,
    /// Which run of its tests this is: 1, or a retry's attempt.
    pub attempt: Attempt,
    /// What its tests took last time, summed (0 where unknown).
    pub expected_secs: f64,
}

/// The tests of a [`ChunkSpec`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChunkTests {
    /// These libtest tests, by exact name.
    Named(Vec<String>),
    /// The whole binary, as one test named after its binary id.
    Opaque,
}

impl ChunkSpec {
    /// How many tests it runs (an opaque binary is one).
    pub fn len(&self) -> usize {
        match &self.tests {
            ChunkTests::Named(names) => names.len(),
            ChunkTests::Opaque => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_round_trips_as_json() {
        let chunk = ChunkSpec {
            binary_id: BinaryId::new("app::tests"),
            tests: ChunkTests::Named(vec!["a".into(), "b::c".into()]),
            attempt: Attempt::FIRST.next(),
            expected_secs: 1.5,
        };
        let json = serde_json::to_string(&chunk).unwrap();
        assert_eq!(
            json,
            r#"{"binary-id":"app::tests","tests":{"named":["a","b::c"]},"attempt":2,"expected-secs":1.5}"#
        );
        assert_eq!(serde_json::from_str::<ChunkSpec>(&json).unwrap(), chunk);
        let opaque: ChunkSpec = serde_json::from_str(
            r#"{"binary-id":"x","tests":"opaque","attempt":1,"expected-secs":0.0}"#,
        )
        .unwrap();
        assert_eq!(opaque.len(), 1);
    }
}
