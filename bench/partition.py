#!/usr/bin/env python3
"""Time each shard of a partitioned run, shard after shard, and print how evenly they end.

    partition.py WORKSPACE [--xpar BIN] [--shards 2,4,8] [--reps 2] [--jobs 2] [--no-nextest]

For every N and every split (cargo xpar's slice, hash and time; nextest's hash and count,
nextest's name for a slice), it runs shards K = 1..N one after another with J jobs, REPS
times, and takes each shard's median test-phase wall time: cargo xpar's `wall-secs` from
its JSON report, nextest's from its summary line. It prints, per split, the slowest shard,
the fastest, their ratio, and the slowest against the ideal (the shards' total / N) and
against what any split can reach (that, or the longest test if longer): CI waits for the
slowest shard, so these last ratios are what a split costs.

cargo xpar's runs all read one duration history, filled first by a whole unpartitioned run
and copied afresh for every shard, as CI machines would each get the same file: a shard's
own run updating it would otherwise change the next shard's `time` split.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

NEXTEST_SUMMARY = re.compile(r"Summary \[\s*([0-9.]+)s\]")


def run(cmd, cwd, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p


def xpar_shard(args, env, tmp, history, partition):
    """The test phase's wall time of one cargo xpar run (one shard, or all with None)."""
    copy = os.path.join(tmp, "history-copy.json")
    shutil.copyfile(history, copy)
    report = os.path.join(tmp, "report.json")
    cmd = [args.xpar, "xpar", "--workspace", "-j", str(args.jobs), "--durations", copy, "--json", report]
    if partition:
        cmd += ["--partition", partition]
    run(cmd, args.workspace, env)
    with open(report) as f:
        return json.load(f)["wall-secs"]


def nextest_shard(args, partition):
    cmd = ["cargo", "nextest", "run", "--workspace", "-j", str(args.jobs), "--partition", partition,
           "--status-level", "none", "--final-status-level", "none"]
    p = run(cmd, args.workspace)
    m = NEXTEST_SUMMARY.search(p.stderr)
    if not m:
        sys.exit(f"no summary line in nextest's output:\n{p.stderr[-2000:]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace")
    ap.add_argument("--xpar", default=shutil.which("cargo-xpar"), help="the cargo-xpar binary")
    ap.add_argument("--shards", default="2,4,8")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-nextest", action="store_true")
    args = ap.parse_args()
    if not args.xpar:
        sys.exit("no cargo-xpar binary: pass --xpar")
    args.xpar = os.path.abspath(args.xpar)
    env = dict(os.environ)
    # cargo xpar is started directly, not through cargo: say which cargo to build with.
    if "CARGO" not in env:
        which = subprocess.run(["rustup", "which", "cargo"], stdout=subprocess.PIPE, text=True)
        env["CARGO"] = which.stdout.strip() if which.returncode == 0 else "cargo"

    tmp = tempfile.mkdtemp(prefix="xpar-partition-bench-")
    history = os.path.join(tmp, "history.json")
    # A whole run fills the history (and builds); a second one makes it a mean of two.
    for _ in range(2):
        report = os.path.join(tmp, "report.json")
        run([args.xpar, "xpar", "--workspace", "-j", str(args.jobs), "--durations", history, "--json", report],
            args.workspace, env)
    with open(report) as f:
        whole = json.load(f)["wall-secs"]
    with open(history) as f:
        # No split can beat its longest test: the bound is max(total / N, longest).
        longest = max(s for tests in json.load(f)["durations"].values() for s in tests.values())
    if not args.no_nextest:
        run(["cargo", "nextest", "run", "--workspace", "--no-run"], args.workspace)

    splits = [("xpar", k) for k in ("slice", "hash", "time")]
    if not args.no_nextest:
        splits += [("nextest", k) for k in ("hash", "count")]
    rows = []
    for n in [int(x) for x in args.shards.split(",")]:
        for runner, kind in splits:
            times = {k: [] for k in range(1, n + 1)}
            for _ in range(args.reps):
                for k in range(1, n + 1):
                    p = f"{kind}:{k}/{n}"
                    t = xpar_shard(args, env, tmp, history, p) if runner == "xpar" else nextest_shard(args, p)
                    times[k].append(t)
            med = [statistics.median(times[k]) for k in range(1, n + 1)]
            hi, lo, total = max(med), min(med), sum(med)
            bound = max(total / n, longest)
            rows.append((n, f"{runner} {kind}", hi, lo, hi / lo, hi / (total / n), hi / bound, med))
            print(f"N={n} {runner} {kind}: " + " ".join(f"{t:.2f}" for t in med), file=sys.stderr)

    print(f"workspace {args.workspace}, -j {args.jobs}, median of {args.reps} per shard; "
          f"unpartitioned cargo xpar run {whole:.2f}s, longest test {longest:.2f}s")
    print("| N | split | max shard (s) | min shard (s) | max/min | max / (total/N) | max / max(total/N, longest) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, name, hi, lo, ratio, vs_ideal, vs_bound, _ in rows:
        print(f"| {n} | {name} | {hi:.2f} | {lo:.2f} | {ratio:.2f} | {vs_ideal:.2f} | {vs_bound:.2f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
