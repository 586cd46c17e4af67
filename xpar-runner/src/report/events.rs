//! `RunEvent`: the only thing execute hands to report. Every reporter (progress display,
//! summary, JUnit, the run's record) is a consumer of these, so a recorded list of events
//! can test any of them without running a process. The types are the schema of a
//! recorded run, in `xpar-metadata`.

pub use xpar_metadata::events::{
    worker_name, Failure, Notice, Resources, RunEvent, TestOutcome, TestStatus,
};
