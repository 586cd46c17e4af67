//! The connection to Redis, counting what goes over it: the round trips and commands
//! each operation costs, for measuring "Redis commands per test".

use redis::{Cmd, ConnectionLike, RedisResult, Value};

/// What a client has sent so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered: one per command, or per pipeline.
    pub round_trips: u64,
    /// Commands sent (a script call is one, whatever it runs on the server; a script
    /// the server did not have costs a SCRIPT LOAD and a second EVALSHA).
    pub commands: u64,
}

/// A [`redis::Connection`] that counts its requests. The crate has no counter of its
/// own; wrapping [`ConnectionLike`] sees every request, including the SCRIPT LOAD that
/// `Script::invoke` sends when the server does not know a script yet.
pub(crate) struct Counted {
    pub(crate) inner: redis::Connection,
    counts: Counts,
}

impl Counted {
    pub(crate) fn new(inner: redis::Connection) -> Self {
        Counted {
            inner,
            counts: Counts::default(),
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    fn count(&mut self, commands: u64) {
        self.counts.round_trips += 1;
        self.counts.commands += commands;
    }
}

impl ConnectionLike for Counted {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        self.count(1);
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        self.count(count as u64);
        self.inner.req_packed_commands(cmd, offset, count)
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        self.count(1);
        self.inner.req_command(cmd)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }

    fn supports_pipelining(&self) -> bool {
        self.inner.supports_pipelining()
    }

    fn check_connection(&mut self) -> bool {
        self.inner.check_connection()
    }

    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
