#!/usr/bin/env python3
"""Drives `cargo xpar mcp` with the official MCP Python SDK (`mcp` from PyPI, 2.x) over
stdio, on a copy of fixtures/mcp, and checks every tool's structured results.

Run by tests/tests/mcp.rs with the CI venv's python:

    mcp_client.py --server PATH/TO/cargo-xpar --workspace FIXTURE-COPY

Exits 0 when every check passed; on the first failed check, raises with what was seen.
The server's stderr goes to ours.
"""

import argparse
import json
import os
import sys

import anyio
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client

TOOLS = {
    "list_tests": ["tests", "runnable"],
    "run_tests": ["run_id", "counts", "wall_secs", "speedup", "failures"],
    "rerun_failed": ["run_id", "counts", "wall_secs", "speedup", "failures"],
    "detect_flaky": ["tests", "recommendation", "threshold"],
    "set_test_timeout": ["timeout_secs", "slow_timeout_secs"],
    "get_execution_metrics": ["wall_secs", "cpu_secs", "speedup", "slowest"],
    "get_test_output": ["output", "previous_attempts"],
}

# What the fixture holds (see fixtures/mcp/src/lib.rs).
RUNNABLE = {
    "math::adds",
    "math::subtracts",
    "math::fails_with_message",
    "tests::serial_one",
    "tests::flaky_every_other_run",
}
IGNORED = {"tests::sleeps_long"}

# Generous: the first call builds the fixture, on a busy machine.
CALL_TIMEOUT = 600


def check(cond, what, seen=None):
    if not cond:
        raise AssertionError(f"{what}\n  seen: {json.dumps(seen, indent=2, default=str)}")


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def call(session, tool, args, **kw):
    with anyio.fail_after(CALL_TIMEOUT):
        return await session.call_tool(tool, args, **kw)


async def ok(session, tool, args, **kw):
    r = await call(session, tool, args, **kw)
    check(not r.is_error, f"{tool}({args}) failed", text_of(r))
    check(r.structured_content is not None, f"{tool} returned no structured content", text_of(r))
    return r.structured_content


async def tool_error(session, tool, args, expected):
    r = await call(session, tool, args)
    check(r.is_error, f"{tool}({args}) should be a tool error", r.structured_content)
    text = text_of(r)
    check(expected in text, f"{tool}({args}): the error should say {expected!r}", text)
    return text


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def check_tools(session):
    tools = {t.name: t for t in (await session.list_tools()).tools}
    check(set(tools) == set(TOOLS), "the tools", sorted(tools))
    for name, keys in TOOLS.items():
        t = tools[name]
        check(t.description, f"{name} has a description")
        check(t.input_schema.get("type") == "object", f"{name}'s input schema", t.input_schema)
        out = t.output_schema or {}
        check(out.get("type") == "object", f"{name} has an output schema", out)
        for k in keys:
            check(k in out.get("properties", {}), f"{name}'s output schema has {k}", out)
    run = tools["run_tests"].input_schema
    for k in ["filters", "packages", "markers", "jobs", "dist", "timeout_secs", "retries", "fail_fast"]:
        check(k in run["properties"], f"run_tests takes {k}", run)
    check(run.get("additionalProperties") is False, "run_tests refuses unknown arguments", run)
    for name, keys in {
        "list_tests": ["filters", "packages", "markers"],
        "rerun_failed": ["run_id", "retries", "backoff"],
        "detect_flaky": ["filters", "runs", "concurrency", "threshold"],
        "set_test_timeout": ["timeout_secs", "slow_timeout_secs"],
        "get_execution_metrics": ["run_id", "test"],
        "get_test_output": ["run_id", "test"],
    }.items():
        props = tools[name].input_schema.get("properties", {})
        for k in keys:
            check(k in props, f"{name} takes {k}", props)
    check(tools["get_test_output"].input_schema.get("required") == ["test"],
          "get_test_output requires the test", tools["get_test_output"].input_schema)


async def check_list(session):
    listed = await ok(session, "list_tests", {})
    by_name = {t["name"]: t for t in listed["tests"]}
    check(set(by_name) == RUNNABLE | IGNORED, "list_tests lists the fixture's tests", listed)
    check(listed["runnable"] == len(RUNNABLE), "runnable count", listed)
    check(by_name["tests::sleeps_long"]["ignored"], "sleeps_long is ignored", listed)
    check(by_name["tests::serial_one"]["markers"] == ["serial"], "serial_one's marker", listed)
    check(by_name["math::adds"]["markers"] == [], "adds has no marker", listed)
    check(all(t["binary_id"] for t in listed["tests"]), "binary ids", listed)
    only = await ok(session, "list_tests", {"filters": ["math::"], "markers": "not serial"})
    check({t["name"] for t in only["tests"]} == {"math::adds", "math::subtracts", "math::fails_with_message"},
          "list_tests filters", only)


async def check_run(session):
    """The whole suite, with progress: returns the run's id."""
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    run = await ok(session, "run_tests", {"fail_fast": False, "jobs": 2},
                   progress_callback=on_progress)
    c = run["counts"]
    check((c["selected"], c["passed"], c["failed"], c["ignored"], c["not_run"]) == (5, 4, 1, 1, 0),
          "run_tests' counts", run)
    check(run["outcome"] == "failed" and run["exit_code"] == 100, "the run failed", run)
    # Tests that took some time, over a wall time: a ratio above 0, however small.
    check(run["wall_secs"] > 0 and run["speedup"] > 0 and run["workers"] == 2, "times", run)
    [failure] = run["failures"]
    check(failure["name"] == "math::fails_with_message", "the failure", failure)
    check("arithmetic is broken" in failure["message"], "the failure's message", failure)
    check("arithmetic is broken" in failure["output"], "the failure's output", failure)
    # Progress: one per finished test at least, increasing, out of the 5 to run.
    values = sorted(p[0] for p in progress)
    check(len(set(values)) == len(values), "progress values differ", progress)
    finished = [p for p in progress if p[2].startswith(("passed:", "failed"))]
    check(len(finished) == 5, "a progress notification per finished test", progress)
    check(all(p[1] == 5 for p in finished), "progress totals", progress)
    check(max(values) == 5, "progress reaches the total", progress)
    return run["run_id"]


async def check_results(session, run_id):
    out = await ok(session, "get_test_output", {"run_id": run_id, "test": "math::adds"})
    check("adding 2 and 2" in out["output"] and out["status"] == "passed", "adds' output", out)
    out = await ok(session, "get_test_output", {"test": "math::fails_with_message"})
    check(out["run_id"] == run_id and "arithmetic is broken" in out["output"],
          "the last run's failure's output", out)

    m = await ok(session, "get_execution_metrics", {"run_id": run_id})
    check(m["wall_secs"] > 0 and m["speedup"] > 0 and m["workers"] == 2, "run metrics", m)
    check(len(m["slowest"]) == 5, "every test that ran is among the slowest of 5", m)
    durations = [t["duration_secs"] for t in m["slowest"]]
    check(durations == sorted(durations, reverse=True), "slowest first", m)
    one = await ok(session, "get_execution_metrics", {"run_id": run_id, "test": "math::adds"})
    check(one["test"]["name"] == "math::adds" and one["test"]["status"] == "passed", "a test's metrics", one)

    await tool_error(session, "get_test_output", {"run_id": "no-such-run", "test": "math::adds"},
                     "unknown run id `no-such-run`")
    await tool_error(session, "get_execution_metrics", {"run_id": "no-such-run"},
                     "unknown run id `no-such-run`")
    await tool_error(session, "rerun_failed", {"run_id": "no-such-run"}, "unknown run id `no-such-run`")
    await tool_error(session, "get_test_output", {"run_id": run_id, "test": "nope"}, "no test named `nope`")

    resources = {r.uri: r for r in (await session.list_resources()).resources}
    check(set(resources) == {"xpar://runs/last/report.json", "xpar://runs/last/junit.xml"},
          "resources", list(resources))
    report = await session.read_resource("xpar://runs/last/report.json")
    doc = json.loads(report.contents[0].text)
    check(report.contents[0].mime_type == "application/json", "the JSON report's type", report)
    check(len(doc["tests"]) == 6, "the JSON report has every test", doc)
    junit = (await session.read_resource("xpar://runs/last/junit.xml")).contents[0].text
    check("<testsuites" in junit and "fails_with_message" in junit, "the JUnit report", junit)


async def check_dist_each(session):
    """Under `dist: "each"` every worker runs each test: a worker names one of its runs."""
    run = await ok(session, "run_tests",
                   {"filters": ["math::adds"], "exact": True, "dist": "each", "jobs": 2})
    check(run["counts"]["passed"] == 2, "math::adds ran on both workers", run)
    await tool_error(session, "get_test_output", {"test": "math::adds"}, "give worker too")
    for worker in ["gw0", "gw1"]:
        out = await ok(session, "get_test_output", {"test": "math::adds", "worker": worker})
        check("adding 2 and 2" in out["output"], f"adds' output on {worker}", out)
        m = await ok(session, "get_execution_metrics", {"test": "math::adds", "worker": worker})
        check(m["test"]["worker"] == worker and m["slowest"] == [], f"adds' metrics on {worker}", m)


async def check_no_run_yet(session):
    """Before any run, the tools and resources that read one say there is none."""
    await tool_error(session, "get_execution_metrics", {}, "no run yet")
    resources = {r.uri for r in (await session.list_resources()).resources}
    for uri in resources:
        try:
            await session.read_resource(uri)
        except MCPError as e:
            check("no run yet" in str(e), f"reading {uri} before a run", str(e))
        else:
            raise AssertionError(f"reading {uri} before any run should be an error")


async def check_bad_arguments(session):
    await tool_error(session, "run_tests", {"jobs": 0}, "invalid value `0` for -j/--jobs")
    await tool_error(session, "run_tests", {"jobs": "many"}, 'jobs: invalid type: string "many"')
    await tool_error(session, "detect_flaky", {"runs": -1}, "runs: invalid value: integer `-1`")
    await tool_error(session, "run_tests", {"filterz": ["x"]}, "filterz")
    await tool_error(session, "run_tests", {"dist": "random"}, "random")
    await tool_error(session, "run_tests", {"filters": ["--nocapture"]}, "cannot start with `-`")
    await tool_error(session, "detect_flaky", {"threshold": 2}, "invalid threshold 2")
    await tool_error(session, "set_test_timeout", {"timeout_secs": 0}, "invalid value 0")
    await tool_error(session, "get_test_output", {}, "test")


async def check_rerun(session, run_id):
    rerun = await ok(session, "rerun_failed", {"retries": 1, "backoff": "exponential"})
    c = rerun["counts"]
    check((c["selected"], c["failed"], c["passed"]) == (1, 1, 0), "rerun_failed runs the failure", rerun)
    [failure] = rerun["failures"]
    check(failure["name"] == "math::fails_with_message" and failure["attempts"] == 2,
          "the rerun's failure, retried once", rerun)
    check(rerun["run_id"] != run_id, "a rerun is a run of its own", rerun)
    passed = await ok(session, "run_tests", {"filters": ["math::adds"], "exact": True})
    await tool_error(session, "rerun_failed", {"run_id": passed["run_id"]}, "no test failed")


async def check_timeout(session, workspace):
    """set_test_timeout applies to later calls: the sleeper is ended at 1 s."""
    settings = await ok(session, "set_test_timeout", {"timeout_secs": 1})
    check(settings["timeout_secs"] == 1, "the timeout is set", settings)
    run = await ok(session, "run_tests",
                   {"filters": ["sleeps_long"], "include_ignored": True, "exact": False})
    [failure] = run["failures"]
    check("timed out" in failure["message"], "the sleeper timed out", run)
    cleared = await ok(session, "set_test_timeout", {})
    check(cleared["timeout_secs"] is None, "the timeout is cleared", cleared)
    os.remove(os.path.join(workspace, "target", "sleeper.pid"))


async def check_flaky(session):
    # The first run claimed the test's run 0; these four are runs 1 to 4, of which 1 and 3
    # fail (see the fixture).
    flaky = await ok(session, "detect_flaky",
                     {"filters": ["flaky_every_other_run"], "runs": 4, "concurrency": 2})
    [t] = flaky["tests"]
    check((t["runs"], t["failures"], t["flake_rate"], t["verdict"]) == (4, 2, 0.5, "flaky"),
          "the flaky test's rate", flaky)
    check(t["categories"] == {"panic: odd run N": 2}, "its failures' category", flaky)
    check("flaky_every_other_run" in flaky["recommendation"], "the recommendation names it", flaky)
    stable = await ok(session, "detect_flaky", {"filters": ["math::adds"], "runs": 3})
    check(stable["tests"][0]["verdict"] == "stable", "a stable test", stable)


async def check_build_failure(session):
    text = await tool_error(session, "run_tests", {"packages": ["broken"]}, "the build failed")
    check("mismatched types" in text and "broken/src/lib.rs" in text,
          "the build failure carries the compiler's diagnostics", text)
    await tool_error(session, "run_tests", {"packages": ["no-such-package"]}, "no-such-package")


async def check_build_cancel(session):
    """Cancelling a run during its (first, cold) build ends the build: no run follows it,
    where a build left to finish would be followed by a run whose tests are all not run."""
    building = anyio.Event()
    scope = anyio.CancelScope()

    async def on_progress(value, total, message):
        if message == "building the tests":
            building.set()

    async def run():
        with scope:
            await session.call_tool("run_tests", {}, progress_callback=on_progress)
            raise AssertionError("the run returned instead of being cancelled")

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(CALL_TIMEOUT):
            await building.wait()
        scope.cancel()
    # The client has sent its cancel before this call (the SDK writes it before the
    # cancelled call returns), but the cancelled call may not have stopped yet: this one
    # waits for it, rather than being refused.
    await ok(session, "list_tests", {"filters": ["math::adds"]})
    await tool_error(session, "get_execution_metrics", {}, "no run yet")


async def check_cancel(session, workspace):
    """A second run is refused while one runs; cancelling the run ends its test process,
    and the server goes on answering."""
    pid_file = os.path.join(workspace, "target", "sleeper.pid")
    started = anyio.Event()
    scope = anyio.CancelScope()

    async def on_progress(value, total, message):
        if message.startswith("started") and "sleeps_long" in message:
            started.set()

    async def long_run():
        with scope:
            await session.call_tool(
                "run_tests", {"filters": ["sleeps_long"], "include_ignored": True},
                progress_callback=on_progress)
            raise AssertionError("the run of sleeps_long returned instead of being cancelled")

    async with anyio.create_task_group() as tg:
        tg.start_soon(long_run)
        with anyio.fail_after(CALL_TIMEOUT):
            await started.wait()
        await tool_error(session, "run_tests", {"filters": ["math::adds"]}, "already in progress")
        await tool_error(session, "list_tests", {}, "already in progress")
        # The test writes its pid first thing; it has started, so the file is near.
        with anyio.fail_after(60):
            while not os.path.exists(pid_file):
                await anyio.sleep(0.05)
        with open(pid_file) as f:
            pid = int(f.read())
        check(alive(pid), "the sleeper runs", pid)
        scope.cancel()
    check(scope.cancelled_caught, "the run was cancelled")
    # The server answers, and runs again once the cancelled run has stopped: sent at once,
    # this call finds the run still stopping and waits for it, rather than being refused.
    after = await ok(session, "run_tests", {"filters": ["math::adds"], "exact": True})
    check(after["counts"]["passed"] == 1, "a run after the cancel", after)
    with anyio.fail_after(30):
        while alive(pid):
            await anyio.sleep(0.05)


async def check_latest_protocol(params):
    """The newest protocol revision, without the initialize handshake: the high-level
    client asks the server (`server/discover`) and takes the newest it offers."""
    async with Client(params, mode="auto", cache=None) as client:
        check(client.protocol_version == "2026-07-28", "the newest protocol version",
              client.protocol_version)
        check(len((await client.list_tools()).tools) == len(TOOLS), "the tools, again")
        r = await client.call_tool("list_tests", {"filters": ["math::adds"], "exact": True})
        check(not r.is_error and [t["name"] for t in r.structured_content["tests"]] == ["math::adds"],
              "list_tests under the newest protocol", r.structured_content)


async def main(server, workspace):
    params = StdioServerParameters(command=server, args=["xpar", "mcp"],
                                   env=dict(os.environ), cwd=workspace)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(init.server_info.name == "cargo-xpar", "the server's name", init)
            # The newest version with an initialize handshake, as the client offers it.
            check(init.protocol_version == "2025-11-25", "the protocol version", init)
            check(init.capabilities.tools is not None and init.capabilities.resources is not None,
                  "tools and resources", init)
            await check_tools(session)
            await check_no_run_yet(session)
            await check_build_cancel(session)
            await check_list(session)
            run_id = await check_run(session)
            await check_results(session, run_id)
            await check_bad_arguments(session)
            await check_rerun(session, run_id)
            await check_dist_each(session)
            await check_timeout(session, workspace)
            await check_flaky(session)
            await check_build_failure(session)
            await check_cancel(session, workspace)
    await check_latest_protocol(params)
    print("mcp_client: every check passed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args()
    anyio.run(main, args.server, args.workspace)
    sys.exit(0)
