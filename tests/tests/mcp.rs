//! `cargo xpar mcp` through a real MCP client: the official Python SDK (`mcp` from PyPI,
//! which `.ci/setup` installs in the CI venv) runs `tests/mcp_client.py`, which starts
//! the server over stdio on a copy of `fixtures/mcp` and checks the handshake, every
//! tool and its schemas, structured results against what the fixture holds, tool errors,
//! progress notifications, a second run refused while one runs, a cancelled run whose
//! test process is gone after it, and a session at the newest protocol revision
//! (2026-07-28, without the initialize handshake). Skipped, with a note, where the
//! client is not installed, except on CI.

use xpar_tests::{as_in_fixture, ci_python_with, workspace_root, xpar_bin, FixtureCopy, Run};

#[test]
fn every_tool_through_the_official_python_client() {
    let test = "every_tool_through_the_official_python_client";
    let Some(mut python) = ci_python_with(test, "mcp", (2, 3), "mcp from PyPI") else {
        return;
    };
    let fixture = FixtureCopy::new("mcp");
    let dir = fixture.path();
    python
        .arg(workspace_root().join("tests").join("mcp_client.py"))
        .arg("--server")
        .arg(xpar_bin())
        .arg("--workspace")
        .arg(dir);
    as_in_fixture(&mut python, dir);
    let run = Run::of(&mut python);
    assert!(
        run.status.success() && run.stdout.contains("every check passed"),
        "{run}"
    );
}

/// `cargo xpar mcp` on a copy of `fixtures/mcp`, spoken to in raw JSON-RPC lines.
struct RawServer {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    /// Every line the server wrote, in order.
    seen: Vec<String>,
    _fixture: FixtureCopy,
}

impl RawServer {
    /// Started and initialized.
    fn start() -> RawServer {
        use std::io::BufRead;
        use std::process::{Command, Stdio};

        let fixture = FixtureCopy::new("mcp");
        let mut cmd = Command::new(xpar_bin());
        cmd.args(["xpar", "mcp"]);
        as_in_fixture(&mut cmd, fixture.path());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cargo xpar mcp");
        let stdin = child.stdin.take();
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut server = RawServer {
            child,
            stdin,
            stdout,
            seen: Vec::new(),
            _fixture: fixture,
        };
        server.call(
            1,
            r#""method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}"#,
        );
        server.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        server
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write a request");
    }

    /// Sends request `id` (`body`: its method and params) and returns its answer, once
    /// it came (one call builds or runs at a time).
    fn call(&mut self, id: u32, body: &str) -> serde_json::Value {
        self.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},{body}}}"#));
        for line in self.stdout.by_ref() {
            let line = line.expect("read stdout");
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert_eq!(v["jsonrpc"], "2.0", "{line}");
            self.seen.push(line);
            if v["id"] == id {
                return v;
            }
        }
        panic!("the server ended before answering {id}: {:#?}", self.seen);
    }

    /// A tools/call's result.
    fn tool(&mut self, id: u32, name: &str, arguments: &str) -> serde_json::Value {
        let body = format!(
            r#""method":"tools/call","params":{{"name":"{name}","arguments":{arguments}}}"#
        );
        self.call(id, &body)["result"].clone()
    }

    fn stderr(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("read stderr");
        }
        stderr
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        // A failed check leaves the server waiting on its stdin: it goes with the test.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Nothing but the protocol may reach stdout, whatever a call does (a run that passes,
/// one that fails, a stress run, a build that fails): a client that reads a line that is
/// not JSON-RPC drops the connection. Closing stdin ends the server cleanly.
#[test]
fn stdout_carries_only_the_protocol() {
    let mut server = RawServer::start();
    let passed = server.tool(2, "run_tests", r#"{"filters":["math::adds"],"exact":true}"#);
    assert_eq!(passed["isError"], false, "{passed}");
    assert_eq!(
        passed["structuredContent"]["counts"]["passed"], 1,
        "{passed}"
    );
    let failed = server.tool(
        3,
        "run_tests",
        r#"{"filters":["math::fails_with_message"],"exact":true}"#,
    );
    assert_eq!(
        failed["structuredContent"]["counts"]["failed"], 1,
        "{failed}"
    );
    let flaky = server.tool(
        4,
        "detect_flaky",
        r#"{"filters":["math::adds"],"exact":true,"runs":2}"#,
    );
    assert_eq!(flaky["isError"], false, "{flaky}");
    assert_eq!(flaky["structuredContent"]["tests"][0]["runs"], 2, "{flaky}");
    let broken = server.tool(5, "run_tests", r#"{"packages":["broken"]}"#);
    assert_eq!(broken["isError"], true, "{broken}");
    let text = broken["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("mismatched types"), "{text}");
    // Every line was JSON-RPC (`call` checks each); no request asked for progress, so
    // each is an answer.
    assert_eq!(server.seen.len(), 5, "{:#?}", server.seen);
    drop(server.stdin.take());
    let rest: Vec<String> = server.stdout.by_ref().map_while(Result::ok).collect();
    assert!(rest.is_empty(), "{rest:#?}");
    let status = server.child.wait().expect("wait for the server");
    let stderr = server.stderr();
    assert!(status.success(), "{status}: {stderr}");
    // Cargo's output was kept for the error, not shown.
    assert!(!stderr.contains("Compiling"), "{stderr}");
}

/// A client that goes away (closes the server's stdin) while tests run: the run stops at
/// once (rmcp alone would leave it running for 5 s, waiting for answers nobody reads,
/// and could end the process without stopping it), its test process (in a process group
/// of its own, which nothing sent to the server's reaches) is ended, and the server
/// exits.
#[cfg(unix)]
#[test]
fn closing_stdin_stops_the_run_and_its_tests() {
    use std::time::{Duration, Instant};

    let mut server = RawServer::start();
    server.send(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_tests","arguments":{"filters":["sleeps_long"],"include_ignored":true}}}"#,
    );
    // The test writes its pid first thing, once the (cold) build is over.
    let pid_file = server._fixture.path().join("target").join("sleeper.pid");
    let deadline = Instant::now() + Duration::from_secs(600);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            break pid.to_string();
        }
        assert!(Instant::now() < deadline, "the sleeper never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let alive = |pid: &str| {
        std::process::Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(alive(&pid), "the sleeper runs");
    let closed = Instant::now();
    drop(server.stdin.take());
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for the server") {
            break status;
        }
        assert!(
            closed.elapsed() < Duration::from_secs(30),
            "the server was still running 30 s after its stdin closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = closed.elapsed();
    assert!(status.success(), "{status}: {}", server.stderr());
    assert!(!alive(&pid), "the sleeper outlived the server");
    // Stopped at once, not after rmcp's 5 s wait for the answers in flight.
    assert!(
        took < Duration::from_secs(5),
        "the server took {took:?} to end"
    );
}

/// The runner listens to SIGTERM only while tests run, and cannot give it its default
/// meaning back afterwards: the server listens to it for its whole life, so that a
/// server that has run tests still ends on it, at once when idle, with 128 + 15.
#[cfg(unix)]
#[test]
fn sigterm_ends_an_idle_server_after_a_run() {
    use std::time::{Duration, Instant};

    let mut server = RawServer::start();
    let passed = server.tool(2, "run_tests", r#"{"filters":["math::adds"],"exact":true}"#);
    assert_eq!(
        passed["structuredContent"]["counts"]["passed"], 1,
        "{passed}"
    );
    let pid = server.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM {pid}: {sent}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for the server") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = server.child.kill();
            let _ = server.child.wait();
            panic!("the server was still running 10 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Its stdin is still open: the signal alone ended it.
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "{status}: {}",
        server.stderr()
    );
}
