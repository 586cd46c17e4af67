//! How the HTML report writes times, sizes and a test's output: short, and an output cut
//! to what a browser shows without stalling.

use std::fmt::Write;

/// A test's output beyond this many bytes keeps its first [`HEAD`] bytes and its end:
/// one test may have captured 8 MiB, which a page of many failures cannot hold. The
/// JSON report and `--log-dir` keep all of it.
pub(super) const OUTPUT_CAP: usize = 256 * 1024;
const HEAD: usize = 16 * 1024;

/// Seconds as the terminal summary writes them (`0.405s`), minutes past a minute.
pub(super) fn secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.3}s")
    } else {
        let whole = s.round() as u64;
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// Bytes in binary units (`12.3 MiB`).
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A count with thousands separated (`20,000`). By hand: a crate for one format is more
/// than this takes, and the page has no locale to follow.
pub(super) fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n word` or `n words`.
pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", count(n))
    }
}

/// A test's output as the page shows it: terminal escape codes and other control
/// characters but tab and line end taken out (a test's coloured diff would read as `[31m`
/// noise, and HTML may not hold controls; whatever anstream's stripping leaves of them
/// is shown as its Unicode picture), and cut to
/// [`OUTPUT_CAP`] bytes with a line saying what was left out. Escaping for HTML is the
/// template's.
pub(super) fn output(text: &str) -> String {
    let cut = cut(text);
    let plain = anstream::adapter::strip_str(&cut).to_string();
    let mut out = String::with_capacity(plain.len());
    // The last line end would show as an empty line at the bottom of the block.
    for c in plain.trim_end().chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c @ '\0'..='\x1f' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\x7f' => out.push('\u{2421}'),
            // Noncharacters, which HTML forbids as XML does.
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= OUTPUT_CAP {
        return text.into();
    }
    let head_end = floor_char_boundary(text, HEAD);
    let tail_start = ceil_char_boundary(text, text.len() - (OUTPUT_CAP - HEAD));
    let mut s = String::with_capacity(OUTPUT_CAP + 120);
    s.push_str(&text[..head_end]);
    let _ = write!(
        s,
        "\n[... {} of output left out here; the JSON report and --log-dir have all of it ...]\n",
        bytes((tail_start - head_end) as u64)
    );
    s.push_str(&text[tail_start..]);
    s.into()
}

// `str::floor_char_boundary` is not stable at the workspace's rust-version.
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes() {
        assert_eq!(secs(0.0004), "0.000s");
        assert_eq!(secs(12.3456), "12.346s");
        assert_eq!(secs(125.4), "2m 05s");
        assert_eq!(bytes(1000), "1000 B");
        assert_eq!(bytes(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
        assert_eq!(plural(1, "worker"), "1 worker");
        assert_eq!(plural(2, "worker"), "2 workers");
        assert_eq!(plural(20_000, "test"), "20,000 tests");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(20_000), "20,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn colours_go_and_controls_show() {
        let out = output("\x1b[31mred\x1b[0m\tand\r\nbell\x07 nul\0 \u{FFFE}<b>");
        assert_eq!(out, "red\tand\nbell nul \u{fffd}<b>");
    }

    #[test]
    fn a_long_output_keeps_its_start_and_end() {
        let text = format!(
            "START{}é{}END",
            "a".repeat(HEAD),
            "b".repeat(2 * OUTPUT_CAP)
        );
        let out = output(&text);
        assert!(out.len() < OUTPUT_CAP + 200, "{}", out.len());
        assert!(out.starts_with("START") && out.ends_with("END"));
        assert!(
            out.contains("of output left out here"),
            "{}",
            &out[HEAD..HEAD + 200]
        );
        assert_eq!(output("short"), "short");
    }
}
