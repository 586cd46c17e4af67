//! Debian's headless `chromium`, for the tests of the HTML report: the page as the
//! browser builds it (`--dump-dom`), and a screenshot. Where chromium
//! is not installed the test skips, as with the other tools (see [`crate::tools`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::tools::optional_tool;

/// A headless chromium of one test, with a profile directory of its own (tests run at
/// once, and chromium refuses a profile another instance holds).
pub struct Browser {
    program: PathBuf,
    profile: TempDir,
}

impl Browser {
    /// Chromium, or `None` (after a note) where it is not installed and `test` is to skip.
    pub fn find(test: &str) -> Option<Browser> {
        let found = optional_tool(test, "chromium", "Debian's chromium")?;
        Some(Browser {
            program: PathBuf::from(found.get_program()),
            profile: tempfile::tempdir().expect("a temp dir for chromium's profile"),
        })
    }

    fn command(&self, page: &Path) -> (Command, String) {
        let page = page
            .canonicalize()
            .unwrap_or_else(|e| panic!("no page at {}: {e}", page.display()));
        let url = format!("file://{}", page.display());
        let mut cmd = Command::new(&self.program);
        // --no-sandbox: chromium's sandbox refuses to run as root, as CI runs.
        cmd.args(["--headless", "--no-sandbox", "--disable-gpu"])
            .arg(format!("--user-data-dir={}", self.profile.path().display()));
        (cmd, url)
    }

    /// The page's DOM as chromium built it, serialized.
    pub fn dump_dom(&self, page: &Path) -> String {
        let (mut cmd, url) = self.command(page);
        let out = cmd
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "chromium --dump-dom {url}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A PNG of the page at `width` x `height` into `png`; its size as the PNG says.
    pub fn screenshot(&self, page: &Path, png: &Path, (width, height): (u32, u32)) -> (u32, u32) {
        let (mut cmd, url) = self.command(page);
        let out = cmd
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg(&url)
            .output()
            .expect("run chromium");
        let bytes = std::fs::read(png).unwrap_or_else(|e| {
            panic!(
                "chromium --screenshot {url} wrote no {}: {e} ({})\n{}",
                png.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        png_size(&bytes).unwrap_or_else(|| panic!("{} is not a PNG", png.display()))
    }
}

/// Width and height from a PNG's IHDR chunk, which the format puts first.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((be(16), be(20)))
}
