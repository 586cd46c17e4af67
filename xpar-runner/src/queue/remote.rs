//! [`RemoteQueue`]: one machine's connection to a run's work queue on Redis, and the
//! protocol steps, each one Lua script that Redis runs atomically.

use std::time::Duration;

use redis::{FromRedisValue, RedisError, Script, ScriptInvocation};
use xpar_metadata::queue::{ChunkSpec, QUEUE_FORMAT_VERSION};

use super::connection::{Counted, Counts};
use super::keys::{ResultKey, RunKeys};
use super::scripts::SCRIPTS;
use super::types::{Ack, ChunkId, Heartbeat, Reserve, ResultRecord, Role, Token};
use crate::errors::QueueError;

/// How long connecting may take before the queue counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one answer may take before the queue counts as lost (a script runs in
/// milliseconds; a server that does not answer for this long is gone for the run).
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One machine's client of a run's queue on Redis. One connection, used by one thread:
/// each worker that reserves on its own opens its own.
pub struct RemoteQueue {
    pub(super) conn: Counted,
    /// The URL as shown in errors: without its password.
    pub(super) url: String,
    run_id: String,
    machine: String,
    lease: Duration,
    ttl: Duration,
    pub(super) keys: RunKeys,
}

impl RemoteQueue {
    /// Connects to the queue at `url` (`redis://HOST:PORT[/DB]`, `redis+unix:///PATH` or
    /// `unix:///PATH`) for run `run_id` as machine `machine` (unique in the run), and
    /// checks that it answers. `lease`: how long a reserved chunk or a serial key stays
    /// this machine's without a heartbeat. `ttl`: how long the run's keys outlive its
    /// last write.
    pub fn connect(
        url: &str,
        run_id: &str,
        machine: &str,
        lease: Duration,
        ttl: Duration,
    ) -> Result<RemoteQueue, QueueError> {
        let shown = without_password(url);
        check_name("run id", run_id, &['{', '}'])?;
        check_name("machine name", machine, &['|'])?;
        let client = redis::Client::open(url).map_err(|e| QueueError::BadUrl {
            url: shown.clone(),
            why: one_line(&e),
        })?;
        let unreachable = |e: RedisError| QueueError::Unreachable {
            url: shown.clone(),
            why: one_line(&e),
        };
        let conn = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(unreachable)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(unreachable)?;
        let mut conn = Counted::new(conn);
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map_err(unreachable)?;
        Ok(RemoteQueue {
            conn,
            url: shown,
            run_id: run_id.to_owned(),
            machine: machine.to_owned(),
            lease,
            ttl,
            keys: RunKeys::new(run_id),
        })
    }

    /// Joins the run: the first machine to arrive with `build_id` seeds the queue with
    /// `chunks`, in that order (longest first), and the run's `tests_total`; the others
    /// check that they run the same build. Registers this machine either way.
    pub fn join(
        &mut self,
        build_id: &str,
        chunks: &[ChunkSpec],
        tests_total: u64,
    ) -> Result<Role, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.join);
        inv.arg(build_id)
            .arg(QUEUE_FORMAT_VERSION)
            .arg(&self.machine)
            .arg(millis(self.lease))
            .arg(self.ttl_secs())
            .arg(tests_total);
        for chunk in chunks {
            inv.arg(to_json(chunk));
        }
        let reply: Vec<String> = self.call("join", &inv)?;
        let theirs = reply.get(1).cloned().unwrap_or_default();
        match reply.first().map(String::as_str) {
            Some("leader") => Ok(Role::Leader),
            Some("follower") => Ok(Role::Follower),
            Some("mismatch") => Err(QueueError::BuildMismatch {
                run_id: self.run_id.clone(),
                ours: build_id.to_owned(),
                theirs,
            }),
            Some("reused") => Err(QueueError::RunIdReused {
                run_id: self.run_id.clone(),
                theirs,
            }),
            Some("format") => Err(self.protocol(
                "join",
                format!(
                    "the run was set up by a cargo xpar of queue format {theirs}, this one \
                     writes {QUEUE_FORMAT_VERSION}"
                ),
            )),
            _ => Err(self.unexpected("join", &reply)),
        }
    }

    /// Reserves the next chunk for `worker` (a label shown in `status`), after putting
    /// back in the queue every chunk whose lease ran out.
    pub fn reserve(&mut self, worker: &str) -> Result<Reserve, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.reserve);
        inv.arg(&self.machine)
            .arg(worker)
            .arg(millis(self.lease))
            .arg(self.ttl_secs());
        let reply: Vec<String> = self.call("reserve", &inv)?;
        let field = |i: usize| reply.get(i).map(String::as_str);
        match (field(0), field(1), field(2), field(3)) {
            (Some("chunk"), Some(id), Some(payload), Some(token)) => {
                let spec = serde_json::from_str(payload)
                    .map_err(|e| self.protocol("reserve", format!("chunk {id}: {e}")))?;
                Ok(Reserve::Chunk {
                    id: ChunkId(self.number("reserve", id)?),
                    spec,
                    token: Token(self.number("reserve", token)?),
                })
            }
            (Some("wait"), Some(ms), machines, ..) => Ok(Reserve::Wait {
                next_expiry: Duration::from_millis(self.number("reserve", ms).unwrap_or(0)),
                machines: machines.map_or(Ok(1), |m| self.number("reserve", m))? as usize,
            }),
            (Some("done"), ..) => Ok(Reserve::Done),
            (Some("cancelled"), Some(reason), ..) => Ok(Reserve::Cancelled {
                reason: reason.to_owned(),
            }),
            (Some("gone"), ..) => Err(QueueError::RunGone {
                run_id: self.run_id.clone(),
            }),
            _ => Err(self.unexpected("reserve", &reply)),
        }
    }

    /// Extends the leases this machine still holds: chunks (where `token` is still the
    /// chunk's) and serial keys `(key, token)`; refreshes the machine's liveness. Names
    /// the ones it no longer holds: taken back after their lease ran out, or (chunks)
    /// acknowledged already, so the caller drops a chunk from its heartbeat before it
    /// acknowledges it.
    pub fn heartbeat(
        &mut self,
        chunks: &[(ChunkId, Token)],
        keys: &[(&str, &str)],
    ) -> Result<Heartbeat, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.heartbeat);
        for (key, _) in keys {
            inv.key(self.keys.serial(key));
        }
        inv.arg(&self.machine)
            .arg(millis(self.lease))
            .arg(self.ttl_secs())
            .arg(chunks.len());
        for (id, token) in chunks {
            inv.arg(id.0).arg(token.0);
        }
        for (_, token) in keys {
            inv.arg(*token);
        }
        let lost: Vec<String> = self.call("heartbeat", &inv)?;
        let mut beat = Heartbeat::default();
        for item in &lost {
            let lost_key = |i: &str| i.parse::<usize>().ok().and_then(|i| keys.get(i - 1));
            match item.split_at_checked(1) {
                Some(("c", id)) => beat
                    .lost_chunks
                    .push(ChunkId(self.number("heartbeat", id)?)),
                Some(("k", i)) => match lost_key(i) {
                    Some((key, _)) => beat.lost_keys.push((*key).to_owned()),
                    None => return Err(self.unexpected("heartbeat", &lost)),
                },
                _ => return Err(self.unexpected("heartbeat", &lost)),
            }
        }
        Ok(beat)
    }

    /// Records the results of chunk `id`, reserved with `token`, and queues `retries`
    /// (the next attempts of its failed tests) at the front, in one step: a machine that
    /// died between the two would otherwise lose the retries and the run never finish.
    /// Nothing is recorded where the lease ran out and the chunk was handed out again
    /// ([`Ack::Stale`]), nor a second time for the same token.
    pub fn acknowledge(
        &mut self,
        id: ChunkId,
        token: Token,
        results: &[ResultRecord],
        retries: &[ChunkSpec],
    ) -> Result<Ack, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.ack);
        inv.arg(id.0)
            .arg(token.0)
            .arg(&self.machine)
            .arg(millis(self.lease))
            .arg(self.ttl_secs())
            .arg(results.len());
        for result in results {
            inv.arg(ResultKey::encode(&result.test, result.attempt))
                .arg(&result.json)
                .arg(if result.is_final { "1" } else { "0" });
        }
        for retry in retries {
            inv.arg(to_json(retry));
        }
        let reply: Vec<String> = self.call("ack", &inv)?;
        match reply.first().map(String::as_str) {
            Some("stale") => Ok(Ack::Stale),
            Some("ok") if reply.len() >= 4 => {
                let mut numbers = reply[1..].iter().map(|n| self.number("ack", n));
                let mut next = || numbers.next().unwrap_or(Ok(0));
                Ok(Ack::Recorded {
                    new: next()? as usize,
                    done: next()?,
                    total: next()?,
                    retries: numbers.map(|n| n.map(ChunkId)).collect::<Result<_, _>>()?,
                })
            }
            _ => Err(self.unexpected("ack", &reply)),
        }
    }

    /// Queues `chunk` (a retry) at the front of the queue.
    pub fn requeue(&mut self, chunk: &ChunkSpec) -> Result<ChunkId, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.requeue);
        inv.arg(self.ttl_secs()).arg(to_json(chunk));
        let id: String = self.call("requeue", &inv)?;
        Ok(ChunkId(self.number("requeue", &id)?))
    }

    /// Adds `n` failures to the run's count across machines (`--maxfail`): the new total.
    pub fn add_failures(&mut self, n: u64) -> Result<u64, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.failures);
        inv.arg(self.ttl_secs()).arg(n);
        self.call("add_failures", &inv)
    }

    /// Cancels the run on every machine: `reserve` answers [`Reserve::Cancelled`] from
    /// now on. The first reason given stands, and is returned.
    pub fn cancel(&mut self, reason: &str) -> Result<String, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.cancel);
        inv.arg(self.ttl_secs()).arg(reason);
        self.call("cancel", &inv)
    }

    /// Why the run was cancelled, if it was.
    pub fn cancelled(&mut self) -> Result<Option<String>, QueueError> {
        let meta = &self.keys.all()[1];
        let reason = redis::cmd("HGET")
            .arg(meta)
            .arg("cancelled")
            .query(&mut self.conn);
        reason.map_err(|e| self.fail("cancelled", e))
    }

    /// Takes serial key `key` (`#[serial(key)]`) for `token` (unique to the holder) for
    /// `lease`, unless another holder has it: whether it was taken. Heartbeats extend it;
    /// a holder that dies loses it when the lease runs out.
    pub fn acquire_key(
        &mut self,
        key: &str,
        token: &str,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let set = redis::cmd("SET")
            .arg(self.keys.serial(key))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(millis(lease))
            .query::<Option<String>>(&mut self.conn);
        Ok(set.map_err(|e| self.fail("acquire_key", e))?.is_some())
    }

    /// Frees serial key `key` if `token` still holds it: whether it did.
    pub fn release_key(&mut self, key: &str, token: &str) -> Result<bool, QueueError> {
        let mut inv = self.invocation(&SCRIPTS.release_key);
        inv.key(self.keys.serial(key)).arg(token);
        let deleted: u64 = self.call("release_key", &inv)?;
        Ok(deleted == 1)
    }

    /// How long a reserved chunk or a serial key stays this machine's without a
    /// heartbeat.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The requests sent so far, for "Redis commands per test".
    pub fn counts(&self) -> Counts {
        self.conn.counts()
    }

    /// What every key of the run starts with (`redis-cli --scan --pattern 'PREFIX*'`).
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// A script call with the run's keys, in the order `common.lua` reads them.
    pub(super) fn invocation(&self, script: &'static Script) -> ScriptInvocation<'static> {
        let mut inv = script.prepare_invoke();
        for key in self.keys.all() {
            inv.key(key);
        }
        inv
    }

    pub(super) fn call<T: FromRedisValue>(
        &mut self,
        op: &'static str,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, QueueError> {
        inv.invoke(&mut self.conn).map_err(|e| self.fail(op, e))
    }

    /// A failed request: the connection is gone ([`QueueError::Lost`]), or Redis refused.
    pub(super) fn fail(&self, op: &'static str, e: RedisError) -> QueueError {
        let gone = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error();
        if gone {
            QueueError::Lost {
                url: self.url.clone(),
                why: one_line(&e),
            }
        } else {
            QueueError::Redis {
                url: self.url.clone(),
                op,
                why: one_line(&e),
            }
        }
    }

    pub(super) fn protocol(&self, op: &'static str, why: String) -> QueueError {
        QueueError::Protocol {
            url: self.url.clone(),
            op,
            why,
        }
    }

    pub(super) fn unexpected(&self, op: &'static str, reply: &[String]) -> QueueError {
        self.protocol(op, format!("unexpected reply {reply:?}"))
    }

    pub(super) fn number(&self, op: &'static str, text: &str) -> Result<u64, QueueError> {
        text.parse()
            .map_err(|_| self.protocol(op, format!("`{text}` is not a count")))
    }

    pub(super) fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn to_json(chunk: &ChunkSpec) -> String {
    // A ChunkSpec is strings and numbers: serializing it cannot fail.
    serde_json::to_string(chunk).unwrap_or_default()
}

fn one_line(e: &RedisError) -> String {
    e.to_string().replace('\n', " ")
}

/// A name that goes into keys or owner entries: not empty, and without the characters
/// that delimit them.
fn check_name(what: &'static str, value: &str, forbidden: &[char]) -> Result<(), QueueError> {
    if value.is_empty() || value.contains(forbidden) {
        return Err(QueueError::BadName {
            what,
            value: value.to_owned(),
            forbidden: forbidden.iter().collect(),
        });
    }
    Ok(())
}

/// `url` with any password replaced by `***`, for messages. By hand rather than with
/// the `url` crate so that a URL that does not parse can be shown too.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("redis://:s3cret@h:1/2"),
            "redis://:***@h:1/2"
        );
        assert_eq!(without_password("redis://u:p@h"), "redis://u:***@h");
        assert_eq!(without_password("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(without_password("unix:///tmp/r.sock"), "unix:///tmp/r.sock");
    }

    #[test]
    fn names_that_would_break_keys_are_refused() {
        assert!(check_name("run id", "ci-1", &['{', '}']).is_ok());
        for bad in ["", "a{b", "}"] {
            let err = check_name("run id", bad, &['{', '}']).unwrap_err();
            assert!(matches!(err, QueueError::BadName { .. }), "{bad}");
        }
    }
}
