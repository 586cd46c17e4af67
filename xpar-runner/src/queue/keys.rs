//! The names of a run's keys in Redis, and how a result is keyed.

use crate::ids::{Attempt, TestId};
use xpar_metadata::BinaryId;

/// The run's keys, all under `xpar:{RUN_ID}:`. The braces are Redis Cluster's hash tag:
/// every key of a run hashes to one slot, so each script may touch them all.
#[derive(Clone, Debug)]
pub(crate) struct RunKeys {
    prefix: String,
    /// In the order the scripts' `common.lua` reads them.
    all: [String; 8],
}

/// The fixed keys, in `KEYS` order: `build` (the build id; set once, by the leader),
/// `meta` (a hash: format, total, done, failures, seq, token, expired, cancelled),
/// `chunks` (id -> payload), `queue` (a list of chunk ids, head first), `leases` (a sorted
/// set: chunk id by lease deadline), `owners` (chunk id -> `token|machine|worker`),
/// `results` (result key -> json), `machines` (a sorted set: machine by liveness deadline).
const NAMES: [&str; 8] = [
    "build", "meta", "chunks", "queue", "leases", "owners", "results", "machines",
];

impl RunKeys {
    pub(crate) fn new(run_id: &str) -> Self {
        let prefix = format!("xpar:{{{run_id}}}:");
        let all = NAMES.map(|name| format!("{prefix}{name}"));
        RunKeys { prefix, all }
    }

    pub(crate) fn all(&self) -> &[String; 8] {
        &self.all
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A serial key (`#[serial(key)]`) held across machines.
    pub(crate) fn serial(&self, key: &str) -> String {
        format!("{}serial:{key}", self.prefix)
    }
}

/// What names one result in the run's `results` hash: a test and its attempt.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResultKey {
    pub test: TestId,
    pub attempt: Attempt,
}

impl ResultKey {
    /// As a JSON array `["binary id","test name",attempt]`: unambiguous whatever the
    /// names hold, and the same bytes for the same result on every machine.
    pub(crate) fn encode(test: &TestId, attempt: Attempt) -> String {
        // Serializing strings and a number cannot fail.
        serde_json::to_string(&(test.binary_id.as_str(), &test.name, attempt)).unwrap_or_default()
    }

    pub(crate) fn decode(field: &str) -> Result<ResultKey, serde_json::Error> {
        let (binary_id, name, attempt): (String, String, Attempt) = serde_json::from_str(field)?;
        Ok(ResultKey {
            test: TestId::new(BinaryId::new(binary_id), name),
            attempt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = RunKeys::new("ci-42");
        assert_eq!(keys.all()[0], "xpar:{ci-42}:build");
        assert!(keys.all().iter().all(|k| k.starts_with("xpar:{ci-42}:")));
        assert_eq!(keys.serial("db"), "xpar:{ci-42}:serial:db");
    }

    #[test]
    fn result_keys_round_trip() {
        let test = TestId::new(BinaryId::new("a b"), "x\",\"y");
        let field = ResultKey::encode(&test, Attempt::FIRST.next());
        assert_eq!(field, r#"["a b","x\",\"y",2]"#);
        let key = ResultKey::decode(&field).unwrap();
        assert_eq!((key.test, key.attempt), (test, Attempt::FIRST.next()));
        assert!(ResultKey::decode("[\"a\"]").is_err());
    }
}
