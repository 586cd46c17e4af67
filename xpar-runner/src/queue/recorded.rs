//! What a machine records in the queue for each result: the outcome, and where and from
//! when it ran, so that a queue report gives each machine's workers lanes of their own
//! and puts every machine's tests on one clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::types::ResultRecord;
use crate::ids::TestId;
use crate::report::TestOutcome;

/// A machine of a shared run, as its results name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MachineRun {
    pub machine: String,
    pub workers: usize,
    /// When its test phase started (its outcomes' `started` count from there), in
    /// milliseconds since the Unix epoch, on its own clock.
    pub start_ms: u64,
}

impl MachineRun {
    /// `machine`, with `workers`, starting now.
    pub fn starting_now(machine: &str, workers: usize) -> MachineRun {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        MachineRun {
            machine: machine.to_owned(),
            workers,
            start_ms: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The stored form of `outcome`, this machine's result for it.
    pub fn record(&self, outcome: &TestOutcome, is_final: bool) -> ResultRecord {
        let recorded = Recorded {
            run: self.clone(),
            outcome: outcome.clone(),
        };
        ResultRecord {
            test: TestId::new(outcome.binary_id.clone(), &outcome.name),
            attempt: outcome.attempt,
            json: serde_json::to_string(&recorded).unwrap_or_default(),
            is_final,
        }
    }
}

/// A result as stored: the outcome, with the machine that gave it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(flatten)]
    pub run: MachineRun,
    pub outcome: TestOutcome,
}

/// Machines as lanes of one report: each machine's workers numbered on from the previous
/// machine's, machines in the order they started, and each machine's start from the
/// first machine's.
pub struct Lanes {
    /// (machine, first worker, workers, start from the first machine's start).
    pub machines: Vec<(String, usize, usize, Duration)>,
}

impl Lanes {
    pub fn of<'a>(runs: impl Iterator<Item = &'a MachineRun>) -> Lanes {
        let mut by_name: std::collections::BTreeMap<&str, (u64, usize)> = Default::default();
        for r in runs {
            let e = by_name.entry(&r.machine).or_insert((r.start_ms, r.workers));
            e.0 = e.0.min(r.start_ms);
            e.1 = e.1.max(r.workers);
        }
        let mut order: Vec<(&str, u64, usize)> =
            by_name.into_iter().map(|(n, (s, w))| (n, s, w)).collect();
        order.sort_by_key(|&(n, s, _)| (s, n));
        let first_start = order.first().map_or(0, |o| o.1);
        let mut next = 0;
        let machines = order
            .into_iter()
            .map(|(name, start, workers)| {
                let lane = (
                    name.to_owned(),
                    next,
                    workers,
                    Duration::from_millis(start - first_start),
                );
                next += workers;
                lane
            })
            .collect();
        Lanes { machines }
    }

    /// `outcome`, which `machine` gave, on the report's lanes and clock.
    pub fn place(&self, machine: &str, outcome: &mut TestOutcome) {
        let Some((_, first, _, offset)) = self.machines.iter().find(|m| m.0 == machine) else {
            return;
        };
        let shift = |o: &mut TestOutcome| {
            o.worker = o.worker.map(|w| w + first);
            o.started = o.started.map(|s| s + *offset);
        };
        shift(outcome);
        outcome.previous.iter_mut().for_each(shift);
    }

    /// Workers of every machine.
    pub fn workers(&self) -> usize {
        self.machines.iter().map(|m| m.2).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TestStatus;
    use xpar_metadata::BinaryId;

    #[test]
    fn machines_get_lanes_of_their_own_on_one_clock() {
        let a = MachineRun {
            machine: "b-late".into(),
            workers: 2,
            start_ms: 10_500,
        };
        let b = MachineRun {
            machine: "a-early".into(),
            workers: 3,
            start_ms: 10_000,
        };
        let lanes = Lanes::of([&a, &b, &a].into_iter());
        assert_eq!(lanes.workers(), 5);
        assert_eq!(lanes.machines[0].0, "a-early");
        assert_eq!(lanes.machines[1].1, 3);
        let mut o = TestOutcome::not_started(BinaryId::new("x"), "t", TestStatus::Passed);
        o.worker = Some(1);
        o.started = Some(Duration::from_millis(100));
        lanes.place("b-late", &mut o);
        assert_eq!(o.worker, Some(4));
        assert_eq!(o.started, Some(Duration::from_millis(600)));
        // A record round-trips through its stored form.
        let stored = a.record(&o, true);
        let back: Recorded = serde_json::from_str(&stored.json).unwrap();
        assert_eq!(back.run, a);
        assert_eq!(back.outcome.worker, Some(4));
    }
}
