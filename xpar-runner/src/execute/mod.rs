//! Execute: carry out the plan in worker threads, one test process at a time each.

mod alone;
mod batch;
mod cancel;
mod context;
mod dispatcher;
mod filters;
mod inbox;
mod libtest_log;
mod messages;
mod options;
mod os_signals;
mod phase;
mod reason;
mod resources;
mod retry;
mod run_env;
mod test_process;
mod watchdog;
mod worker;

pub use cancel::{CancelHandle, CancelReason};
pub use options::{ExecuteOptions, MaxFail};
pub use phase::{execute, ExecuteEnd};
pub use retry::{Backoff, RetryPolicy};
pub use run_env::RunEnv;
pub use watchdog::Timeouts;
