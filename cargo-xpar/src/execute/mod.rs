//! Execute: carry out the plan in worker threads, one test process at a time each.

mod batch;
mod dispatcher;
mod libtest_json;
mod run_env;

pub use dispatcher::{execute, ExecuteOptions};
pub use run_env::RunEnv;
