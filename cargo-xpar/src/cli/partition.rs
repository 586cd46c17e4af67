//! `--partition`, and Bazel's sharding variables, to the shard a run is.

use xpar_runner::errors::UsageError;
use xpar_runner::plan::{self, BadPartition, Partition, PartitionKind};

/// The shard the run is, with where it came from when the CI said: `--partition`, else
/// Bazel's variables, else none.
pub(crate) fn from_flag_or_bazel(
    flag: Option<&str>,
) -> Result<Option<(Partition, Option<String>)>, UsageError> {
    match flag {
        Some(value) => Some(parse_partition(value)),
        None => bazel_shard(|k| std::env::var(k).ok()),
    }
    .transpose()
    .map_err(UsageError::BadPartition)
}

/// `--partition`: `KIND:K/N`, or `auto` / `KIND:auto` (`time` by default) from the CI's
/// variables, with where they came from.
fn parse_partition(value: &str) -> Result<(Partition, Option<String>), BadPartition> {
    let kind = match value {
        "auto" => Some(PartitionKind::Time),
        "slice:auto" => Some(PartitionKind::Slice),
        "hash:auto" => Some(PartitionKind::Hash),
        "time:auto" => Some(PartitionKind::Time),
        _ => None,
    };
    match kind {
        Some(kind) => plan::partition_from_ci(kind, |k| std::env::var(k).ok())
            .map(|(p, said)| (p, Some(said))),
        None => value.parse().map(|p| (p, None)),
    }
}

/// Bazel's test sharding (`TEST_TOTAL_SHARDS`, `TEST_SHARD_INDEX` from 0), by hash:
/// every shard computes the same split without a history.
fn bazel_shard(
    var: impl Fn(&str) -> Option<String>,
) -> Option<Result<(Partition, Option<String>), BadPartition>> {
    let total = var("TEST_TOTAL_SHARDS")?;
    let index = var("TEST_SHARD_INDEX")?;
    let bad = || {
        BadPartition::Ci(format!(
            "TEST_SHARD_INDEX={index}, TEST_TOTAL_SHARDS={total} is not a shard K of N"
        ))
    };
    let (Ok(i), Ok(n)) = (index.trim().parse::<usize>(), total.trim().parse::<usize>()) else {
        return Some(Err(bad()));
    };
    if i >= n {
        return Some(Err(bad()));
    }
    let p = Partition {
        kind: PartitionKind::Hash,
        index: i + 1,
        total: n,
    };
    let said = format!(
        "shard {} of {n} from Bazel (TEST_SHARD_INDEX={index}, TEST_TOTAL_SHARDS={total})",
        i + 1
    );
    Some(Ok((p, Some(said))))
}
