//! `cargo xpar list`: the human form (binary ids, tests indented) and the JSON form,
//! documented in `docs/list-format.md`.

use std::io::Write;

use serde::Serialize;

use crate::cli::ListFormat;
use crate::discover::{BinaryContent, BinaryId, BinaryKind, Markers, TestList};
use crate::plan::{RunIgnored, TestFilter};

/// The version of the JSON list format; bumped on any incompatible change.
pub const LIST_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonList<'a> {
    format_version: u32,
    test_count: usize,
    binaries: Vec<JsonBinary<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonBinary<'a> {
    binary_id: &'a BinaryId,
    package: &'a str,
    kind: BinaryKind,
    binary_path: String,
    cwd: String,
    opaque: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    opaque_reason: Option<&'a str>,
    tests: Vec<JsonTest<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct JsonTest<'a> {
    name: &'a str,
    ignored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_path: Option<&'a str>,
}

/// Writes the tests of `list` that `filter` selects (ignored ones included, as marked,
/// unless `--ignored` asks for only them).
pub fn write_list(
    list: &TestList,
    filter: &TestFilter,
    format: ListFormat,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut binaries = Vec::new();
    let mut count = 0;
    for lb in &list.binaries {
        let b = &lb.binary;
        let (opaque_reason, tests) = match &lb.content {
            BinaryContent::Opaque { reason } => {
                let name = b.id.as_str();
                // As the run selects it: it has no markers, so `-m serial` leaves it out.
                let keep = filter.matches_name(name)
                    && filter.run_ignored != RunIgnored::Only
                    && filter.matches_markers(&Markers::default());
                let tests = if keep {
                    vec![JsonTest {
                        name,
                        ignored: false,
                        source_path: None,
                    }]
                } else {
                    vec![]
                };
                (Some(reason.as_str()), tests)
            }
            BinaryContent::Tests(tests) => (
                None,
                tests
                    .iter()
                    .filter(|t| filter.matches(t))
                    .filter(|t| t.ignored || filter.run_ignored != RunIgnored::Only)
                    .map(|t| JsonTest {
                        name: &t.name,
                        ignored: t.ignored,
                        source_path: t.source_path.as_deref(),
                    })
                    .collect(),
            ),
        };
        count += tests.len();
        binaries.push(JsonBinary {
            binary_id: &b.id,
            package: &b.package,
            kind: b.kind,
            binary_path: b.path.display().to_string(),
            cwd: b.cwd.display().to_string(),
            opaque: opaque_reason.is_some(),
            opaque_reason,
            tests,
        });
    }
    match format {
        ListFormat::Json => {
            let doc = JsonList {
                format_version: LIST_FORMAT_VERSION,
                test_count: count,
                binaries,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
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
