//! Execute: carry out the plan in worker threads, one test process at a time each.

mod batch;
mod dispatcher;
mod libtest_json;

pub use dispatcher::{execute, ExecuteOptions};
