//! `.config/xpar.toml` at the workspace root: profiles of run options and per-test
//! overrides, read and validated into a [`Profile`] before any work starts. Every value
//! goes through the parser of the flag of the same name; every error is one line that
//! names the file and the line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::ValueEnum;
use serde::Deserialize;
use toml::Spanned;

use super::args::{DistMode, FromArchiveArgs};
use super::config::{parse_jobs, parse_limit};
use crate::errors::UsageError;
use crate::plan::{Serial, TestOverride};
use xpar_runner::errors::SuiteError;
use xpar_runner::suite::{self, SuiteSpec};

/// Where the file is, under the workspace root.
pub const CONFIG_PATH: &str = ".config/xpar.toml";
/// Names the profile when `--config-profile` does not.
pub const PROFILE_ENV: &str = "XPAR_PROFILE";
/// The profile every other one inherits from, and the one used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// What a profile sets, validated; `None` where it leaves the flag's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub jobs: Option<usize>,
    pub dist: Option<DistMode>,
    pub retries: Option<usize>,
    pub timeout: Option<Duration>,
    pub slow_timeout: Option<Duration>,
    pub run_timeout: Option<Duration>,
    pub fail_fast: Option<bool>,
    /// Relative paths are made absolute against the workspace root.
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub coverage: Option<bool>,
    /// How many runs the run history keeps (`history-runs`).
    pub history_runs: Option<usize>,
    /// The named profile's overrides, then `default`'s: the first match wins per setting.
    pub overrides: Vec<TestOverride>,
    /// The file's `[[suite]]`s, checked as a whole (names, dependencies, cycles).
    pub suites: Vec<SuiteSpec>,
    /// The workspace root the file was looked for in (the suites' `cwd` are under it).
    pub root: PathBuf,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profile: BTreeMap<String, RawProfile>,
    /// `[[suite]]`: the command suites run beside the tests, whatever the profile.
    #[serde(default)]
    suite: Vec<Spanned<SuiteSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProfile {
    jobs: Option<Spanned<Scalar>>,
    dist: Option<Spanned<String>>,
    retries: Option<usize>,
    timeout: Option<Spanned<String>>,
    slow_timeout: Option<Spanned<String>>,
    run_timeout: Option<Spanned<String>>,
    fail_fast: Option<bool>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    coverage: Option<bool>,
    history_runs: Option<Spanned<usize>>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    filter: String,
    binary: Option<String>,
    timeout: Option<Spanned<String>>,
    retries: Option<usize>,
    serial: Option<Spanned<Scalar>>,
    slots: Option<Spanned<u32>>,
}

/// A value of a key that takes more than one type (`jobs`: 4 or "auto"; `serial`: a
/// key or `true`).
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Int(i64),
    Str(String),
    Bool(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a string or a boolean")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The profile asked for, and who asked (`--config-profile` or `XPAR_PROFILE`).
pub type Selected<'a> = Option<(&'a str, &'static str)>;

/// The profile `selected` (else `default`) of the workspace's config file; the
/// defaults when there is no file, unless a profile other than `default` was asked for.
pub fn load(
    manifest_path: Option<&Path>,
    archive: Option<&FromArchiveArgs>,
    flag: Option<&str>,
) -> Result<Profile, UsageError> {
    let env = std::env::var(PROFILE_ENV).ok();
    let selected = selected(flag, env.as_deref());
    let root = workspace_root(manifest_path, archive).unwrap_or_else(|| PathBuf::from("."));
    let path = root.join(CONFIG_PATH);
    // Errors name the file as the user would: relative to where they are, when inside.
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = path.strip_prefix(&cwd).unwrap_or(&path).to_owned();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match selected {
                Some((name, how)) if name != DEFAULT_PROFILE => Err(UsageError::UnknownProfile {
                    name: name.to_owned(),
                    how,
                    path: shown,
                    defined: "nothing: there is no such file".to_owned(),
                }),
                _ => Ok(Profile {
                    root,
                    ..Profile::default()
                }),
            };
        }
        Err(e) => {
            return Err(UsageError::ConfigFile {
                path: shown,
                line: 0,
                message: format!("cannot read it: {e}"),
            })
        }
    };
    parse(&text, &shown, &root, selected)
}

/// The profile asked for: `--config-profile`, else a non-empty `XPAR_PROFILE`.
fn selected<'a>(flag: Option<&'a str>, env: Option<&'a str>) -> Selected<'a> {
    match (flag, env.filter(|v| !v.is_empty())) {
        (Some(name), _) => Some((name, "--config-profile")),
        (None, Some(name)) => Some((name, PROFILE_ENV)),
        (None, None) => None,
    }
}

/// Where the config file's workspace is: `--workspace-remap` for an archive, else the
/// root of the workspace cargo finds (`--manifest-path`'s); `None` outside one.
fn workspace_root(
    manifest_path: Option<&Path>,
    archive: Option<&FromArchiveArgs>,
) -> Option<PathBuf> {
    if let Some(FromArchiveArgs {
        archive_file: Some(_),
        workspace_remap: Some(dir),
        ..
    }) = archive
    {
        return Some(dir.clone());
    }
    if let Some(root) = own_workspace(manifest_path) {
        return Some(root);
    }
    // `locate-project` resolves no dependency, unlike `cargo metadata`: it costs little
    // before a build that runs metadata anyway (40 ms, which `own_workspace` spares the
    // usual case).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["locate-project", "--workspace", "--message-format", "plain"]);
    if let Some(p) = manifest_path {
        cmd.arg("--manifest-path").arg(p);
    }
    // Outside a workspace there is no file to read; the build says what is wrong.
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let manifest = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    manifest.parent().map(Path::to_path_buf)
}

/// The workspace root without asking cargo, in the case that settles it: the manifest
/// cargo starts from (`--manifest-path`, else the nearest `Cargo.toml` from the current
/// directory up, as cargo looks for it) has a `[workspace]` table, which makes its
/// directory the workspace root. `None` otherwise (a member's manifest, which may belong
/// to a workspace above it): then cargo is asked.
fn own_workspace(manifest_path: Option<&Path>) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        workspace: Option<toml::Value>,
    }
    let manifest = match manifest_path {
        Some(p) => p.to_owned(),
        None => {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .map(|dir| dir.join("Cargo.toml"))
                .find(|m| m.is_file())?
        }
    };
    let text = std::fs::read_to_string(&manifest).ok()?;
    let parsed: Manifest = toml::from_str(&text).ok()?;
    parsed.workspace?;
    let dir = manifest.parent()?;
    // Relative to the current directory, as cargo's answer is absolute.
    std::path::absolute(dir).ok()
}

/// The profile `selected` of the file `text` (at `path`, in the workspace at `root`).
pub fn parse(
    text: &str,
    path: &Path,
    root: &Path,
    selected: Selected,
) -> Result<Profile, UsageError> {
    let at = |span: Option<Range<usize>>, message: String| UsageError::ConfigFile {
        path: path.to_owned(),
        line: span.map_or(0, |s| line_of(text, s.start)),
        message: message.replace('\n', " "),
    };
    let mut file: RawFile =
        toml::from_str(text).map_err(|e| at(e.span(), e.message().trim().to_owned()))?;
    let name = selected.map_or(DEFAULT_PROFILE, |(name, _)| name);
    if let Some((_, how)) =
        selected.filter(|_| name != DEFAULT_PROFILE && !file.profile.contains_key(name))
    {
        let defined: Vec<&str> = file.profile.keys().map(String::as_str).collect();
        return Err(UsageError::UnknownProfile {
            name: name.to_owned(),
            how,
            path: path.to_owned(),
            defined: if defined.is_empty() {
                "no profile".to_owned()
            } else {
                format!("the profiles {}", defined.join(", "))
            },
        });
    }
    let suites = checked_suites(std::mem::take(&mut file.suite), &at)?;
    let at = |span, key: &str, e| at(Some(span), format!("{key}: {e}"));
    // Every profile is checked, not only the one used: a mistake in `ci` shows up in a
    // run on a laptop too.
    let default = file.profile.remove(DEFAULT_PROFILE).unwrap_or_default();
    let mut chosen = default.clone().validate(root, &at)?;
    for (other, raw) in file.profile {
        let profile = raw.inherit(default.clone()).validate(root, &at)?;
        if other == name {
            chosen = profile;
        }
    }
    chosen.suites = suites;
    chosen.root = root.to_owned();
    Ok(chosen)
}

/// The file's suites, checked as a whole; an error is said at the suite it names.
fn checked_suites(
    raw: Vec<Spanned<SuiteSpec>>,
    at: &dyn Fn(Option<Range<usize>>, String) -> UsageError,
) -> Result<Vec<SuiteSpec>, UsageError> {
    let specs: Vec<SuiteSpec> = raw.iter().map(|s| s.get_ref().clone()).collect();
    let Err(e) = suite::check(&specs) else {
        return Ok(specs);
    };
    let named = match &e {
        SuiteError::NoCommand { suite }
        | SuiteError::Duplicate { suite }
        | SuiteError::ZeroSlots { suite }
        | SuiteError::BadTimeout { suite, .. }
        | SuiteError::UnknownDependency { suite, .. } => Some(suite.as_str()),
        SuiteError::Cycle { cycle } => cycle.first().map(String::as_str),
        SuiteError::EmptyName { .. }
        | SuiteError::UnknownSuite { .. }
        | SuiteError::UnknownCategory { .. } => None,
    };
    // The last of a duplicated name: the one that repeats it.
    let span = (raw.iter().rev())
        .find(|s| Some(s.get_ref().name.as_str()) == named)
        .map(|s| s.span());
    Err(at(span, e.to_string()))
}

/// Line (from 1) of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Turns a value's span, its key and what is wrong with it into the file's error.
type At<'a> = dyn Fn(Range<usize>, &str, String) -> UsageError + 'a;

impl RawProfile {
    /// This profile, with what it leaves unset taken from `base`; its overrides first.
    fn inherit(self, base: RawProfile) -> RawProfile {
        RawProfile {
            jobs: self.jobs.or(base.jobs),
            dist: self.dist.or(base.dist),
            retries: self.retries.or(base.retries),
            timeout: self.timeout.or(base.timeout),
            slow_timeout: self.slow_timeout.or(base.slow_timeout),
            run_timeout: self.run_timeout.or(base.run_timeout),
            fail_fast: self.fail_fast.or(base.fail_fast),
            junit: self.junit.or(base.junit),
            json: self.json.or(base.json),
            html: self.html.or(base.html),
            coverage: self.coverage.or(base.coverage),
            history_runs: self.history_runs.or(base.history_runs),
            overrides: self.overrides.into_iter().chain(base.overrides).collect(),
        }
    }

    fn validate(self, root: &Path, at: &At) -> Result<Profile, UsageError> {
        let limit = |key: &'static str, flag, v: Option<Spanned<String>>| {
            v.map(|v| {
                parse_limit(flag, Some(v.get_ref()))
                    .map(Option::unwrap_or_default)
                    .map_err(|e| at(v.span(), key, e.to_string()))
            })
            .transpose()
        };
        let jobs = self.jobs.map(|j| jobs_value(j, at)).transpose()?;
        let dist = self.dist.map(|d| dist_value(d, at)).transpose()?;
        let overrides = self
            .overrides
            .into_iter()
            .map(|o| o.validate(at))
            .collect::<Result<_, _>>()?;
        let history_runs = match self.history_runs {
            Some(n) if *n.get_ref() == 0 => {
                let why = "must be at least 1 (the run history keeps this run)".to_owned();
                return Err(at(n.span(), "history-runs", why));
            }
            n => n.map(Spanned::into_inner),
        };
        Ok(Profile {
            jobs,
            dist,
            retries: self.retries,
            timeout: limit("timeout", "--timeout", self.timeout)?,
            slow_timeout: limit("slow-timeout", "--slow-timeout", self.slow_timeout)?,
            run_timeout: limit("run-timeout", "--run-timeout", self.run_timeout)?,
            fail_fast: self.fail_fast,
            junit: self.junit.map(|p| root.join(p)),
            json: self.json.map(|p| root.join(p)),
            html: self.html.map(|p| root.join(p)),
            coverage: self.coverage,
            history_runs,
            overrides,
            suites: Vec::new(),
            root: PathBuf::new(),
        })
    }
}

/// `jobs = 4`, `jobs = "auto"`: as `-j` takes them.
fn jobs_value(j: Spanned<Scalar>, at: &At) -> Result<usize, UsageError> {
    let text = match j.get_ref() {
        Scalar::Int(n) => n.to_string(),
        Scalar::Str(s) => s.clone(),
        Scalar::Bool(b) => b.to_string(),
    };
    parse_jobs(&text).map_err(|e| at(j.span(), "jobs", e.to_string()))
}

/// `dist = "loadscope"`: as `--dist` takes it.
fn dist_value(d: Spanned<String>, at: &At) -> Result<DistMode, UsageError> {
    DistMode::from_str(d.get_ref(), false).map_err(|_| {
        let possible: Vec<String> = DistMode::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        let e = format!(
            "invalid value `{}` for --dist [possible values: {}]",
            d.get_ref(),
            possible.join(", ")
        );
        at(d.span(), "dist", e)
    })
}

impl RawOverride {
    fn validate(self, at: &At) -> Result<TestOverride, UsageError> {
        let timeout = match self.timeout {
            Some(t) => parse_limit("--timeout", Some(t.get_ref()))
                .map_err(|e| at(t.span(), "timeout", e.to_string()))?,
            None => None,
        };
        let serial = match self.serial {
            Some(s) => Some(match s.get_ref() {
                Scalar::Bool(true) => Serial::All,
                Scalar::Bool(false) => Serial::No,
                Scalar::Str(key) if !key.is_empty() => Serial::Keys(vec![key.clone()]),
                _ => {
                    let e = "expected a serial key (a non-empty string) or true".to_owned();
                    return Err(at(s.span(), "serial", e));
                }
            }),
            None => None,
        };
        let slots = match self.slots {
            Some(n) if *n.get_ref() == 0 => {
                return Err(at(n.span(), "slots", "must be at least 1".to_owned()))
            }
            n => n.map(Spanned::into_inner),
        };
        Ok(TestOverride {
            filter: self.filter,
            binary: self.binary,
            timeout,
            retries: self.retries,
            serial,
            slots,
        })
    }
}

#[cfg(test)]
#[path = "config_file_tests.rs"]
mod tests;
