//! The queue's Lua scripts, one per protocol step, each run atomically by Redis.
//! `redis::Script` sends them by SHA (EVALSHA) and loads them on the first NOSCRIPT.

use std::sync::LazyLock;

use redis::Script;

/// Every script starts with `common.lua`: the run's keys, the server's clock, the TTL.
macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

pub(crate) struct Scripts {
    pub(crate) join: Script,
    pub(crate) reserve: Script,
    pub(crate) ack: Script,
    pub(crate) heartbeat: Script,
    pub(crate) requeue: Script,
    pub(crate) failures: Script,
    pub(crate) cancel: Script,
    pub(crate) release_key: Script,
    pub(crate) status: Script,
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    join: script!("join.lua"),
    reserve: script!("reserve.lua"),
    ack: script!("ack.lua"),
    heartbeat: script!("heartbeat.lua"),
    requeue: script!("requeue.lua"),
    failures: script!("failures.lua"),
    cancel: script!("cancel.lua"),
    release_key: script!("release_key.lua"),
    status: script!("status.lua"),
});
