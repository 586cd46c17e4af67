//! `cargo xpar list`: the human form (binary ids, tests indented) and the JSON form, whose
//! schema is [`xpar_metadata::TestListSummary`], documented in `docs/list-format.md`.

use std::io::Write;
use std::path::PathBuf;

use xpar_metadata::{ListBinary, ListSuite, ListTest, TestListSummary, LIST_FORMAT_VERSION};
use xpar_runner::suite::{suite_id, SuiteSpec};

use crate::cli::ListFormat;
use crate::discover::{BinaryContent, BinaryKind, ListedBinary, Markers, TestList};
use crate::plan::{RunIgnored, TestFilter};

/// Writes the tests of `list` that `filter` selects (ignored ones included, as marked,
/// unless `--ignored` asks for only them).
pub fn write_list(
    list: &TestList,
    suites: &[SuiteSpec],
    filter: &TestFilter,
    format: ListFormat,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let binaries: Vec<ListBinary> = list
        .binaries
        .iter()
        .map(|lb| {
            let mut b = listed_binary(lb, filter);
            b.suite = (suites.iter())
                .find(|s| {
                    lb.binary.kind == BinaryKind::Suite && suite_id(&s.name) == b.binary_id.as_str()
                })
                .map(list_suite);
            b
        })
        .collect();
    let count = binaries.iter().map(|b| b.tests.len()).sum();
    match format {
        ListFormat::Json => {
            let doc = TestListSummary {
                format_version: LIST_FORMAT_VERSION,
                test_count: count,
                binaries,
            };
            doc.to_writer(&mut *out)?;
        }
        ListFormat::Human => {
            for b in binaries.iter().filter(|b| !b.tests.is_empty()) {
                let note = match (&b.suite, b.opaque) {
                    (Some(s), _) => suite_note(s),
                    (None, true) => " (opaque: runs as one test)".to_owned(),
                    (None, false) => String::new(),
                };
                if b.suite.is_some() {
                    writeln!(out, "{}{note}", b.binary_id)?;
                    continue;
                }
                writeln!(out, "{}:{note}", b.binary_id)?;
                for t in &b.tests {
                    let ig = if t.ignored { " (ignored)" } else { "" };
                    writeln!(out, "    {}{ig}", t.name)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(count)
}

fn list_suite(s: &SuiteSpec) -> ListSuite {
    ListSuite {
        command: s.command.clone(),
        category: s.category.clone(),
        depends_on: s.depends_on.clone(),
        parallel_group: s.parallel_group.clone(),
    }
}

/// What the human list says of a suite after its id: ` (suite: category lint, after
/// build, group db)`.
fn suite_note(s: &ListSuite) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &s.category {
        parts.push(format!("category {c}"));
    }
    if !s.depends_on.is_empty() {
        parts.push(format!("after {}", s.depends_on.join(", ")));
    }
    if let Some(g) = &s.parallel_group {
        parts.push(format!("group {g}"));
    }
    if parts.is_empty() {
        " (suite)".to_owned()
    } else {
        format!(" (suite: {})", parts.join(", "))
    }
}

/// One binary as the list shows it, with the tests the filters select, as a run
/// selects them.
fn listed_binary(lb: &ListedBinary, filter: &TestFilter) -> ListBinary {
    let b = &lb.binary;
    let (opaque_reason, tests) = match &lb.content {
        BinaryContent::Opaque { reason } => {
            let name = b.id.as_str();
            // As the run selects it: it has no markers, so `-m serial` leaves it out.
            let keep = filter.matches_name(name)
                && filter.run_ignored != RunIgnored::Only
                && filter.matches_markers(&Markers::default());
            let tests = if keep {
                vec![ListTest {
                    name: name.to_owned(),
                    ignored: false,
                    source_path: None,
                }]
            } else {
                vec![]
            };
            (Some(reason.clone()), tests)
        }
        BinaryContent::Tests(tests) => (
            None,
            tests
                .iter()
                .filter(|t| filter.matches(t))
                .filter(|t| t.ignored || filter.run_ignored != RunIgnored::Only)
                .map(|t| ListTest {
                    name: t.name.clone(),
                    ignored: t.ignored,
                    source_path: t.source_path.as_ref().map(PathBuf::from),
                })
                .collect(),
        ),
    };
    ListBinary {
        binary_id: b.id.clone(),
        package: b.package.clone(),
        kind: list_kind(b.kind),
        binary_path: b.path.clone(),
        cwd: b.cwd.clone(),
        opaque: opaque_reason.is_some(),
        opaque_reason,
        tests,
        suite: None,
    }
}

/// The list's kind of a binary; exhaustive, so that a kind the runner adds is given a
/// name in the schema too.
fn list_kind(kind: BinaryKind) -> xpar_metadata::BinaryKind {
    use xpar_metadata::BinaryKind as Listed;
    match kind {
        BinaryKind::Lib => Listed::Lib,
        BinaryKind::ProcMacro => Listed::ProcMacro,
        BinaryKind::Bin => Listed::Bin,
        BinaryKind::Test => Listed::Test,
        BinaryKind::Example => Listed::Example,
        BinaryKind::Bench => Listed::Bench,
        BinaryKind::Suite => Listed::Suite,
        BinaryKind::Doctest => Listed::Doctest,
    }
}
