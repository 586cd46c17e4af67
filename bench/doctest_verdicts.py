#!/usr/bin/env python3
"""Compare the doctest verdicts of `cargo xpar --doc` with `cargo test --doc`'s.

    doctest_verdicts.py WORKSPACE [CARGO_FLAGS...]

Runs `cargo test --doc --no-fail-fast FLAGS` and `cargo xpar --doc --no-fail-fast FLAGS
--json REPORT` in WORKSPACE, reads each doctest's verdict from both (cargo's `test NAME ...
ok|FAILED|ignored` lines, without the ` - compile`, ` - compile fail` and ` - should
panic` that libtest adds to some names), and prints the counts side by side and every
doctest on which they differ. Exits 1 when they differ, 2 when a command could not run.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter

LINE = re.compile(r"^test (.*\(line \d+\))(?: - [a-z ]+)? \.\.\. (ok|FAILED|ignored)$")
VERDICT = {"ok": "passed", "FAILED": "failed", "ignored": "ignored"}


def cargo_test(ws: str, flags: list[str]) -> dict[str, str]:
    out = subprocess.run(["cargo", "test", "--doc", "--no-fail-fast", *flags], cwd=ws,
                         capture_output=True, text=True)
    verdicts = {}
    for line in out.stdout.splitlines():
        m = LINE.match(line)
        if m:
            verdicts[m.group(1)] = VERDICT[m.group(2)]
    if not verdicts and out.returncode != 0:
        sys.exit(f"cargo test --doc failed:\n{out.stderr[-2000:]}")
    return verdicts


def cargo_xpar(ws: str, flags: list[str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        out = subprocess.run(["cargo", "xpar", "--doc", "--no-fail-fast", *flags,
                              "--json", report], cwd=ws, capture_output=True, text=True)
        try:
            with open(report) as f:
                tests = json.load(f)["tests"]
        except OSError:
            sys.exit(f"cargo xpar wrote no report (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return {t["name"]: t["status"] for t in tests if t["binary-id"].startswith("@doc/")}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    ws, flags = sys.argv[1], sys.argv[2:]
    cargo, xpar = cargo_test(ws, flags), cargo_xpar(ws, flags)
    for name, verdicts in [("cargo test", cargo), ("cargo xpar", xpar)]:
        c = Counter(verdicts.values())
        print(f"{name:>10}: {len(verdicts)} doctests, {c['passed']} passed, "
              f"{c['failed']} failed, {c['ignored']} ignored")
    differ = sorted(n for n in cargo.keys() | xpar.keys() if cargo.get(n) != xpar.get(n))
    for n in differ:
        print(f"  differs: {n}: cargo test {cargo.get(n, 'none')}, cargo xpar {xpar.get(n, 'none')}")
    print("same verdicts" if not differ else f"{len(differ)} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
