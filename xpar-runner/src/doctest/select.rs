//! Choosing exactly some of a crate's doctests by name. rustdoc splits every
//! `--test-args` value on whitespace and every doctest name has spaces
//! (`src/lib.rs - Version::parse (line 50)`), so neither a whole name nor `--exact` can
//! select one. What libtest does with what gets through (stable, without `--exact`):
//!
//! ```text
//! runs(name) = (no filters, or some filter is a substring of name)
//!              and no skip is a substring of name
//! ```
//!
//! [`plan`] picks whitespace-free pieces of the wanted names as filters and pieces of
//! the others that are in no wanted name as skips, so that one invocation runs exactly
//! the wanted tests; a name that cannot be had with the others is planned in an
//! invocation of its own, and in the rare list where even that is impossible, the
//! invocation also runs a few unwanted tests (`extras`) whose results the caller drops.
//! Measured on real lists in `docs/design/doctests.md`; written by hand because no crate
//! does this (it is a set-cover over libtest's matching rule).

use std::collections::{BTreeMap, BTreeSet};

/// One invocation: its filters and skips, and the unwanted tests it runs too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    pub filters: Vec<String>,
    pub skips: Vec<String>,
    pub extras: Vec<String>,
}

impl Invocation {
    /// As libtest arguments: the filters, then `--skip PIECE` for each skip.
    pub fn test_args(&self) -> Vec<String> {
        let mut args = self.filters.clone();
        for s in &self.skips {
            args.push("--skip".to_owned());
            args.push(s.clone());
        }
        args
    }
}

/// The whitespace-free pieces of `name` a filter or skip may be (not one that starts
/// with `-`, which libtest's option parser would take for an option: the ` - ` of every
/// doctest name).
fn pieces(name: &str) -> BTreeSet<&str> {
    name.split_whitespace()
        .filter(|p| !p.starts_with('-'))
        .collect()
}

/// The names of `names` an invocation with `filters` and `skips` runs (libtest's rule).
pub fn selected<'a>(names: &[&'a str], filters: &[String], skips: &[String]) -> BTreeSet<&'a str> {
    names
        .iter()
        .copied()
        .filter(|n| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .filter(|n| !skips.iter().any(|s| n.contains(s.as_str())))
        .collect()
}

fn in_any(piece: &str, group: &BTreeSet<&str>) -> bool {
    group.iter().any(|g| g.contains(piece))
}

/// A piece of `unwanted` that no name of `group` holds: a skip that spares the group.
fn skip_piece<'a>(unwanted: &'a str, group: &BTreeSet<&str>) -> Option<&'a str> {
    pieces(unwanted)
        .into_iter()
        .filter(|p| !in_any(p, group))
        .max_by_key(|p| (p.len(), std::cmp::Reverse(*p)))
}

/// Skips (greedy set cover) that leave out every name of `targets` and none of `group`.
fn cover(targets: &BTreeSet<&str>, group: &BTreeSet<&str>) -> Vec<String> {
    let mut left = targets.clone();
    let mut skips = Vec::new();
    while !left.is_empty() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for u in &left {
            for p in pieces(u) {
                if !in_any(p, group) {
                    *counts.entry(p).or_default() += 1;
                }
            }
        }
        let Some((&best, _)) = counts
            .iter()
            .max_by_key(|(p, n)| (**n, p.len(), std::cmp::Reverse(**p)))
        else {
            // Callers only cover names that have a skip piece.
            break;
        };
        skips.push(best.to_owned());
        left.retain(|u| !u.contains(best));
    }
    skips.sort();
    skips
}

/// One invocation running exactly as much of `wanted` as it can, and the wanted names
/// it leaves for others; `None` when it can have none of them.
fn plan_group<'a>(
    names: &BTreeSet<&'a str>,
    wanted: &BTreeSet<&'a str>,
) -> Option<(Invocation, BTreeSet<&'a str>)> {
    let mut group = wanted.clone();
    let mut deferred = BTreeSet::new();
    let filters = loop {
        let unwanted: BTreeSet<&str> = names.difference(&group).copied().collect();
        let skippable = |u: &str| skip_piece(u, &group).is_some();
        let mut filters = BTreeSet::new();
        let mut bad = None;
        for w in &group {
            // The filter that brings in the fewest unwanted names, all of them skippable.
            let best = pieces(w)
                .into_iter()
                .filter_map(|f| {
                    let hits: Vec<&&str> = unwanted.iter().filter(|u| u.contains(f)).collect();
                    hits.iter()
                        .all(|u| skippable(u))
                        .then_some(((hits.len(), std::cmp::Reverse(f.len())), f))
                })
                .min();
            match best {
                Some((_, f)) => {
                    filters.insert(f.to_owned());
                }
                None => bad = Some(*w),
            }
        }
        match bad {
            None => break filters,
            // One at a time: a smaller group may make the others possible.
            Some(w) => {
                group.remove(w);
                deferred.insert(w);
                if group.is_empty() {
                    return None;
                }
            }
        }
    };
    let unwanted: BTreeSet<&str> = names.difference(&group).copied().collect();
    let filters: Vec<String> = filters.into_iter().collect();
    let matched: BTreeSet<&str> = (unwanted.iter().copied())
        .filter(|u| filters.iter().any(|f| u.contains(f.as_str())))
        .collect();
    let with_filters = Invocation {
        skips: cover(&matched, &group),
        filters,
        extras: Vec::new(),
    };
    // Without filters, skipping every other name, when that is shorter.
    if unwanted.iter().all(|u| skip_piece(u, &group).is_some()) {
        let skips = cover(&unwanted, &group);
        if skips.len() < with_filters.filters.len() + with_filters.skips.len() {
            let skip_all = Invocation {
                skips,
                ..Invocation::default()
            };
            return Some((skip_all, deferred));
        }
    }
    Some((with_filters, deferred))
}

/// `wanted`'s name alone, with the fewest unwanted names that cannot be skipped.
fn plan_with_extras(names: &BTreeSet<&str>, w: &str) -> Invocation {
    let group: BTreeSet<&str> = [w].into();
    let unwanted: BTreeSet<&str> = names.difference(&group).copied().collect();
    let best = pieces(w)
        .into_iter()
        .map(|f| {
            let hits: BTreeSet<&str> = unwanted.iter().copied().filter(|u| u.contains(f)).collect();
            let stuck = hits
                .iter()
                .filter(|u| skip_piece(u, &group).is_none())
                .count();
            ((stuck, hits.len()), f, hits)
        })
        .min_by_key(|(key, f, _)| (*key, *f));
    let (f, hits) = match best {
        Some((_, f, hits)) => (f.to_owned(), hits),
        // A name of whitespace and dashes only: nothing to filter by; run everything.
        None => (String::new(), unwanted),
    };
    let skippable: BTreeSet<&str> = (hits.iter().copied())
        .filter(|u| skip_piece(u, &group).is_some())
        .collect();
    Invocation {
        filters: if f.is_empty() { Vec::new() } else { vec![f] },
        skips: cover(&skippable, &group),
        extras: Vec::new(),
    }
}

/// Invocations that together run every name of `wanted` (those of `all`) exactly once;
/// each says which unwanted names it runs as well. Identical names (a macro that
/// expands a doctest twice on one line) are run together, as they cannot be told apart.
pub fn plan(all: &[&str], wanted: &[&str]) -> Vec<Invocation> {
    let names: BTreeSet<&str> = all.iter().copied().collect();
    let mut todo: BTreeSet<&str> = (wanted.iter().copied())
        .filter(|w| names.contains(w))
        .collect();
    let list: Vec<&str> = names.iter().copied().collect();
    let mut out = Vec::new();
    while !todo.is_empty() {
        match plan_group(&names, &todo) {
            Some((invocation, deferred)) => {
                out.push(invocation);
                todo = deferred;
            }
            None => {
                let first = todo.iter().next().copied().unwrap_or_default();
                let mut invocation = plan_with_extras(&names, first);
                let runs = selected(&list, &invocation.filters, &invocation.skips);
                invocation.extras = runs.difference(&todo).map(|s| s.to_string()).collect();
                todo.retain(|t| !runs.contains(t));
                out.push(invocation);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A 2021 crate's list: the same item at several lines, line numbers inside each
    /// other, the crate root's (README) doctests, a module file.
    const LIST: &[&str] = &[
        "src/lib.rs - (line 3)",
        "src/lib.rs - (line 15)",
        "src/lib.rs - Version::parse (line 5)",
        "src/lib.rs - Version::parse (line 15)",
        "src/lib.rs - Version::parse (line 150)",
        "src/lib.rs - Version (line 40)",
        "src/lib.rs - Version::new (line 62)",
        "src/lines.rs - lines::Multi (line 15)",
        "src/lines.rs - lines::Multi (line 115)",
        "src/lines.rs - lines::Multi::new (line 9)",
    ];

    /// Every invocation runs only wanted names and its extras, and together they run
    /// every wanted name exactly once.
    fn check(all: &[&str], wanted: &[&str]) {
        let plan = plan(all, wanted);
        let wanted: BTreeSet<&str> = wanted.iter().copied().collect();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for inv in &plan {
            let runs = selected(all, &inv.filters, &inv.skips);
            for r in &runs {
                let extra = inv.extras.iter().any(|e| e == r);
                assert!(wanted.contains(r) || extra, "{r} runs unwanted: {inv:?}");
                if !extra {
                    *seen.entry(r).or_default() += 1;
                }
            }
            for arg in inv.test_args() {
                assert!(!arg.contains(char::is_whitespace), "{arg:?}");
            }
        }
        for w in &wanted {
            assert_eq!(seen.get(w), Some(&1), "{w} in {plan:?}");
        }
    }

    #[test]
    fn every_single_test_of_the_list_is_selected_alone() {
        let mut with_extras = Vec::new();
        for w in LIST {
            check(LIST, &[w]);
            let plan = plan(LIST, &[w]);
            assert_eq!(plan.len(), 1, "{w}: {plan:?}");
            if !plan[0].extras.is_empty() {
                with_extras.push(*w);
            }
        }
        // Every piece of `Version::parse (line 5)` and of the crate root's `(line 15)` is
        // in `Version::parse (line 15)`, and each of its pieces brings one of them in:
        // it cannot be had alone. Every other name can.
        assert_eq!(with_extras, ["src/lib.rs - Version::parse (line 15)"]);
    }

    #[test]
    fn every_list_but_one_is_selected() {
        for skip in LIST {
            let rest: Vec<&str> = LIST.iter().copied().filter(|n| n != skip).collect();
            check(LIST, &rest);
        }
        check(LIST, LIST);
        assert!(plan(LIST, &[]).is_empty());
    }

    /// A list where one name cannot be had without another: every piece of it is inside
    /// other names, and every piece of those inside it.
    #[test]
    fn an_unselectable_name_runs_with_extras_the_caller_drops() {
        let all = [
            "src/lib.rs - Foo (line 115)",
            "src/lib.rs - (line 115)",
            "src/lib.rs - Foo (line 15)",
        ];
        check(&all, &["src/lib.rs - Foo (line 115)"]);
    }

    proptest! {
        #[test]
        fn any_subset_is_selected_exactly(mask in proptest::collection::vec(any::<bool>(), LIST.len())) {
            let wanted: Vec<&str> = LIST.iter().zip(&mask).filter(|(_, m)| **m).map(|(n, _)| *n).collect();
            check(LIST, &wanted);
        }
    }
}
