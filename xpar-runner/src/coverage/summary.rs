//! The coverage table at the end of a run: line and region coverage per source file, per
//! crate and in total, from llvm-cov's JSON summary (`export -format=text -summary-only`).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Deserialize;

#[derive(Deserialize)]
struct Export {
    data: Vec<ExportData>,
}

#[derive(Deserialize)]
struct ExportData {
    files: Vec<ExportFile>,
}

#[derive(Deserialize)]
struct ExportFile {
    filename: String,
    summary: FileSummary,
}

#[derive(Deserialize)]
struct FileSummary {
    lines: Count,
    regions: Count,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Count {
    pub count: u64,
    pub covered: u64,
}

impl Count {
    fn add(&mut self, o: Count) {
        self.count += o.count;
        self.covered += o.covered;
    }

    /// Percent covered; 100 when there is nothing to cover.
    pub fn percent(self) -> f64 {
        if self.count == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.count as f64
        }
    }
}

/// Lines and regions of one crate, or of all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub lines: Count,
    pub regions: Count,
}

/// Lines and regions of one source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// As llvm-cov names it; relative to the workspace root once
    /// [`Summary::relative_to`] made it so.
    pub path: String,
    /// The crate it was given to.
    pub krate: String,
    pub coverage: Coverage,
}

/// Coverage per source file, per crate and in total.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub crates: BTreeMap<String, Coverage>,
    pub total: Coverage,
    /// Sorted by crate, then path.
    pub files: Vec<SourceFile>,
}

impl Summary {
    /// The files' paths relative to `root` where they are under it.
    pub fn relative_to(&mut self, root: &std::path::Path) {
        for f in &mut self.files {
            if let Ok(rel) = std::path::Path::new(&f.path).strip_prefix(root) {
                f.path = rel.to_string_lossy().into_owned();
            }
        }
    }
}

/// Reads llvm-cov's JSON summary, giving each file to the crate `crate_of` names.
pub fn parse_summary(json: &str, crate_of: impl Fn(&str) -> String) -> Result<Summary, String> {
    let export: Export =
        serde_json::from_str(json).map_err(|e| format!("llvm-cov's JSON summary: {e}"))?;
    let mut s = Summary::default();
    for f in export.data.iter().flat_map(|d| &d.files) {
        let krate = crate_of(&f.filename);
        let c = s.crates.entry(krate.clone()).or_default();
        c.lines.add(f.summary.lines);
        c.regions.add(f.summary.regions);
        s.total.lines.add(f.summary.lines);
        s.total.regions.add(f.summary.regions);
        s.files.push(SourceFile {
            path: f.filename.clone(),
            krate,
            coverage: Coverage {
                lines: f.summary.lines,
                regions: f.summary.regions,
            },
        });
    }
    s.files
        .sort_by(|a, b| (&a.krate, &a.path).cmp(&(&b.krate, &b.path)));
    Ok(s)
}

/// The table printed after the run.
pub fn render(s: &Summary) -> String {
    let width = s.crates.keys().map(String::len).max().unwrap_or(0).max(5);
    let mut out = format!(
        "{:<width$}  {:>15}  {:>7}  {:>15}  {:>7}\n",
        "crate", "lines", "%", "regions", "%"
    );
    let mut row = |name: &str, c: &Coverage| {
        let _ = writeln!(
            out,
            "{name:<width$}  {:>15}  {:>6.2}%  {:>15}  {:>6.2}%",
            format!("{}/{}", c.lines.covered, c.lines.count),
            c.lines.percent(),
            format!("{}/{}", c.regions.covered, c.regions.count),
            c.regions.percent()
        );
    };
    for (name, c) in &s.crates {
        row(name, c);
    }
    row("TOTAL", &s.total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of `llvm-cov export -format=text -summary-only` (LLVM 22), shortened.
    const JSON: &str = r#"{"data":[{"files":[
        {"filename":"/ws/a/src/lib.rs","summary":{"lines":{"count":10,"covered":9,"percent":90},"regions":{"count":4,"covered":2,"percent":50},"functions":{"count":1,"covered":1,"percent":100}}},
        {"filename":"/ws/a/tests/it.rs","summary":{"lines":{"count":5,"covered":5,"percent":100},"regions":{"count":2,"covered":2,"percent":100}}},
        {"filename":"/ws/b/src/lib.rs","summary":{"lines":{"count":0,"covered":0,"percent":0},"regions":{"count":0,"covered":0,"percent":0}}}
      ],"totals":{}}],"type":"llvm.coverage.json.export","version":"3.0.1"}"#;

    #[test]
    fn per_crate_and_total() {
        let s = parse_summary(JSON, |f| {
            if f.starts_with("/ws/a/") { "a" } else { "b" }.to_owned()
        })
        .unwrap();
        assert_eq!(
            s.crates["a"].lines,
            Count {
                count: 15,
                covered: 14
            }
        );
        assert_eq!(
            s.total.regions,
            Count {
                count: 6,
                covered: 4
            }
        );
        assert_eq!(s.crates["b"].lines.percent(), 100.0);
        let mut s = s;
        s.relative_to(std::path::Path::new("/ws"));
        let files: Vec<(&str, &str, u64)> = (s.files.iter())
            .map(|f| (f.krate.as_str(), f.path.as_str(), f.coverage.lines.covered))
            .collect();
        assert_eq!(
            files,
            [
                ("a", "a/src/lib.rs", 9),
                ("a", "a/tests/it.rs", 5),
                ("b", "b/src/lib.rs", 0)
            ]
        );
        insta::assert_snapshot!(render(&s), @r"
        crate            lines        %          regions        %
        a                14/15   93.33%              4/6   66.67%
        b                  0/0  100.00%              0/0  100.00%
        TOTAL            14/15   93.33%              4/6   66.67%
        ");
    }

    #[test]
    fn broken_json_is_an_error() {
        assert!(parse_summary("{", |_| String::new()).is_err());
    }
}
