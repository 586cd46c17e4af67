#!/usr/bin/env python3
"""How evenly a partition splits the work: each shard's sum of test times.

    shard_sums.py WORKSPACE [--xpar BIN] [--shards 2,4,8] [--no-nextest]

A split is as good as its largest shard: CI waits for it. For every N and every split
(cargo xpar's slice, hash and time; nextest's hash and count, nextest's slice) this prints
the largest shard's sum of test times against what any split can reach, max(total / N,
longest test).

- Which tests each cargo xpar shard holds comes from running the shard (`--json`); which
  tests each nextest shard holds from `cargo nextest list --partition ...`.
- Every test's time comes from one separate measured run of the whole suite, the same for
  every split, so the splits are compared on the same numbers.
- cargo xpar's `time` split plans from a duration history filled by two earlier whole
  runs, copied afresh for every shard (as CI machines restore one cached file).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd, cwd, env=None, ok=(0, 100)):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode not in ok:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p


def report_tests(path):
    with open(path) as f:
        r = json.load(f)
    return r["tests"]


def xpar(args, ws, env, *extra):
    return run([args.xpar, "xpar", "--workspace", "--no-fail-fast", "-j", "2", *extra], ws, env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--xpar", default="cargo-xpar")
    ap.add_argument("--shards", default="2,4,8")
    ap.add_argument("--no-nextest", action="store_true")
    args = ap.parse_args()
    ws = os.path.abspath(args.workspace)
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="shard-sums-")
    history = os.path.join(tmp, "history.json")
    for _ in range(2):
        xpar(args, ws, env, "--durations", history)
    measured = os.path.join(tmp, "measured.json")
    xpar(args, ws, env, "--durations", os.path.join(tmp, "scratch.json"), "--json", measured)
    secs = {}
    for t in report_tests(measured):
        if t["status"] in ("passed", "failed"):
            secs[(t["binary-id"], t["name"])] = t["duration-secs"]
    total = sum(secs.values())
    longest = max(secs.values())
    print(f"{ws}: {len(secs)} tests, sum {total:.2f} s, longest {longest:.2f} s")
    print(f"{'N':>2} {'split':<14} {'largest':>8} {'bound':>7} {'ratio':>6}  shards (s)")
    for n in [int(x) for x in args.shards.split(",")]:
        bound = max(total / n, longest)
        splits = {}
        for kind in ["slice", "hash", "time"]:
            sums = []
            for k in range(1, n + 1):
                out = os.path.join(tmp, f"{kind}-{k}.json")
                copy = os.path.join(tmp, "history-copy.json")
                shutil.copy(history, copy)
                xpar(args, ws, env, "--durations", copy, "--json", out, "--partition", f"{kind}:{k}/{n}")
                sums.append(sum(secs.get((t["binary-id"], t["name"]), 0.0) for t in report_tests(out)))
            splits[f"xpar {kind}"] = sums
        if not args.no_nextest:
            for kind in ["hash", "count"]:
                sums = []
                for k in range(1, n + 1):
                    p = run(["cargo", "nextest", "list", "--workspace", "--message-format", "json",
                             "--partition", f"{kind}:{k}/{n}"], ws, env, ok=(0,))
                    listed = json.loads(p.stdout)
                    s = 0.0
                    for suite in listed["rust-suites"].values():
                        for name, case in suite["testcases"].items():
                            if case.get("filter-match", {}).get("status") == "matches":
                                s += secs.get((suite["binary-id"], name), 0.0)
                    sums.append(s)
                splits[f"nextest {kind}"] = sums
        for name, sums in splits.items():
            shown = " ".join(f"{s:.2f}" for s in sums)
            print(f"{n:>2} {name:<14} {max(sums):>8.2f} {bound:>7.2f} {max(sums) / bound:>6.2f}  {shown}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
