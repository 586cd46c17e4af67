//! `--retries`: which failures run again and after how long. A test that fails and then
//! passes is flaky; `--flaky-result` decides whether that fails the run.

use std::time::Duration;

use regex::Regex;

use crate::ids::Attempt;
use crate::report::{TestOutcome, TestStatus};

/// How the delay grows from one attempt to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay every time.
    #[default]
    Fixed,
    /// The delay doubles with every attempt.
    Exponential,
}

/// The retry settings of a run.
#[derive(Clone, Debug, Default)]
pub struct RetryPolicy {
    /// Runs after the first; 0 means no retries.
    pub retries: usize,
    pub backoff: Backoff,
    pub delay: Duration,
    /// Shorten each delay by a random part of up to half, so retries of tests that failed
    /// together do not run together again.
    pub jitter: bool,
    /// Retry only failures whose output or message matches.
    pub retry_on: Option<Regex>,
}

/// The longest a backoff may grow to.
const MAX_DELAY: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// Whether a test whose `attempt` ended as `outcome` runs again.
    pub fn should_retry(&self, attempt: Attempt, outcome: &TestOutcome) -> bool {
        self.should_retry_up_to(self.retries, attempt, outcome)
    }

    /// [`RetryPolicy::should_retry`] for a test with `retries` of its own.
    pub fn should_retry_up_to(
        &self,
        retries: usize,
        attempt: Attempt,
        outcome: &TestOutcome,
    ) -> bool {
        let TestStatus::Failed(failure) = &outcome.status else {
            return false;
        };
        attempt.number() <= retries
            && self
                .retry_on
                .as_ref()
                .is_none_or(|re| re.is_match(&outcome.output) || re.is_match(&failure.message()))
    }

    /// The wait before the run after `attempt`; `random` is in [0, 1).
    pub fn delay(&self, attempt: Attempt, random: f64) -> Duration {
        let base = match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Exponential => {
                let factor = 1u32
                    .checked_shl(attempt.number().saturating_sub(1) as u32)
                    .unwrap_or(u32::MAX);
                self.delay.saturating_mul(factor).min(MAX_DELAY)
            }
        };
        if self.jitter {
            base.mul_f64(1.0 - 0.5 * random.clamp(0.0, 1.0))
        } else {
            base
        }
    }
}

/// A number in [0, 1) that differs from call to call (for jitter; not for secrets).
pub fn random_unit() -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;
    use crate::report::Failure;

    fn nth(n: usize) -> Attempt {
        Attempt::try_from(n).unwrap()
    }

    fn outcome(status: TestStatus, output: &str) -> TestOutcome {
        TestOutcome {
            binary_id: crate::discover::binary_id("a", BinaryKind::Lib, "a"),
            name: "t".into(),
            status,
            duration: Duration::ZERO,
            output: output.into(),
            worker: Some(0),
            started: None,
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        }
    }

    #[test]
    fn retries_up_to_the_count_and_only_failures() {
        let p = RetryPolicy {
            retries: 2,
            ..RetryPolicy::default()
        };
        let failed = outcome(TestStatus::Failed(Failure::Failed), "");
        assert!(p.should_retry(nth(1), &failed));
        assert!(p.should_retry(nth(2), &failed));
        assert!(!p.should_retry(nth(3), &failed));
        assert!(!p.should_retry(nth(1), &outcome(TestStatus::Passed, "")));
    }

    #[test]
    fn retry_on_matches_output_or_message() {
        let p = RetryPolicy {
            retries: 1,
            retry_on: Some(Regex::new("connection (refused|reset)").unwrap()),
            ..RetryPolicy::default()
        };
        let f = |o| outcome(TestStatus::Failed(Failure::Failed), o);
        assert!(p.should_retry(nth(1), &f("error: connection refused\n")));
        assert!(!p.should_retry(nth(1), &f("assertion failed\n")));
        let sig = outcome(
            TestStatus::Failed(Failure::Signal {
                signal: 11,
                name: "SIGSEGV".into(),
            }),
            "",
        );
        let p = RetryPolicy {
            retries: 1,
            retry_on: Some(Regex::new("SIGSEGV").unwrap()),
            ..RetryPolicy::default()
        };
        assert!(p.should_retry(nth(1), &sig));
    }

    #[test]
    fn backoff_and_jitter() {
        let mut p = RetryPolicy {
            retries: 5,
            delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(nth(3), 0.9), Duration::from_millis(100));
        p.backoff = Backoff::Exponential;
        assert_eq!(p.delay(nth(1), 0.9), Duration::from_millis(100));
        assert_eq!(p.delay(nth(3), 0.9), Duration::from_millis(400));
        assert_eq!(p.delay(nth(60), 0.0), MAX_DELAY);
        p.jitter = true;
        assert_eq!(p.delay(nth(1), 0.5), Duration::from_millis(75));
        assert!(p.delay(nth(1), 0.999) >= Duration::from_millis(50));
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }
}
