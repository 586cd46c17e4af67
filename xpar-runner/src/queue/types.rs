//! What the Redis work queue's operations take and answer.

use std::fmt;
use std::time::Duration;

use xpar_metadata::queue::ChunkSpec;

use crate::ids::{Attempt, TestId};

/// A chunk of the run's queue, numbered from 1 in the order `join` was given them;
/// retries get the next numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkId(pub u64);

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The fencing token a chunk's reservation was given: a new one each time the chunk is
/// reserved, so the results of a machine whose lease ran out are told from those of the
/// machine that has the chunk now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub u64);

/// Which machine set the run up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// This machine arrived first and seeded the queue with its chunks.
    Leader,
    /// The queue was there already (same build); this machine takes from it.
    Follower,
}

/// The answer to `reserve`.
#[derive(Clone, Debug, PartialEq)]
pub enum Reserve {
    /// Run this chunk, and acknowledge it with `token` before its lease runs out
    /// (heartbeats extend it).
    Chunk {
        id: ChunkId,
        spec: ChunkSpec,
        token: Token,
    },
    /// Nothing queued, but other machines hold leases: a chunk comes back if one of them
    /// dies (the first lease runs out after `next_expiry` unless it is extended), and
    /// retries may be queued. Ask again. `machines`: the machines alive in the run, which
    /// ask as well.
    Wait {
        next_expiry: Duration,
        machines: usize,
    },
    /// Nothing queued and nothing leased.
    Done,
    /// The run was cancelled (`cancel`, e.g. `--maxfail` reached on some machine).
    Cancelled { reason: String },
}

/// One result of a chunk for `acknowledge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultRecord {
    pub test: TestId,
    pub attempt: Attempt,
    /// Stored as given and handed back by `results` (e.g. a serialized `TestOutcome`).
    pub json: String,
    /// Whether this is the test's last attempt (it passed, or has no retry left): the
    /// run's done count counts tests whose last attempt is recorded.
    pub is_final: bool,
}

/// The answer to `acknowledge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ack {
    /// This machine still held the chunk.
    Recorded {
        /// Results recorded now: 0 for an ack given twice.
        new: usize,
        /// Tests of the run done, across machines, and its total.
        done: u64,
        total: u64,
        /// The retry chunks queued with it, in the order given.
        retries: Vec<ChunkId>,
    },
    /// The chunk's lease ran out and it went back to the queue or to another machine:
    /// nothing was recorded.
    Stale,
}

/// The answer to `heartbeat`: the leases it could not extend, because they were lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub lost_chunks: Vec<ChunkId>,
    pub lost_keys: Vec<String>,
}

/// The run's state in the queue, for `cargo xpar queue status`.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueStatus {
    pub machines: Vec<MachineStatus>,
    pub leases: Vec<LeaseStatus>,
    /// Tests whose last attempt is recorded, and all the run's tests.
    pub done: u64,
    pub total: u64,
    /// Chunks waiting to be reserved.
    pub queued: u64,
    /// Failures added by `add_failures`, across machines.
    pub failures: u64,
    /// Leases that ran out and were handed out again.
    pub expired: u64,
    pub cancelled: Option<String>,
}

/// A machine that joined the run.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineStatus {
    pub name: String,
    /// Whether it reserved, acknowledged or sent a heartbeat within the last lease.
    pub alive: bool,
    /// Until its liveness runs out (negative: since).
    pub seconds_left: f64,
}

/// A chunk under lease.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseStatus {
    pub chunk: ChunkId,
    pub machine: String,
    pub worker: String,
    /// Until the lease runs out (negative: since, and it goes back to the queue at the
    /// next reserve).
    pub seconds_left: f64,
}
