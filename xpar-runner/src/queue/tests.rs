//! The queue's protocol against a real redis-server (started per test by
//! [`RedisServer`]; the test skips where redis-server is not installed, and fails under
//! `XPAR_REQUIRE_TOOLS=1`).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use xpar_metadata::BinaryId;
use xpar_tests::RedisServer;

use super::*;
use crate::errors::QueueError;
use crate::ids::{Attempt, TestId};

mod fleet;

pub(super) const LEASE: Duration = Duration::from_secs(30);
pub(super) const TTL: Duration = Duration::from_secs(600);

pub(super) fn client(server: &RedisServer, run: &str, machine: &str) -> RemoteQueue {
    client_with(server, run, machine, LEASE)
}

pub(super) fn client_with(
    server: &RedisServer,
    run: &str,
    machine: &str,
    lease: Duration,
) -> RemoteQueue {
    RemoteQueue::connect(&server.url(), run, machine, lease, TTL).expect("connect")
}

/// Chunk `i` of `binary`: one test, `t{i}`, first attempt.
pub(super) fn chunk(binary: &str, i: usize) -> ChunkSpec {
    ChunkSpec {
        binary_id: BinaryId::new(binary),
        tests: ChunkTests::Named(vec![format!("t{i}")]),
        attempt: Attempt::FIRST,
        expected_secs: 1.0,
    }
}

pub(super) fn chunks(binary: &str, n: usize) -> Vec<ChunkSpec> {
    (0..n).map(|i| chunk(binary, i)).collect()
}

/// A result for every test of `spec`, `json` as given.
pub(super) fn results(spec: &ChunkSpec, json: &str, is_final: bool) -> Vec<ResultRecord> {
    let ChunkTests::Named(names) = &spec.tests else {
        return Vec::new();
    };
    names
        .iter()
        .map(|name| ResultRecord {
            test: TestId::new(spec.binary_id.clone(), name),
            attempt: spec.attempt,
            json: json.to_owned(),
            is_final,
        })
        .collect()
}

pub(super) fn reserve_chunk(q: &mut RemoteQueue) -> (ChunkId, ChunkSpec, Token) {
    match q.reserve("w0").expect("reserve") {
        Reserve::Chunk { id, spec, token } => (id, spec, token),
        other => panic!("expected a chunk, got {other:?}"),
    }
}

/// Reserves a chunk, waiting out the lease the queue says runs out next while there is
/// none: the only way to see a lease run out on the server's clock, which is what this
/// protocol trusts.
fn reserve_after_expiry(q: &mut RemoteQueue) -> (ChunkId, ChunkSpec, Token) {
    for _ in 0..20 {
        match q.reserve("w-wait").expect("reserve") {
            Reserve::Wait { next_expiry, .. } if next_expiry <= Duration::from_secs(1) => {
                std::thread::sleep(next_expiry + Duration::from_millis(5))
            }
            Reserve::Chunk { id, spec, token } => return (id, spec, token),
            other => panic!("expected a chunk or a short wait for one, got {other:?}"),
        }
    }
    panic!("no lease ran out in 20 waits")
}

#[test]
fn seeding_happens_once_when_two_machines_race() {
    let Some(server) = RedisServer::start("seeding_happens_once_when_two_machines_race") else {
        return;
    };
    for round in 0..20 {
        let run = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let joins: Vec<_> = ["m1", "m2"]
            .into_iter()
            .map(|machine| {
                let mut q = client(&server, &run, machine);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    (
                        machine,
                        q.join("build-1", &chunks(machine, 5), 5).expect("join"),
                    )
                })
            })
            .collect();
        let roles: Vec<_> = joins
            .into_iter()
            .map(|j| j.join().expect("joined"))
            .collect();
        let leaders: Vec<_> = roles.iter().filter(|(_, r)| *r == Role::Leader).collect();
        assert_eq!(leaders.len(), 1, "round {round}: {roles:?}");
        let leader = leaders[0].0;
        let mut q = client(&server, &run, "m3");
        let mut seen = Vec::new();
        while let Reserve::Chunk { spec, .. } = q.reserve("w").expect("reserve") {
            seen.push(spec);
        }
        assert_eq!(
            seen,
            chunks(leader, 5),
            "round {round}: only the leader's chunks, in order"
        );
    }
}

#[test]
fn every_chunk_reserved_and_acknowledged_completes_the_run() {
    let Some(server) = RedisServer::start("every_chunk_reserved_and_acknowledged") else {
        return;
    };
    let mut q = client(&server, "all", "m1");
    assert_eq!(q.join("b", &chunks("bin", 3), 3).unwrap(), Role::Leader);
    let reserved: Vec<_> = (0..3).map(|_| reserve_chunk(&mut q)).collect();
    assert_eq!(
        reserved.iter().map(|r| r.0 .0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        matches!(q.reserve("w0").unwrap(), Reserve::Wait { next_expiry, .. } if next_expiry <= LEASE)
    );
    assert!(!q.is_complete().unwrap());
    for (n, (id, spec, token)) in reserved.iter().enumerate() {
        let ack = q
            .acknowledge(*id, *token, &results(spec, "{}", true), &[])
            .unwrap();
        let done = n as u64 + 1;
        assert_eq!(
            ack,
            Ack::Recorded {
                new: 1,
                done,
                total: 3,
                retries: vec![]
            }
        );
    }
    assert_eq!(q.reserve("w0").unwrap(), Reserve::Done);
    assert!(q.is_complete().unwrap());
    let status = q.status().unwrap();
    assert_eq!((status.done, status.total, status.queued), (3, 3, 0));
    assert!(status.leases.is_empty());
    assert_eq!(status.machines.len(), 1);
    assert!(status.machines[0].alive);
    assert_eq!(q.results().unwrap().len(), 3);
}

#[test]
fn an_expired_lease_goes_to_another_machine_and_the_late_ack_is_stale() {
    let Some(server) = RedisServer::start("an_expired_lease_goes_to_another_machine") else {
        return;
    };
    let short = Duration::from_millis(150);
    let mut a = client_with(&server, "expiry", "a", short);
    let mut b = client_with(&server, "expiry", "b", short);
    a.join("b", &chunks("bin", 1), 1).unwrap();
    let (id, spec, a_token) = reserve_chunk(&mut a);
    // `a` dies: no heartbeat. Its lease runs out and `b` gets the chunk.
    let (b_id, b_spec, b_token) = reserve_after_expiry(&mut b);
    assert_eq!((b_id, &b_spec), (id, &spec));
    assert_ne!(a_token, b_token);
    let late = a
        .acknowledge(id, a_token, &results(&spec, "\"a\"", true), &[])
        .unwrap();
    assert_eq!(late, Ack::Stale);
    assert!(
        a.results().unwrap().is_empty(),
        "a stale ack records nothing"
    );
    let beat = a.heartbeat(&[(id, a_token)], &[]).unwrap();
    assert_eq!(beat.lost_chunks, [id]);
    let ack = b
        .acknowledge(id, b_token, &results(&spec, "\"b\"", true), &[])
        .unwrap();
    assert!(
        matches!(
            ack,
            Ack::Recorded {
                new: 1,
                done: 1,
                ..
            }
        ),
        "{ack:?}"
    );
    let recorded = b.results().unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].1, "\"b\"");
    assert_eq!(b.status().unwrap().expired, 1);
}

#[test]
fn heartbeats_keep_a_lease_that_would_run_out() {
    let Some(server) = RedisServer::start("heartbeats_keep_a_lease") else {
        return;
    };
    // Heartbeats every sixth of the lease leave room for a loaded machine's delays.
    let lease = Duration::from_millis(600);
    let mut a = client_with(&server, "beat", "a", lease);
    let mut b = client_with(&server, "beat", "b", lease);
    a.join("b", &chunks("bin", 1), 1).unwrap();
    let (id, _, token) = reserve_chunk(&mut a);
    let started = Instant::now();
    // Past the first lease's end, with heartbeats: never given away.
    while started.elapsed() < lease * 2 {
        assert_eq!(
            a.heartbeat(&[(id, token)], &[]).unwrap(),
            Heartbeat::default()
        );
        assert!(matches!(b.reserve("w").unwrap(), Reserve::Wait { .. }));
        std::thread::sleep(lease / 6);
    }
    let beat = a.heartbeat(&[(id, Token(token.0 + 1))], &[]).unwrap();
    assert_eq!(
        beat.lost_chunks,
        [id],
        "a token that is not the chunk's extends nothing"
    );
    assert_eq!(b.status().unwrap().expired, 0);
}

#[test]
fn a_duplicate_ack_records_nothing_new() {
    let Some(server) = RedisServer::start("a_duplicate_ack_records_nothing_new") else {
        return;
    };
    let mut q = client(&server, "dup", "m");
    q.join("b", &chunks("bin", 2), 2).unwrap();
    let (id, spec, token) = reserve_chunk(&mut q);
    let retry = ChunkSpec {
        attempt: Attempt::FIRST.next(),
        ..spec.clone()
    };
    let first = q
        .acknowledge(
            id,
            token,
            &results(&spec, "\"1\"", false),
            std::slice::from_ref(&retry),
        )
        .unwrap();
    assert_eq!(
        first,
        Ack::Recorded {
            new: 1,
            done: 0,
            total: 2,
            retries: vec![ChunkId(3)]
        }
    );
    let again = q
        .acknowledge(
            id,
            token,
            &results(&spec, "\"2\"", true),
            std::slice::from_ref(&retry),
        )
        .unwrap();
    assert_eq!(
        again,
        Ack::Recorded {
            new: 0,
            done: 0,
            total: 2,
            retries: vec![]
        }
    );
    assert_eq!(q.results().unwrap()[0].1, "\"1\"");
    let beat = q.heartbeat(&[(id, token)], &[]).unwrap();
    assert_eq!(
        beat.lost_chunks,
        [id],
        "an acknowledged chunk has no lease left to extend"
    );
    let status = q.status().unwrap();
    assert_eq!(
        status.queued, 2,
        "the retry was queued once (with the second chunk)"
    );
}

#[test]
fn each_test_attempt_is_recorded_once() {
    let Some(server) = RedisServer::start("each_test_attempt_is_recorded_once") else {
        return;
    };
    let mut q = client(&server, "once", "m");
    let spec = chunk("bin", 0);
    q.join("b", &[spec.clone(), spec.clone()], 1).unwrap();
    let (id1, _, t1) = reserve_chunk(&mut q);
    let retry = ChunkSpec {
        attempt: Attempt::FIRST.next(),
        ..spec.clone()
    };
    let ack = q
        .acknowledge(id1, t1, &results(&spec, "\"fail\"", false), &[retry])
        .unwrap();
    assert!(matches!(&ack, Ack::Recorded { new: 1, done: 0, retries, .. } if retries.len() == 1));
    // The retry comes first, then the second copy of attempt 1 (recorded already).
    let (id2, got, t2) = reserve_chunk(&mut q);
    assert_eq!(got.attempt.number(), 2);
    let ack = q
        .acknowledge(id2, t2, &results(&got, "\"pass\"", true), &[])
        .unwrap();
    assert!(
        matches!(
            ack,
            Ack::Recorded {
                new: 1,
                done: 1,
                total: 1,
                ..
            }
        ),
        "{ack:?}"
    );
    let (id3, copy, t3) = reserve_chunk(&mut q);
    let ack = q
        .acknowledge(id3, t3, &results(&copy, "\"again\"", true), &[])
        .unwrap();
    assert!(
        matches!(
            ack,
            Ack::Recorded {
                new: 0,
                done: 1,
                ..
            }
        ),
        "{ack:?}"
    );
    let recorded = q.results().unwrap();
    let attempts: Vec<_> = recorded
        .iter()
        .map(|(k, j)| (k.attempt.number(), j.as_str()))
        .collect();
    assert_eq!(attempts, [(1, "\"fail\""), (2, "\"pass\"")]);
    assert_eq!(recorded[0].0.test, TestId::new(BinaryId::new("bin"), "t0"));
    assert!(q.is_complete().unwrap());
}

#[test]
fn another_build_and_a_finished_run_are_refused() {
    let Some(server) = RedisServer::start("another_build_and_a_finished_run_are_refused") else {
        return;
    };
    let mut a = client(&server, "ci-7", "a");
    a.join("build-a", &chunks("bin", 1), 1).unwrap();
    let mut b = client(&server, "ci-7", "b");
    match b.join("build-b", &chunks("bin", 1), 1) {
        Err(QueueError::BuildMismatch {
            run_id,
            ours,
            theirs,
        }) => {
            assert_eq!(
                (run_id.as_str(), ours.as_str(), theirs.as_str()),
                ("ci-7", "build-b", "build-a")
            );
        }
        other => panic!("expected a build mismatch, got {other:?}"),
    }
    assert_eq!(b.join("build-a", &[], 1).unwrap(), Role::Follower);
    let (id, spec, token) = reserve_chunk(&mut a);
    a.acknowledge(id, token, &results(&spec, "{}", true), &[])
        .unwrap();
    let err = b.join("build-b", &chunks("bin", 1), 1).unwrap_err();
    assert!(matches!(err, QueueError::RunIdReused { .. }), "{err:?}");
    assert!(err.to_string().contains("new --run-id"), "{err}");
    assert_eq!(b.join("build-a", &[], 1).unwrap(), Role::Follower);
    assert_eq!(b.reserve("w").unwrap(), Reserve::Done);
}

#[test]
fn an_unreachable_queue_fails_at_once() {
    // A loopback port nothing listens on: refused, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let url = format!("redis://:secret@127.0.0.1:{port}/0");
    let started = Instant::now();
    let err = RemoteQueue::connect(&url, "r", "m", LEASE, TTL)
        .err()
        .expect("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, QueueError::Unreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        !message.contains("secret") && !message.contains('\n'),
        "{message}"
    );
    let bad = RemoteQueue::connect("http://x", "r", "m", LEASE, TTL)
        .err()
        .expect("bad url");
    assert!(matches!(bad, QueueError::BadUrl { .. }), "{bad:?}");
}

#[test]
fn a_server_killed_mid_run_is_lost() {
    let Some(mut server) = RedisServer::start("a_server_killed_mid_run_is_lost") else {
        return;
    };
    let mut q = client(&server, "lost", "m");
    q.join("b", &chunks("bin", 2), 2).unwrap();
    reserve_chunk(&mut q);
    server.kill();
    let err = q.reserve("w0").unwrap_err();
    assert!(matches!(err, QueueError::Lost { .. }), "{err:?}");
}

#[test]
fn a_unix_socket_url_works() {
    let Some(server) = RedisServer::start_unix("a_unix_socket_url_works") else {
        return;
    };
    assert!(server.url().starts_with("redis+unix://"));
    let mut q = client(&server, "unix", "m");
    q.join("b", &chunks("bin", 1), 1).unwrap();
    let (id, spec, token) = reserve_chunk(&mut q);
    assert_eq!(spec, chunk("bin", 0));
    q.acknowledge(id, token, &results(&spec, "{}", true), &[])
        .unwrap();
    assert!(q.is_complete().unwrap());
}
