//! The messages between the dispatcher and its workers: the only way they talk. Both
//! sides import them from here, so neither imports the other.

use super::reason::CancelReason;
use crate::discover::BinaryId;
use crate::ids::TestId;
use crate::plan::{BatchCost, Chunk};
use crate::report::{Notice, TestOutcome};

/// What the dispatcher tells a worker.
#[derive(Debug)]
pub enum ToWorker {
    Run(Chunk),
    /// No more work: the worker exits.
    Stop,
    /// The answer to [`WorkerMsg::MayGoOn`].
    GoOn(bool),
    /// The answer to [`WorkerMsg::WasKilled`].
    Killed(bool),
    /// The run stopped, for this reason: start nothing more; what is left is not run.
    /// Sent to every worker when it happens, whatever the worker is doing.
    Stopped(CancelReason),
}

/// What a worker tells the dispatcher while it runs a chunk.
#[derive(Debug)]
pub enum WorkerMsg {
    Started {
        worker: usize,
        test: TestId,
    },
    Finished {
        outcome: TestOutcome,
    },
    /// The chunk is done; the worker wants another.
    Ready {
        worker: usize,
        costs: Vec<BatchCost>,
    },
    /// The worker started a test process (and process group) with this id.
    Spawned {
        worker: usize,
        pid: u32,
    },
    /// The worker was told there is no more work, and stopped.
    Exited,
    /// The run was asked to stop (by a signal, a caller): what the [`CancelHandle`]
    /// passes on.
    ///
    /// [`CancelHandle`]: super::cancel::CancelHandle
    Cancel(CancelReason),
    /// May the worker start a fresh process for the rest of its batch? (The answer comes
    /// as [`ToWorker::GoOn`].)
    MayGoOn {
        worker: usize,
    },
    /// Did the dispatcher end the worker's process (a timeout, a stop)? Asked when a
    /// process died under a test, before the test is run again alone to confirm the
    /// crash. (The answer comes as [`ToWorker::Killed`].)
    WasKilled {
        worker: usize,
    },
    /// A process of this binary died before running any test.
    BinaryBroken {
        binary: usize,
        reason: String,
    },
    /// Several messages at once (a busy batch decides tests faster than one message
    /// each is worth).
    Many(Vec<WorkerMsg>),
    /// A test process held the run up or left processes behind.
    Notice {
        worker: usize,
        binary_id: BinaryId,
        test: Option<String>,
        notice: Notice,
    },
}
