//! Command suites: the other jobs of a CI pipeline (lints, other languages' tests,
//! integration scripts) run in the same schedule as the tests, each one command holding a
//! worker, with dependencies between them and groups that never overlap.
//!
//! A suite is declared in the config file as a `[[suite]]` table ([`SuiteSpec`]); the
//! suites of a run are checked as a whole ([`check`]) before anything is built: names
//! are unique, every dependency names a suite, and dependencies have no cycle.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::discover::TestList;
use crate::discover::{binary_id, BinaryContent, BinaryKind, Harness, ListedBinary, TestBinary};
use crate::errors::{ReportError, SuiteError};
use crate::report::{self, Failure, RunRecord, TestOutcome, TestStatus};
use xpar_metadata::SUITE_PREFIX;

pub mod junit;
use crate::plan::{PlannedSuite, Selection};

/// One `[[suite]]` of the config file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SuiteSpec {
    /// Unique among the run's suites; what `--suites`, `depends-on` and the reports call
    /// it.
    pub name: String,
    /// The program and its arguments (no shell: `["sh", "-c", "..."]` for one).
    pub command: Vec<String>,
    /// Where it runs, relative to the workspace root (the root when not given).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Variables set for it, beside the run's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// What `--categories` selects it by (`lint`, `unit`, ...).
    #[serde(default)]
    pub category: Option<String>,
    /// Suites that must pass before it starts; when one does not, it is not run.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Suites of one group never run at the same time (on any worker).
    #[serde(default)]
    pub parallel_group: Option<String>,
    /// How long it may run before it is stopped (`30s`, `10m`), as `--timeout`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Worker slots it holds while it runs (as `#[resource_intensive(slots = N)]`).
    #[serde(default)]
    pub slots: Option<usize>,
    /// A JUnit report the command writes, relative to its `cwd`: its test cases join the
    /// run's reports.
    #[serde(default)]
    pub junit: Option<PathBuf>,
}

/// The run's suites and which of them `--suites` and `--categories` chose.
#[derive(Clone, Debug, Default)]
pub struct SuiteOptions {
    /// Every `[[suite]]` of the config file.
    pub specs: Vec<SuiteSpec>,
    /// `--suites`: these suites only (with the suites they depend on), and no tests.
    pub only: Vec<String>,
    /// `--categories`: the suites of these categories only (with the suites they depend
    /// on), and no tests.
    pub categories: Vec<String>,
}

impl SuiteOptions {
    /// Whether the run is of suites only (`--suites` or `--categories`).
    pub fn suites_only(&self) -> bool {
        !self.only.is_empty() || !self.categories.is_empty()
    }

    /// The suites the run runs, each after the suites it depends on; a name or category
    /// that is no suite's is an error.
    pub fn chosen(&self) -> Result<Vec<&SuiteSpec>, SuiteError> {
        let ordered = check(&self.specs)?;
        if !self.suites_only() {
            return Ok(ordered);
        }
        let by_name: HashMap<&str, &SuiteSpec> =
            self.specs.iter().map(|s| (s.name.as_str(), s)).collect();
        if let Some(name) = self.only.iter().find(|n| !by_name.contains_key(n.as_str())) {
            return Err(SuiteError::UnknownSuite { name: name.clone() });
        }
        let category_of = |s: &SuiteSpec| s.category.clone();
        if let Some(c) = (self.categories.iter()).find(|c| {
            !self
                .specs
                .iter()
                .any(|s| category_of(s).as_ref() == Some(c))
        }) {
            return Err(SuiteError::UnknownCategory {
                category: c.clone(),
            });
        }
        let mut wanted: Vec<&str> = (self.specs.iter())
            .filter(|s| {
                self.only.contains(&s.name)
                    || category_of(s).is_some_and(|c| self.categories.contains(&c))
            })
            .map(|s| s.name.as_str())
            .collect();
        // With what they depend on.
        let mut i = 0;
        while i < wanted.len() {
            for d in &by_name[wanted[i]].depends_on {
                if !wanted.contains(&d.as_str()) {
                    wanted.push(d);
                }
            }
            i += 1;
        }
        Ok(ordered
            .into_iter()
            .filter(|s| wanted.contains(&s.name.as_str()))
            .collect())
    }
}

/// The suites as binaries of the test list, each one opaque test whose verdict is its
/// command's exit status: `@suite/NAME`, run in its `cwd` under `workspace_root`.
pub fn listed(suites: &[&SuiteSpec], workspace_root: &Path) -> Vec<ListedBinary> {
    suites
        .iter()
        .map(|s| ListedBinary {
            binary: TestBinary {
                id: binary_id("", BinaryKind::Suite, &s.name),
                package: String::new(),
                kind: BinaryKind::Suite,
                path: PathBuf::from(&s.command[0]),
                args: s.command[1..].to_vec(),
                timeout: s.time_limit().ok().flatten(),
                cwd: workspace_root.join(s.cwd.as_deref().unwrap_or(Path::new(""))),
                env: s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                no_listing: Some(NOT_LISTED.to_owned()),
                repeated: Vec::new(),
                runner: Vec::new(),
            },
            content: BinaryContent::Opaque {
                reason: NOT_LISTED.to_owned(),
            },
            harness: Harness::Libtest,
        })
        .collect()
}

const NOT_LISTED: &str = "a command suite";

/// The suites of `selection` (binaries of `list` of kind suite), as the schedule runs
/// them.
pub fn planned(list: &TestList, selection: &Selection, suites: &[&SuiteSpec]) -> Vec<PlannedSuite> {
    let index: HashMap<String, usize> = (selection.units.iter())
        .map(|u| (u.binary, &list.binaries[u.binary].binary))
        .filter(|(_, b)| b.kind == BinaryKind::Suite)
        .map(|(i, b)| (b.id.as_str().to_owned(), i))
        .collect();
    let in_run: Vec<&&SuiteSpec> = suites
        .iter()
        .filter(|s| index.contains_key(&suite_id(&s.name)))
        .collect();
    let position: HashMap<&str, usize> = (in_run.iter().enumerate())
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    in_run
        .iter()
        .map(|s| PlannedSuite {
            binary: index[&suite_id(&s.name)],
            binary_id: suite_id(&s.name),
            name: s.name.clone(),
            // A dependency left out of the run (by a filter) is not waited for.
            depends_on: (s.depends_on.iter())
                .filter_map(|d| position.get(d.as_str()).copied())
                .collect(),
            parallel_group: s.parallel_group.clone(),
            slots: s.slots.unwrap_or(1),
        })
        .collect()
}

/// What the suites add to the run once they ran: the test cases of the JUnit report
/// each wrote (`junit`), as results of the suite, on its worker. A suite that passed but
/// left no report it can be read from fails a case of its own (`<junit>`): its tests did
/// not report; one that failed is failed already.
/// A report last written before `since` (the run's start) is an earlier run's: it
/// cannot be read as this one's.
pub fn imported(
    suites: &[&SuiteSpec],
    ran: &[TestOutcome],
    workspace_root: &Path,
    since: SystemTime,
) -> Vec<TestOutcome> {
    let mut out = Vec::new();
    for s in suites {
        let Some(junit) = &s.junit else { continue };
        let id = suite_id(&s.name);
        let Some(ran) = (ran.iter()).find(|o| o.binary_id.as_str() == id && o.worker.is_some())
        else {
            continue;
        };
        let path = workspace_root
            .join(s.cwd.as_deref().unwrap_or(Path::new("")))
            .join(junit);
        let fresh = match std::fs::metadata(&path).and_then(|m| m.modified()) {
            // A second of slack for file systems that keep whole seconds.
            Ok(written) if written + Duration::from_secs(1) < since => Err(format!(
                "it is an earlier run's (written {})",
                humantime::format_rfc3339_seconds(written)
            )),
            _ => Ok(()),
        };
        match fresh.and_then(|()| junit::read(&path, &ran.binary_id)) {
            Ok(cases) => out.extend(cases.into_iter().map(|mut c| {
                c.worker = ran.worker;
                c.started = ran.started;
                c
            })),
            Err(why) if ran.status == TestStatus::Passed => {
                let reason = format!("its JUnit report {} cannot be read: {why}", path.display());
                let status = TestStatus::Failed(Failure::NoResult { reason });
                let mut o = TestOutcome::not_started(ran.binary_id.clone(), "<junit>", status);
                o.worker = ran.worker;
                o.started = ran.started;
                out.push(o);
            }
            Err(_) => {}
        }
    }
    out
}

/// Every suite that ran, its output in `dir/NAME.log` (as `--log-dir` writes a test's).
pub fn write_logs(record: &RunRecord, dir: &Path) -> Result<(), ReportError> {
    for o in &record.outcomes {
        let Some(name) = o.binary_id.as_str().strip_prefix(SUITE_PREFIX) else {
            continue;
        };
        if o.name == o.binary_id.as_str() && o.worker.is_some() {
            report::write_log(o, &dir.join(report::log_path("", name)))?;
        }
    }
    Ok(())
}

/// The binary id of suite `name`.
pub fn suite_id(name: &str) -> String {
    binary_id("", BinaryKind::Suite, name).as_str().to_owned()
}

impl SuiteSpec {
    /// Its `timeout`, read as `--timeout` reads its value.
    pub fn time_limit(&self) -> Result<Option<std::time::Duration>, SuiteError> {
        self.timeout
            .as_deref()
            .map(|t| {
                humantime::parse_duration(t).map_err(|e| SuiteError::BadTimeout {
                    suite: self.name.clone(),
                    why: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Checks the run's suites as a whole and returns them in an order where each comes
/// after the suites it depends on (and otherwise in the order given).
pub fn check(suites: &[SuiteSpec]) -> Result<Vec<&SuiteSpec>, SuiteError> {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (i, s) in suites.iter().enumerate() {
        if s.name.trim().is_empty() {
            return Err(SuiteError::EmptyName { index: i + 1 });
        }
        if s.command.first().is_none_or(|p| p.is_empty()) {
            return Err(SuiteError::NoCommand {
                suite: s.name.clone(),
            });
        }
        if by_name.insert(&s.name, i).is_some() {
            return Err(SuiteError::Duplicate {
                suite: s.name.clone(),
            });
        }
        s.time_limit()?;
        if s.slots == Some(0) {
            return Err(SuiteError::ZeroSlots {
                suite: s.name.clone(),
            });
        }
    }
    for s in suites {
        if let Some(missing) = s
            .depends_on
            .iter()
            .find(|d| !by_name.contains_key(d.as_str()))
        {
            return Err(SuiteError::UnknownDependency {
                suite: s.name.clone(),
                dependency: missing.clone(),
            });
        }
    }
    topological(suites, &by_name)
}

/// Depth-first, in declaration order; a suite met again while its own dependencies are
/// being visited closes a cycle, which is named from there.
fn topological<'a>(
    suites: &'a [SuiteSpec],
    by_name: &HashMap<&str, usize>,
) -> Result<Vec<&'a SuiteSpec>, SuiteError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit<'a>(
        i: usize,
        suites: &'a [SuiteSpec],
        by_name: &HashMap<&str, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<&'a SuiteSpec>,
    ) -> Result<(), SuiteError> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> = path[from..]
                    .iter()
                    .map(|&p| suites[p].name.clone())
                    .collect();
                cycle.push(suites[i].name.clone());
                return Err(SuiteError::Cycle { cycle });
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for d in &suites[i].depends_on {
            visit(by_name[d.as_str()], suites, by_name, marks, path, out)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(&suites[i]);
        Ok(())
    }
    let mut marks = vec![Mark::New; suites.len()];
    let mut out = Vec::with_capacity(suites.len());
    for i in 0..suites.len() {
        visit(i, suites, by_name, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(name: &str, deps: &[&str]) -> SuiteSpec {
        SuiteSpec {
            name: name.into(),
            command: vec!["true".into()],
            cwd: None,
            env: BTreeMap::new(),
            category: None,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            parallel_group: None,
            timeout: None,
            slots: None,
            junit: None,
        }
    }

    fn names(order: &[&SuiteSpec]) -> Vec<String> {
        order.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn dependencies_come_first_and_the_rest_keeps_its_order() {
        let suites = [
            suite("e2e", &["build", "lint"]),
            suite("lint", &[]),
            suite("build", &[]),
            suite("docs", &[]),
        ];
        assert_eq!(
            names(&check(&suites).unwrap()),
            ["build", "lint", "e2e", "docs"]
        );
    }

    #[test]
    fn bad_suites_are_named() {
        let cycle = [suite("a", &["b"]), suite("b", &["c"]), suite("c", &["a"])];
        assert_eq!(
            check(&cycle).unwrap_err().to_string(),
            "suite dependencies form a cycle: a -> b -> c -> a"
        );
        let itself = [suite("a", &["a"])];
        assert!(matches!(check(&itself), Err(SuiteError::Cycle { .. })));
        let unknown = [suite("a", &["nope"])];
        assert_eq!(
            check(&unknown).unwrap_err().to_string(),
            "suite `a` depends on `nope`, which is no suite"
        );
        let twice = [suite("a", &[]), suite("a", &[])];
        assert!(matches!(check(&twice), Err(SuiteError::Duplicate { .. })));
        let mut empty = suite("a", &[]);
        empty.command.clear();
        assert!(matches!(check(&[empty]), Err(SuiteError::NoCommand { .. })));
    }

    #[test]
    fn suites_and_categories_choose_with_their_dependencies() {
        let mut lint = suite("lint", &[]);
        lint.category = Some("lint".into());
        let mut e2e = suite("e2e", &["build"]);
        e2e.category = Some("integration".into());
        let opts = |only: &[&str], categories: &[&str]| SuiteOptions {
            specs: vec![suite("build", &[]), lint.clone(), e2e.clone()],
            only: only.iter().map(|s| s.to_string()).collect(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
        };
        let chosen = |o: &SuiteOptions| names(&o.chosen().unwrap());
        assert_eq!(chosen(&opts(&[], &[])), ["build", "lint", "e2e"]);
        assert!(!opts(&[], &[]).suites_only());
        assert_eq!(chosen(&opts(&["e2e"], &[])), ["build", "e2e"]);
        assert_eq!(chosen(&opts(&[], &["lint"])), ["lint"]);
        assert_eq!(
            chosen(&opts(&["lint"], &["integration"])),
            ["build", "lint", "e2e"]
        );
        assert_eq!(
            opts(&["nope"], &[]).chosen().unwrap_err().to_string(),
            "--suites: no suite is named `nope`"
        );
        assert_eq!(
            opts(&[], &["unit"]).chosen().unwrap_err().to_string(),
            "--categories: no suite has the category `unit`"
        );
    }

    #[test]
    fn a_suite_table_reads_with_every_key_and_refuses_unknown_ones() {
        let text = r#"
            name = "e2e"
            command = ["sh", "-c", "make e2e"]
            cwd = "web"
            env = { CI = "1" }
            category = "integration"
            depends-on = ["build"]
            parallel-group = "db"
            timeout = "10m"
            slots = 2
            junit = "web/junit.xml"
        "#;
        let s: SuiteSpec = toml::from_str(text).unwrap();
        assert_eq!(s.depends_on, ["build"]);
        assert_eq!(s.parallel_group.as_deref(), Some("db"));
        assert_eq!(s.env["CI"], "1");
        let err = toml::from_str::<SuiteSpec>("name = \"a\"\ncommand = [\"x\"]\ndepend-on = []\n")
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `depend-on`"),
            "{err}"
        );
    }
}
