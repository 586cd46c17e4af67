//! A fleet of simulated machines draining one run's queue on a real redis-server on this
//! machine: each machine is a thread with its own connection that "runs" a chunk by
//! sleeping its tests' known durations times SCALE, then acknowledges one result per
//! test. The suite is 10,000 tests of 50 binaries with fixed pseudo-random durations;
//! chunks are cut as `--dist load` cuts the shared queue (guided self-scheduling: a
//! machine's share of what is left, longest tests first, never past the share).
//!
//! `cargo bench -p xpar-runner --bench queue_sim -- [MACHINES] [SCALE] [single]`
//! (defaults 200 and 0.1; SCALE 0 measures the queue alone; `single`: one test per chunk,
//! the most requests a suite can cost, as ci-queue queues tests). Prints the makespan against the ideal
//! (max(sum / machines, longest test)), requests per second, reserve and ack latency
//! percentiles, and the server's CPU time.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use xpar_metadata::{Attempt, BinaryId, TestId};
use xpar_runner::queue::{Ack, ChunkSpec, ChunkTests, RemoteQueue, Reserve, ResultRecord};
use xpar_tests::RedisServer;

const TESTS: usize = 10_000;
const BINARIES: usize = 50;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let machines: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let scale: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let single = args.next().is_some_and(|a| a == "single");
    let Some(server) = RedisServer::start("queue_sim") else {
        eprintln!("queue_sim: redis-server is not installed (run .ci/setup)");
        return;
    };
    let tests = suite();
    let chunks = if single {
        guided_chunks(&tests, usize::MAX)
    } else {
        guided_chunks(&tests, machines)
    };
    let sum: f64 = tests.iter().map(|t| t.1).sum();
    let longest = tests.iter().map(|t| t.1).fold(0.0, f64::max);
    let ideal = (sum / machines as f64).max(longest) * scale;
    println!(
        "suite: {TESTS} tests, {sum:.0} s in all, longest {longest:.1} s; {} chunks for \
         {machines} machines; scale {scale}",
        chunks.len()
    );

    let mut leader = connect(&server, "leader");
    let seeded = Instant::now();
    leader.join("build", &chunks, TESTS as u64).expect("join");
    let seed_time = seeded.elapsed();
    let cpu_before = server_cpu(&server);

    let start = Arc::new(Barrier::new(machines + 1));
    let fleet: Vec<_> = (0..machines)
        .map(|m| {
            let mut q = connect(&server, &format!("m{m}"));
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                machine(&mut q, scale)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let stats: Vec<Stats> = fleet
        .into_iter()
        .map(|m| m.join().expect("machine"))
        .collect();
    let makespan = began.elapsed();
    let cpu = server_cpu(&server) - cpu_before;
    assert!(
        leader.is_complete().expect("complete"),
        "the run did not complete"
    );

    report(&stats, makespan, ideal, seed_time, cpu, chunks.len());
    println!(
        "| server time per script call (INFO commandstats) | {} |",
        evalsha_stats(&server)
    );
}

/// (binary, duration s) of every test: 85% take 5-100 ms, 14% 0.1-2 s, 1% 2-15 s, from a
/// fixed xorshift so every run of the benchmark has the same suite.
fn suite() -> Vec<(usize, f64)> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..TESTS)
        .map(|i| {
            let (kind, u) = (uniform(), uniform());
            let secs = match kind {
                k if k < 0.85 => 0.005 + 0.095 * u,
                k if k < 0.99 => 0.1 + 1.9 * u,
                _ => 2.0 + 13.0 * u,
            };
            (i % BINARIES, secs)
        })
        .collect()
}

/// The queue `--dist load` would hand out: longest tests first, each chunk of one binary
/// and a machine's share of what is left (no chunk past it, at least one test).
fn guided_chunks(tests: &[(usize, f64)], machines: usize) -> Vec<ChunkSpec> {
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by(|&a, &b| tests[b].1.total_cmp(&tests[a].1));
    let mut left: f64 = tests.iter().map(|t| t.1).sum();
    // Per binary, its tests in that order; chunks are cut from the binary whose next
    // test is longest.
    let mut by_binary: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); BINARIES];
    for i in order {
        by_binary[tests[i].0].push_back(i);
    }
    let mut chunks = Vec::new();
    while let Some(b) = (0..BINARIES)
        .filter(|&b| !by_binary[b].is_empty())
        .max_by(|&x, &y| {
            tests[by_binary[x][0]]
                .1
                .total_cmp(&tests[by_binary[y][0]].1)
        })
    {
        let target = left / machines as f64;
        let (mut names, mut time) = (Vec::new(), 0.0);
        while let Some(&i) = by_binary[b].front() {
            if !names.is_empty() && time + tests[i].1 > target {
                break;
            }
            time += tests[i].1;
            names.push(format!("t{i}"));
            by_binary[b].pop_front();
        }
        left -= time;
        chunks.push(ChunkSpec {
            binary_id: BinaryId::new(format!("bin{b}")),
            tests: ChunkTests::Named(names),
            attempt: Attempt::FIRST,
            expected_secs: time,
        });
    }
    chunks
}

fn connect(server: &RedisServer, machine: &str) -> RemoteQueue {
    let lease = Duration::from_secs(30);
    RemoteQueue::connect(
        &server.url(),
        "sim",
        machine,
        lease,
        Duration::from_secs(600),
    )
    .expect("connect")
}

#[derive(Default)]
struct Stats {
    reserve: Vec<Duration>,
    ack: Vec<Duration>,
    waits: usize,
    round_trips: u64,
}

/// One machine: reserve, sleep the chunk's time, acknowledge; until the queue is done.
fn machine(q: &mut RemoteQueue, scale: f64) -> Stats {
    let mut stats = Stats::default();
    loop {
        let asked = Instant::now();
        let reply = q.reserve("w0").expect("reserve");
        stats.reserve.push(asked.elapsed());
        match reply {
            Reserve::Chunk { id, spec, token } => {
                std::thread::sleep(Duration::from_secs_f64(spec.expected_secs * scale));
                let results = results(&spec);
                let acked = Instant::now();
                let ack = q.acknowledge(id, token, &results, &[]).expect("ack");
                stats.ack.push(acked.elapsed());
                assert!(matches!(ack, Ack::Recorded { .. }), "{ack:?}");
            }
            Reserve::Wait { .. } => {
                stats.waits += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Reserve::Done | Reserve::Cancelled { .. } => break,
        }
    }
    stats.round_trips = q.counts().round_trips;
    stats
}

/// One result per test, about the size of a passing test's serialized outcome.
fn results(spec: &ChunkSpec) -> Vec<ResultRecord> {
    let ChunkTests::Named(names) = &spec.tests else {
        return Vec::new();
    };
    names
        .iter()
        .map(|name| ResultRecord {
            test: TestId::new(spec.binary_id.clone(), name),
            attempt: spec.attempt,
            json: format!(
                r#"{{"binary-id":"{}","name":"{name}","status":"passed","duration":{{"secs":0,"nanos":12345678}},"worker":0}}"#,
                spec.binary_id
            ),
            is_final: true,
        })
        .collect()
}

/// The server's CPU seconds so far (user + system), from INFO cpu.
fn server_cpu(server: &RedisServer) -> f64 {
    let info: String = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("INFO").arg("cpu").query(&mut c))
        .expect("INFO cpu");
    info.lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

/// `cmdstat_evalsha`'s calls and microseconds per call: the time the scripts hold Redis's
/// one thread, which bounds how many machines one server can feed.
fn evalsha_stats(server: &RedisServer) -> String {
    let info: String = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("INFO").arg("commandstats").query(&mut c))
        .expect("INFO commandstats");
    let line = info.lines().find(|l| l.starts_with("cmdstat_evalsha:"));
    let field = |name: &str| {
        line?
            .split([':', ','])
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    format!(
        "{} us over {} calls",
        field("usec_per_call").unwrap_or("?"),
        field("calls").unwrap_or("?")
    )
}

fn report(
    stats: &[Stats],
    makespan: Duration,
    ideal: f64,
    seed: Duration,
    cpu: f64,
    chunks: usize,
) {
    let mut reserve: Vec<Duration> = stats.iter().flat_map(|s| s.reserve.clone()).collect();
    let mut ack: Vec<Duration> = stats.iter().flat_map(|s| s.ack.clone()).collect();
    reserve.sort_unstable();
    ack.sort_unstable();
    let trips: u64 = stats.iter().map(|s| s.round_trips).sum();
    let waits: usize = stats.iter().map(|s| s.waits).sum();
    let secs = makespan.as_secs_f64();
    let pct = |v: &[Duration], p: f64| {
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len().max(1)) - 1;
        v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| seeding {chunks} chunks (join) | {:.1} ms |",
        seed.as_secs_f64() * 1000.0
    );
    println!("| makespan | {secs:.2} s |");
    println!(
        "| ideal max(sum/machines, longest) | {ideal:.2} s ({:.0}%) |",
        100.0 * ideal / secs
    );
    println!(
        "| requests (reserve + ack + waits) | {trips} ({:.2} per test) |",
        trips as f64 / TESTS as f64
    );
    println!("| requests per second | {:.0} |", trips as f64 / secs);
    println!(
        "| reserve p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        pct(&reserve, 0.5),
        pct(&reserve, 0.99),
        pct(&reserve, 1.0)
    );
    println!(
        "| ack p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
        pct(&ack, 0.5),
        pct(&ack, 0.99),
        pct(&ack, 1.0)
    );
    println!("| reserves that had to wait | {waits} |");
    println!(
        "| redis-server CPU | {cpu:.2} s ({:.0}% of one core) |",
        100.0 * cpu / secs
    );
}
