//! Which filters a batch process gets. libtest compares every test of its binary with
//! every filter: `--exact` with thousands of names costs a binary of 20,000 tests more
//! than its tests do. A batch of tests that are neighbours in name order (what the
//! planner hands out when durations do not say otherwise) is selected instead by a few
//! name prefixes, given as plain (substring) filters, when those select exactly the
//! batch: every test whose name starts with a prefix is in the batch, and no test has a
//! prefix anywhere else in its name.

use std::collections::HashSet;

use aho_corasick::AhoCorasick;

/// More filters than this and `--exact` with the names costs no more.
const MAX_PREFIXES: usize = 64;

/// Substring filters that select exactly `batch` among `all` (every test name of the
/// binary, ignored ones included, sorted as libtest sorts them), or `None` when the
/// batch needs its names with `--exact`.
pub fn prefix_filters(all: &[&str], batch: &[String]) -> Option<Vec<String>> {
    if batch.len() <= MAX_PREFIXES {
        return None;
    }
    let wanted: HashSet<&str> = batch.iter().map(String::as_str).collect();
    let mut filters: Vec<String> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        if !wanted.contains(all[i]) {
            i += 1;
            continue;
        }
        // The run of wanted names from `i`.
        let end = (i..all.len())
            .find(|&k| !wanted.contains(all[k]))
            .unwrap_or(all.len());
        while i < end {
            let (prefix, next) = widest_prefix(all, i, end)?;
            filters.push(prefix.to_owned());
            if filters.len() > MAX_PREFIXES {
                return None;
            }
            i = next;
        }
    }
    // Every test of the batch was covered; no name may hold a prefix past its start.
    let ac = AhoCorasick::new(&filters).ok()?;
    let elsewhere = all.iter().any(|name| {
        ac.find_overlapping_iter(*name)
            .any(|m| m.start() > 0 && !wanted.contains(name))
    });
    if elsewhere || filters.len() * 4 > batch.len() {
        return None;
    }
    Some(filters)
}

/// The shortest prefix of `all[i]` whose names (a range of the sorted list) start at
/// `i` and end by `end`; with the index after them.
fn widest_prefix<'a>(all: &[&'a str], i: usize, end: usize) -> Option<(&'a str, usize)> {
    let name = all[i];
    for (len, _) in name.char_indices().skip(1).chain([(name.len(), ' ')]) {
        let prefix = &name[..len];
        let lo = all.partition_point(|n| *n < prefix);
        let hi = lo + all[lo..].partition_point(|n| n.starts_with(prefix));
        if lo == i && hi <= end {
            return Some((prefix, hi));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What libtest runs for plain filters: every name that contains one of them.
    fn selected<'a>(all: &[&'a str], filters: &[String]) -> Vec<&'a str> {
        all.iter()
            .copied()
            .filter(|n| filters.iter().any(|f| n.contains(f.as_str())))
            .collect()
    }

    fn names(modules: usize, per: usize) -> Vec<String> {
        let mut v: Vec<String> = (0..modules)
            .flat_map(|m| (0..per).map(move |t| format!("tests::m{m}::t{t:04}")))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn whole_modules_become_one_prefix_each() {
        let all = names(40, 500);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let batch: Vec<String> = all[..5000].iter().map(|s| s.to_string()).collect();
        let f = prefix_filters(&all, &batch).expect("a contiguous batch has prefixes");
        assert!(f.len() <= 20, "{f:?}");
        assert_eq!(selected(&all, &f), all[..5000].to_vec());
    }

    #[test]
    fn a_name_inside_another_name_falls_back_to_exact() {
        let mut all: Vec<String> = names(2, 100);
        all.push("other::tests::m0::t0000".into());
        all.sort();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let batch: Vec<String> = all
            .iter()
            .filter(|n| n.starts_with("tests::m0::"))
            .map(|s| s.to_string())
            .collect();
        assert_eq!(prefix_filters(&all, &batch), None);
    }

    #[test]
    fn small_or_scattered_batches_keep_exact_names() {
        let all = names(4, 100);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let few: Vec<String> = all[..10].iter().map(|s| s.to_string()).collect();
        assert_eq!(prefix_filters(&all, &few), None);
        let every_other: Vec<String> = all.iter().step_by(2).map(|s| s.to_string()).collect();
        assert_eq!(prefix_filters(&all, &every_other), None);
    }

    proptest! {
        /// Whatever the names and the batch, filters given select exactly the batch.
        #[test]
        fn filters_select_exactly_the_batch(
            raw in proptest::collection::btree_set("[ab:]{1,6}", 1..200),
            picks in proptest::collection::vec(any::<bool>(), 200),
            from in 0usize..200,
            len in 0usize..200,
        ) {
            let all: Vec<&str> = raw.iter().map(String::as_str).collect();
            let batch: Vec<String> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| (*i >= from && *i < from + len) || picks[*i % 200] && *i % 7 == 0)
                .map(|(_, s)| s.to_string())
                .collect();
            if let Some(f) = prefix_filters(&all, &batch) {
                let mut want: Vec<&str> = batch.iter().map(String::as_str).collect();
                want.sort();
                prop_assert_eq!(selected(&all, &f), want);
            }
        }
    }
}
