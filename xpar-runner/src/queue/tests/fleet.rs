//! The queue under many clients: keys that expire, serial keys, failures and
//! cancellation across machines, many workers draining one queue, and what each step
//! costs in round trips.

use std::collections::BTreeMap;
use std::time::Duration;

use xpar_tests::RedisServer;

use super::*;

/// Every key under `prefix`, with its remaining time to live in ms (-1: none).
fn keys_and_ttls(server: &RedisServer, prefix: &str) -> BTreeMap<String, i64> {
    let mut conn = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("connect");
    let mut keys = BTreeMap::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .query(&mut conn)
            .expect("scan");
        for key in batch {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).expect("pttl");
            keys.insert(key, ttl);
        }
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

#[test]
fn every_key_of_a_run_expires() {
    let Some(server) = RedisServer::start("every_key_of_a_run_expires") else {
        return;
    };
    // After a reserve alone (which refreshes only what it may create).
    let mut first = client(&server, "ttl-reserve", "m");
    first.join("b", &chunks("bin", 3), 3).unwrap();
    reserve_chunk(&mut first);
    let keys = keys_and_ttls(&server, first.key_prefix());
    assert_eq!(keys.len(), 7, "{keys:?}");
    for (key, ttl) in &keys {
        assert!(*ttl > 0, "{key} has no TTL ({ttl})");
    }
    let mut q = client(&server, "ttl", "m");
    q.join("b", &chunks("bin", 3), 3).unwrap();
    let (id, spec, token) = reserve_chunk(&mut q);
    reserve_chunk(&mut q);
    q.acknowledge(id, token, &results(&spec, "{}", true), &[])
        .unwrap();
    q.requeue(&chunk("bin", 9)).unwrap();
    q.add_failures(1).unwrap();
    q.cancel("maxfail").unwrap();
    assert!(q.acquire_key("db", "m/w0", LEASE).unwrap());
    let keys = keys_and_ttls(&server, q.key_prefix());
    let names: Vec<_> = keys
        .keys()
        .map(|k| k.trim_start_matches(q.key_prefix()))
        .collect();
    assert_eq!(
        names,
        [
            "build",
            "chunks",
            "leases",
            "machines",
            "meta",
            "owners",
            "queue",
            "results",
            "serial:db"
        ]
    );
    for (key, ttl) in &keys {
        assert!(*ttl > 0, "{key} has no TTL ({ttl})");
    }
}

#[test]
fn a_serial_key_is_freed_when_its_holder_dies() {
    let Some(server) = RedisServer::start("a_serial_key_is_freed_when_its_holder_dies") else {
        return;
    };
    let mut a = client(&server, "serial", "a");
    let mut b = client(&server, "serial", "b");
    let lease = Duration::from_millis(200);
    assert!(a.acquire_key("db", "a/w0", LEASE).unwrap());
    assert!(!b.acquire_key("db", "b/w0", lease).unwrap(), "held by a");
    assert!(
        !b.release_key("db", "b/w0").unwrap(),
        "only its holder frees it"
    );
    let beat = a
        .heartbeat(&[], &[("db", "a/w0"), ("cache", "a/w0")])
        .unwrap();
    assert_eq!(beat.lost_keys, ["cache"]);
    assert!(a.release_key("db", "a/w0").unwrap());
    assert!(b.acquire_key("db", "b/w0", lease).unwrap());
    // b dies holding it: no heartbeat, no release. Once the lease has run out (waited on
    // the server's own count), a takes it.
    let mut conn = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .expect("connect");
    // -2 once it is gone already.
    let left: i64 = redis::cmd("PTTL")
        .arg(format!("{}serial:db", a.key_prefix()))
        .query(&mut conn)
        .expect("pttl");
    assert!(left <= 200, "{left}");
    std::thread::sleep(Duration::from_millis(left.max(0) as u64 + 5));
    assert!(a.acquire_key("db", "a/w1", lease).unwrap());
    let beat = b.heartbeat(&[], &[("db", "b/w0")]).unwrap();
    assert_eq!(
        beat.lost_keys,
        ["db"],
        "b's late heartbeat does not take it back"
    );
}

#[test]
fn failures_and_cancellation_reach_every_machine() {
    let Some(server) = RedisServer::start("failures_and_cancellation_reach_every_machine") else {
        return;
    };
    let mut a = client(&server, "maxfail", "a");
    let mut b = client(&server, "maxfail", "b");
    a.join("b", &chunks("bin", 4), 4).unwrap();
    b.join("b", &[], 4).unwrap();
    assert_eq!(a.add_failures(2).unwrap(), 2);
    assert_eq!(b.add_failures(3).unwrap(), 5);
    assert_eq!(b.cancelled().unwrap(), None);
    assert_eq!(
        b.cancel("--maxfail 5 reached on b").unwrap(),
        "--maxfail 5 reached on b"
    );
    assert_eq!(
        a.cancel("--maxfail 5 reached on a").unwrap(),
        "--maxfail 5 reached on b"
    );
    assert_eq!(
        a.cancelled().unwrap().as_deref(),
        Some("--maxfail 5 reached on b")
    );
    let reason = "--maxfail 5 reached on b".to_owned();
    assert_eq!(a.reserve("w").unwrap(), Reserve::Cancelled { reason });
    let status = a.status().unwrap();
    assert_eq!((status.failures, status.queued), (5, 4));
    assert_eq!(status.machines.len(), 2);
}

#[test]
fn eight_workers_drain_a_thousand_chunks_each_once() {
    let Some(server) = RedisServer::start("eight_workers_drain_a_thousand_chunks") else {
        return;
    };
    let mut leader = client(&server, "fleet", "leader");
    leader.join("b", &chunks("bin", 1000), 1000).unwrap();
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let mut q = client(&server, "fleet", &format!("m{}", w % 4));
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match q.reserve(&format!("w{w}")).expect("reserve") {
                        Reserve::Chunk { id, spec, token } => {
                            let ack = q.acknowledge(id, token, &results(&spec, "{}", true), &[]);
                            assert!(matches!(ack, Ok(Ack::Recorded { new: 1, .. })), "{ack:?}");
                            got.push(id.0);
                        }
                        Reserve::Done => return got,
                        // Others hold the last chunks: one may come back. Ask again, as
                        // a worker does.
                        Reserve::Wait { .. } => std::thread::sleep(Duration::from_millis(1)),
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=1000).collect::<Vec<_>>(),
        "every chunk exactly once"
    );
    assert!(leader.is_complete().unwrap());
    assert_eq!(leader.results().unwrap().len(), 1000);
}

#[test]
fn each_step_is_one_round_trip() {
    let Some(server) = RedisServer::start("each_step_is_one_round_trip") else {
        return;
    };
    let mut q = client(&server, "counts", "m");
    q.join("b", &chunks("bin", 3), 3).unwrap();
    // The first call of each script loads it (EVALSHA, SCRIPT LOAD, EVALSHA).
    let (id, spec, token) = reserve_chunk(&mut q);
    q.heartbeat(&[(id, token)], &[]).unwrap();
    q.acknowledge(id, token, &results(&spec, "{}", true), &[])
        .unwrap();
    let before = q.counts();
    let (id, spec, token) = reserve_chunk(&mut q);
    q.heartbeat(&[(id, token)], &[]).unwrap();
    q.acknowledge(id, token, &results(&spec, "{}", true), &[])
        .unwrap();
    let after = q.counts();
    assert_eq!(after.round_trips - before.round_trips, 3);
    assert_eq!(after.commands - before.commands, 3);
}
