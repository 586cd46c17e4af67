#!/usr/bin/env python3
"""Measure what `#[serial]` costs under cargo xpar: the same suite twice, once unmarked and
once with every Nth test marked `#[serial]`, timed side by side with compare.py.

    serialbench.py PROFILE OUT_DIR [--every 10] [--runs 5] [--jobs 2]

Generates PROFILE with genbench.py into OUT_DIR/plain and OUT_DIR/serial (both depend on
this repository's xpar-harness, so they build the same code), marks every Nth `#[test]`
of the serial copy, and prints compare.py's table plus the serial tests' own time (the
sum of their durations in a JSON report), which is what marking them may cost at most.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent / "xpar-harness"


def generate(profile: str, out: Path):
    if out.exists():
        shutil.rmtree(out)
    subprocess.run([sys.executable, str(HERE / "genbench.py"), profile, str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    for toml in out.glob("*/Cargo.toml"):
        if toml.parent.name == "benchkit":
            continue
        text = toml.read_text()
        toml.write_text(text + f'\n[dev-dependencies]\nxpar-harness = {{ path = "{HARNESS}" }}\n')


def mark(root: Path, every: int) -> int:
    count = 0
    marked = 0
    for src in sorted(root.glob("*/src/lib.rs")) + sorted(root.glob("*/tests/*.rs")):
        def sub(m):
            nonlocal count, marked
            count += 1
            if count % every == 0:
                marked += 1
                return m.group(1) + "#[xpar_harness::serial] #[test]"
            return m.group(0)
        src.write_text(re.sub(r"(^\s*)#\[test\]", sub, src.read_text(), flags=re.M))
    return marked


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("out")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    plain, serial = out / "plain", out / "serial"
    generate(args.profile, plain)
    generate(args.profile, serial)
    marked = mark(serial, args.every)
    for ws in (plain, serial):
        subprocess.run("cargo test --workspace --no-run -q", shell=True, cwd=ws, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The serial tests' own time, from one run's JSON report.
    report = out / "serial-report.json"
    subprocess.run(f"cargo xpar --workspace -j {args.jobs} --json {report} -m serial", shell=True,
                   cwd=serial, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tests = json.loads(report.read_text())["tests"]
    own = sum(t["duration-secs"] for t in tests)
    print(f"{marked} of the suite's tests marked #[serial]; their own time {own:.2f} s "
          f"({len(tests)} tests)")
    cmd = f"cargo xpar --workspace -j {args.jobs}"
    subprocess.run([sys.executable, str(HERE / "compare.py"), str(serial), "--runs", str(args.runs),
                    "--jobs", str(args.jobs),
                    "--runner", f"unmarked=cd {plain} && {cmd}",
                    "--runner", f"serial=cd {serial} && {cmd}"], check=True)


if __name__ == "__main__":
    main()
