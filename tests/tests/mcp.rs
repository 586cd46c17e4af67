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

/// Nothing but the protocol may reach stdout: a client that reads a line that is not
/// JSON-RPC drops the connection. Closing stdin ends the server cleanly.
#[test]
fn stdout_carries_only_the_protocol() {
    use std::io::Write;
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
    let requests = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_tests","arguments":{"packages":["broken"]}}}"#,
    ];
    let mut stdin = child.stdin.take().expect("stdin");
    for r in requests {
        writeln!(stdin, "{r}").expect("write a request");
    }
    // The build of `broken` fails; the answer comes, then stdin closes and the server
    // ends.
    let out = {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("read stdout");
            let done = line.contains(r#""id":2"#);
            seen.push(line);
            if done {
                break;
            }
        }
        drop(stdin);
        seen.extend(lines.map_while(Result::ok));
        seen
    };
    let status = child.wait().expect("wait for the server");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(out.len(), 2, "{out:#?}");
    for line in &out {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
    }
    let answer: serde_json::Value = serde_json::from_str(&out[1]).unwrap();
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("mismatched types"), "{text}");
    // Cargo's output was kept for the error, not shown.
    assert!(!stderr.contains("Compiling"), "{stderr}");
}
