//! What a run's queue holds, read for `cargo xpar queue status` and `queue report`.

use super::keys::ResultKey;
use super::remote::RemoteQueue;
use super::scripts::SCRIPTS;
use super::types::{ChunkId, LeaseStatus, MachineStatus, QueueStatus};
use crate::errors::QueueError;

impl RemoteQueue {
    /// The machines of the run, the chunks under lease, and the counts; one consistent
    /// read, with times on the server's clock.
    pub fn status(&mut self) -> Result<QueueStatus, QueueError> {
        let inv = self.invocation(&SCRIPTS.status);
        let reply: Vec<String> = self.call("status", &inv)?;
        parse_status(&reply).ok_or_else(|| self.unexpected("status", &reply))
    }

    /// Every recorded result: (test, attempt) and the JSON its machine gave.
    pub fn results(&mut self) -> Result<Vec<(ResultKey, String)>, QueueError> {
        let results = &self.keys.all()[6];
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(results)
            .query(&mut self.conn)
            .map_err(|e| self.fail("results", e))?;
        let mut out = Vec::with_capacity(fields.len());
        for (field, json) in fields {
            let key = ResultKey::decode(&field)
                .map_err(|e| self.protocol("results", format!("result key `{field}`: {e}")))?;
            out.push((key, json));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Whether every test of the run has its last attempt recorded.
    pub fn is_complete(&mut self) -> Result<bool, QueueError> {
        let meta = &self.keys.all()[1];
        let counts: (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(meta)
            .arg("done")
            .arg("total")
            .query(&mut self.conn)
            .map_err(|e| self.fail("is_complete", e))?;
        Ok(matches!(counts, (Some(done), Some(total)) if done >= total))
    }
}

/// The reply of `status.lua`, in the order it writes it.
fn parse_status(reply: &[String]) -> Option<QueueStatus> {
    let mut fields = reply.iter().map(String::as_str);
    let mut count = || fields.next()?.parse::<u64>().ok();
    let _now = count()?;
    let (total, done, queued, failures, expired) =
        (count()?, count()?, count()?, count()?, count()?);
    let cancelled = match fields.next()? {
        "" => None,
        reason => Some(reason.strip_prefix('+')?.to_owned()),
    };
    let seconds = |ms: &str| ms.parse::<i64>().ok().map(|ms| ms as f64 / 1000.0);
    let machine_count = fields.next()?.parse::<usize>().ok()?;
    let mut machines = Vec::with_capacity(machine_count);
    for _ in 0..machine_count {
        let (name, left) = (fields.next()?, seconds(fields.next()?)?);
        machines.push(MachineStatus {
            name: name.to_owned(),
            alive: left > 0.0,
            seconds_left: left,
        });
    }
    let lease_count = fields.next()?.parse::<usize>().ok()?;
    let mut leases = Vec::with_capacity(lease_count);
    for _ in 0..lease_count {
        let chunk = ChunkId(fields.next()?.parse().ok()?);
        let mut owner = fields.next()?.splitn(3, '|').skip(1);
        let (machine, worker) = (owner.next().unwrap_or(""), owner.next().unwrap_or(""));
        leases.push(LeaseStatus {
            chunk,
            machine: machine.to_owned(),
            worker: worker.to_owned(),
            seconds_left: seconds(fields.next()?)?,
        });
    }
    Some(QueueStatus {
        machines,
        leases,
        done,
        total,
        queued,
        failures,
        expired,
        cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn status_reply_parses() {
        let status = parse_status(&reply(&[
            "1000", "10", "4", "3", "1", "0", "+maxfail", "2", "m1", "1500", "m2", "-20", "1", "7",
            "9|m1|w0", "250",
        ]))
        .unwrap();
        assert_eq!((status.total, status.done, status.queued), (10, 4, 3));
        assert_eq!(status.cancelled.as_deref(), Some("maxfail"));
        assert_eq!(status.machines.len(), 2);
        assert!(status.machines[0].alive && !status.machines[1].alive);
        assert_eq!(status.leases[0].chunk, ChunkId(7));
        assert_eq!(status.leases[0].machine, "m1");
        assert_eq!(status.leases[0].worker, "w0");
        assert_eq!(status.leases[0].seconds_left, 0.25);
    }

    #[test]
    fn short_or_bad_status_replies_are_refused() {
        assert!(parse_status(&reply(&["1000", "10"])).is_none());
        assert!(parse_status(&reply(&["1", "x", "0", "0", "0", "0", "", "0", "0"])).is_none());
        assert!(parse_status(&reply(&["1", "1", "0", "0", "0", "0", "", "1"])).is_none());
    }
}
