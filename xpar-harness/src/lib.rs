//! Test-side companion of `cargo xpar`: tells a test which worker runs it.
//!
//! The scheduling markers (`#[serial]`, `#[parallel_safe]`, ...) and isolated temp dirs
//! come later; this crate fixes the names of the environment contract now so that test
//! code can rely on them.

/// Environment variable holding the worker id (`gw0`, `gw1`, ...).
pub const WORKER_ID_ENV: &str = "XPAR_WORKER_ID";
/// Environment variable holding the number of workers in the run.
pub const WORKER_COUNT_ENV: &str = "XPAR_WORKER_COUNT";

/// The id of the worker running this test (`gw0`, `gw1`, ...), or `None` outside `cargo xpar`.
pub fn worker_id() -> Option<String> {
    std::env::var(WORKER_ID_ENV).ok().filter(|s| !s.is_empty())
}

/// The number of workers in this run, or `None` outside `cargo xpar`.
pub fn worker_count() -> Option<usize> {
    std::env::var(WORKER_COUNT_ENV).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_id_matches_environment() {
        // Holds both inside `cargo xpar` (gwN) and outside it (None).
        match std::env::var(WORKER_ID_ENV) {
            Ok(id) if !id.is_empty() => {
                assert_eq!(worker_id().as_deref(), Some(id.as_str()));
                assert!(id.starts_with("gw"), "unexpected worker id {id}");
                let n: usize = id[2..].parse().expect("numeric worker index");
                assert!(n < worker_count().expect("worker count set beside worker id"));
            }
            _ => assert_eq!(worker_id(), None),
        }
    }
}
