//! `cargo xpar list`: the human form (binary ids, tests indented) and the JSON form, whose
//! schema is [`xpar_metadata::TestListSummary`], documented in `docs/list-format.md`.

use std::io::Write;
use std::path::PathBuf;

use xpar_metadata::{ListBinary, ListTest, TestListSummary, LIST_FORMAT_VERSION};

use crate::cli::ListFormat;
use crate::discover::{BinaryContent, BinaryKind, ListedBinary, Markers, TestList};
use crate::plan::{RunIgnored, TestFilter};

/// Writes the tests of `list` that `filter` selects (ignored ones included, as marked,
/// unless `--ignored` asks for only them).
pub fn write_list(
    list: &TestList,
    filter: &TestFilter,
    format: ListFormat,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let binaries: Vec<ListBinary> = list
        .binaries
        .iter()
        .map(|lb| listed_binary(lb, filter))
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
                let note = if b.opaque {
                    " (opaque: runs as one test)"
                } else {
                    ""
                };
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
    }
}
