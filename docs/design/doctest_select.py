#!/usr/bin/env python3
"""Prototype: choose libtest filter / --skip tokens that select exactly a wanted
subset of a crate's doctests, given that rustdoc splits every --test-args value
on whitespace (so no token may contain whitespace and --exact is useless: every
doctest name contains spaces).

libtest semantics (stable, no --exact):
  selected(name) = (no filters or any(f in name for f in filters))
                   and not any(s in name for s in skips)

plan(all_names, wanted) -> list of (filters, skips, extras) invocations whose
union selects exactly `wanted` (each wanted name in exactly one invocation),
plus `extras`: unwanted names that could not be excluded (rare; results to be
discarded by the caller).
Identical duplicate names cannot be separated: a name is selected with all its
copies (callers should treat a duplicated name as one test / aggregate).
"""
import json
import sys


def pieces(name):
    # whitespace-free maximal runs; drop tokens libtest's getopts would parse as
    # options (start with '-'), e.g. the " - " separator.
    return [p for p in name.split() if not p.startswith("-")]


def selected(names, filters, skips):
    out = set()
    for n in names:
        if filters and not any(f in n for f in filters):
            continue
        if any(s in n for s in skips):
            continue
        out.add(n)
    return out


def _contained_in_any(tok, group):
    return any(tok in g for g in group)


def _skip_piece(u, group):
    """A piece of u that is not a substring of any name in group, or None."""
    cands = [p for p in pieces(u) if not _contained_in_any(p, group)]
    if not cands:
        return None
    # Prefer the longest (most specific: least likely to hit other names).
    return max(cands, key=len)


def _plan_group(names, group):
    """Try to select exactly `group` (a set) out of `names` (a set) in one
    invocation. Returns (filters, skips, deferred) where deferred are the
    wanted names that could not be included (to be planned separately)."""
    group = set(group)
    deferred = set()
    while True:
        unwanted = names - group
        skippable = {u: _skip_piece(u, group) for u in unwanted}
        filters = {}
        bad = []
        for w in sorted(group):
            best = None
            for f in set(pieces(w)):
                hits = [u for u in unwanted if f in u]
                if any(skippable[u] is None for u in hits):
                    continue
                key = (len(hits), -len(f))
                if best is None or key < best[0]:
                    best = (key, f)
            if best is None:
                bad.append(w)
            else:
                filters[w] = best[1]
        if not bad:
            break
        # Defer one problematic name at a time and retry (a smaller group
        # makes more unwanted names skippable, which may fix the others).
        w = bad[-1]
        group.discard(w)
        deferred.add(w)
        if not group:
            return None, None, deferred
    # Option A: filters + skips for unwanted matched by a filter.
    fset = sorted(set(filters.values()))
    unwanted = names - group
    matched = [u for u in unwanted if any(f in u for f in fset)]
    skips_a = _cover(matched, group)
    # Option B: no filters, skip every unwanted name (if all skippable).
    skips_b = None
    if all(_skip_piece(u, group) is not None for u in unwanted):
        skips_b = _cover(sorted(unwanted), group)
    if skips_b is not None and len(skips_b) < len(fset) + len(skips_a):
        return [], skips_b, deferred
    return fset, skips_a, deferred


def _cover(targets, group):
    """Greedy set cover: skip tokens (pieces of targets, not in any group name)
    covering all targets."""
    remaining = set(targets)
    skips = []
    while remaining:
        counts = {}
        for u in remaining:
            for p in set(pieces(u)):
                if not _contained_in_any(p, group):
                    counts[p] = counts.get(p, 0) + 1
        if not counts:
            raise AssertionError("unskippable: %r" % remaining)
        tok = max(counts, key=lambda p: (counts[p], len(p)))
        skips.append(tok)
        remaining = {u for u in remaining if tok not in u}
    return sorted(skips)


def _plan_with_extras(names, w):
    group = {w}
    unwanted = names - group
    best = None
    for f in set(pieces(w)):
        hits = [u for u in unwanted if f in u]
        unsk = [u for u in hits if _skip_piece(u, group) is None]
        key = (len(unsk), len(hits))
        if best is None or key < best[0]:
            best = (key, f, hits, unsk)
    _, f, hits, unsk = best
    skips = _cover([u for u in hits if u not in unsk], group)
    return [f], skips, sorted(unsk)


def plan(all_names, wanted):
    names = set(all_names)
    wanted = set(wanted) & names
    invocations = []
    todo = set(wanted)
    while todo:
        f, s, deferred = _plan_group(names, todo)
        if f is None:
            # No name of `todo` can be selected exactly (example, edition
            # 2021: w = "src/lib.rs - Foo (line 115)" with unwanted
            # "src/lib.rs - (line 115)" [README/crate-root doc, no item piece]
            # and "src/lib.rs - Foo (line 15)": every piece of those is a
            # substring of w, and every piece of w hits one of them).
            # Fallback: run one wanted name with the fewest unavoidable extras;
            # the caller ignores the extras' results.
            w = sorted(todo)[0]
            f, s, extra = _plan_with_extras(names, w)
            sel = selected(names, f, s)
            got = sel & todo          # wanted names this invocation runs anyway
            extra = sorted(sel - got)  # unwanted (or already run): discard
            invocations.append((f, s, extra))
            todo = todo - got
            continue
        invocations.append((f, s, []))
        todo = deferred
    return invocations


def to_test_args(filters, skips):
    args = list(filters)
    for s in skips:
        args += ["--skip", s]
    return args


def parse_list(text):
    """Parse `--list --format terse` stdout: 'NAME: test' lines."""
    out = []
    for line in text.splitlines():
        if line.endswith(": test"):
            out.append(line[: -len(": test")])
        elif line.endswith(": bench"):
            out.append(line[: -len(": bench")])
    return out


if __name__ == "__main__":
    # usage: select.py LISTFILE WANTEDFILE  (LISTFILE = --list --format terse
    # output; WANTEDFILE = one name per line)
    names = parse_list(open(sys.argv[1]).read())
    wanted = [l.rstrip("\n") for l in open(sys.argv[2]) if l.strip()]
    p = plan(names, wanted)
    for f, s, extra in p:
        assert selected(set(names), f, s) <= set(wanted) | set(extra)
    print(json.dumps([{"test_args": to_test_args(f, s), "extra": extra}
                      for f, s, extra in p], indent=1))
