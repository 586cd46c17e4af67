//! Cobertura XML from lcov data, for the CI systems that read only Cobertura (GitLab's
//! coverage visualisation, Azure DevOps, Jenkins): llvm-cov has no such format. A
//! package per crate, a class per source file, a line per instrumented line with its hit
//! count; branch data where lcov has it (`BRDA`).

use std::collections::BTreeMap;
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// The line and branch data of one source file, as lcov gives it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileCoverage {
    pub path: String,
    /// Line number -> hit count.
    pub lines: BTreeMap<u32, u64>,
    /// Line number -> (branches taken, branches in all).
    pub branches: BTreeMap<u32, (u32, u32)>,
}

/// Parses an lcov tracefile: `SF:` opens a file, `DA:line,hits` and
/// `BRDA:line,block,branch,taken` add to it, `end_of_record` closes it. Other records
/// (function and summary lines) are derived data and skipped.
pub fn parse_lcov(text: &str) -> Result<Vec<FileCoverage>, String> {
    let mut files = Vec::new();
    let mut current: Option<FileCoverage> = None;
    for (i, line) in text.lines().enumerate() {
        let bad = || format!("lcov line {}: {line:?}", i + 1);
        if let Some(path) = line.strip_prefix("SF:") {
            current = Some(FileCoverage {
                path: path.to_owned(),
                ..FileCoverage::default()
            });
        } else if line == "end_of_record" {
            files.extend(current.take());
        } else if let Some(rest) = line.strip_prefix("DA:") {
            let f = current.as_mut().ok_or_else(bad)?;
            let mut parts = rest.split(',');
            let n: u32 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let hits: u64 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            *f.lines.entry(n).or_default() += hits;
        } else if let Some(rest) = line.strip_prefix("BRDA:") {
            let f = current.as_mut().ok_or_else(bad)?;
            let parts: Vec<&str> = rest.split(',').collect();
            let n: u32 = parts.first().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let taken = parts.get(3).is_some_and(|t| *t != "-" && *t != "0");
            let e = f.branches.entry(n).or_default();
            e.0 += u32::from(taken);
            e.1 += 1;
        }
    }
    Ok(files)
}

fn rate(covered: usize, valid: usize) -> String {
    if valid == 0 {
        "1".to_owned()
    } else {
        format!("{:.4}", covered as f64 / valid as f64)
    }
}

#[derive(Default)]
struct Counts {
    lines: usize,
    lines_hit: usize,
    branches: usize,
    branches_hit: usize,
}

impl Counts {
    fn of(f: &FileCoverage) -> Counts {
        Counts {
            lines: f.lines.len(),
            lines_hit: f.lines.values().filter(|&&h| h > 0).count(),
            branches: f.branches.values().map(|b| b.1 as usize).sum(),
            branches_hit: f.branches.values().map(|b| b.0 as usize).sum(),
        }
    }

    fn add(&mut self, o: &Counts) {
        self.lines += o.lines;
        self.lines_hit += o.lines_hit;
        self.branches += o.branches;
        self.branches_hit += o.branches_hit;
    }

    fn attrs<'a>(&self, el: &mut BytesStart<'a>) {
        el.push_attribute(("line-rate", rate(self.lines_hit, self.lines).as_str()));
        el.push_attribute((
            "branch-rate",
            rate(self.branches_hit, self.branches).as_str(),
        ));
    }
}

/// The Cobertura document for `files`, grouped into packages by `package_of`, with file
/// names relative to `root` (the one `<source>`).
pub fn cobertura_xml(
    files: &[FileCoverage],
    root: &Path,
    package_of: impl Fn(&str) -> String,
    timestamp: u64,
) -> String {
    let root_str = root.display().to_string();
    let relative = |p: &str| -> String {
        Path::new(p)
            .strip_prefix(root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.to_owned())
    };
    let mut packages: BTreeMap<String, Vec<&FileCoverage>> = BTreeMap::new();
    for f in files {
        packages.entry(package_of(&f.path)).or_default().push(f);
    }
    let mut total = Counts::default();
    for f in files {
        total.add(&Counts::of(f));
    }

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let _ = w.write_event(Event::DocType(BytesText::from_escaped(
        "coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\"",
    )));
    let mut cov = BytesStart::new("coverage");
    total.attrs(&mut cov);
    for (k, v) in [
        ("lines-covered", total.lines_hit.to_string()),
        ("lines-valid", total.lines.to_string()),
        ("branches-covered", total.branches_hit.to_string()),
        ("branches-valid", total.branches.to_string()),
        ("complexity", "0".to_owned()),
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ("timestamp", timestamp.to_string()),
    ] {
        cov.push_attribute((k, v.as_str()));
    }
    let _ = w.write_event(Event::Start(cov));
    let _ = w.write_event(Event::Start(BytesStart::new("sources")));
    let _ = w.write_event(Event::Start(BytesStart::new("source")));
    let _ = w.write_event(Event::Text(BytesText::new(&root_str)));
    let _ = w.write_event(Event::End(BytesEnd::new("source")));
    let _ = w.write_event(Event::End(BytesEnd::new("sources")));
    let _ = w.write_event(Event::Start(BytesStart::new("packages")));
    for (name, files) in &packages {
        let mut counts = Counts::default();
        for f in files {
            counts.add(&Counts::of(f));
        }
        let mut pkg = BytesStart::new("package");
        pkg.push_attribute(("name", name.as_str()));
        counts.attrs(&mut pkg);
        pkg.push_attribute(("complexity", "0"));
        let _ = w.write_event(Event::Start(pkg));
        let _ = w.write_event(Event::Start(BytesStart::new("classes")));
        for f in files {
            write_class(&mut w, f, &relative(&f.path));
        }
        let _ = w.write_event(Event::End(BytesEnd::new("classes")));
        let _ = w.write_event(Event::End(BytesEnd::new("package")));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("packages")));
    let _ = w.write_event(Event::End(BytesEnd::new("coverage")));
    let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
    out.push('\n');
    out
}

/// One source file as a `class`, with its lines and their branch coverage. (Writing to
/// a Vec cannot fail.)
fn write_class(w: &mut Writer<Vec<u8>>, f: &FileCoverage, rel: &str) {
    let mut class = BytesStart::new("class");
    class.push_attribute(("name", rel));
    class.push_attribute(("filename", rel));
    Counts::of(f).attrs(&mut class);
    class.push_attribute(("complexity", "0"));
    let _ = w.write_event(Event::Start(class));
    let _ = w.write_event(Event::Empty(BytesStart::new("methods")));
    let _ = w.write_event(Event::Start(BytesStart::new("lines")));
    for (n, hits) in &f.lines {
        let mut line = BytesStart::new("line");
        line.push_attribute(("number", n.to_string().as_str()));
        line.push_attribute(("hits", hits.to_string().as_str()));
        match f.branches.get(n) {
            Some(&(taken, all)) if all > 0 => {
                line.push_attribute(("branch", "true"));
                let pct = 100 * taken / all;
                let cc = format!("{pct}% ({taken}/{all})");
                line.push_attribute(("condition-coverage", cc.as_str()));
            }
            _ => line.push_attribute(("branch", "false")),
        }
        let _ = w.write_event(Event::Empty(line));
    }
    let _ = w.write_event(Event::End(BytesEnd::new("lines")));
    let _ = w.write_event(Event::End(BytesEnd::new("class")));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape llvm-cov 22 prints (`export -format=lcov`), shortened.
    const LCOV: &str = "SF:/ws/lib/src/lib.rs
FN:1,_RNvCs_3lib1a
FNDA:1,_RNvCs_3lib1a
FNF:1
FNH:1
BRDA:1,0,0,1
BRDA:1,0,1,0
BRF:2
BRH:1
DA:1,3
DA:2,0
DA:3,1
LF:3
LH:2
end_of_record
SF:/ws/app/src/main.rs
DA:1,1
end_of_record
";

    #[test]
    fn lcov_lines_and_branches() {
        let files = parse_lcov(LCOV).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].lines, BTreeMap::from([(1, 3), (2, 0), (3, 1)]));
        assert_eq!(files[0].branches, BTreeMap::from([(1, (1, 2))]));
        assert!(parse_lcov("DA:1,1\n").is_err());
        assert!(parse_lcov("SF:x\nDA:one,1\n").is_err());
    }

    #[test]
    fn cobertura_document() {
        let files = parse_lcov(LCOV).unwrap();
        let xml = cobertura_xml(
            &files,
            Path::new("/ws"),
            |p| {
                if p.starts_with("/ws/lib") {
                    "lib".into()
                } else {
                    "app".into()
                }
            },
            1700000000,
        );
        insta::assert_snapshot!(xml);
        // Well-formed, and the totals add up.
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(&xml, opts).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("lines-valid"), Some("4"));
        assert_eq!(root.attribute("lines-covered"), Some("3"));
        assert_eq!(root.attribute("line-rate"), Some("0.7500"));
    }
}
