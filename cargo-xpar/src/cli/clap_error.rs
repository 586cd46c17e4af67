//! clap's own usage errors, reflowed into the one line every usage error gets
//! (`error: ...`, exit 2), like the errors of our own validation in `config.rs`.

use clap::error::ErrorKind;

/// `err` as one line: clap's `error:` line with the details clap indents under it (the
/// possible values, the missing arguments, its first tip) joined on, and the `Usage:`
/// block and "For more information" line, which take several lines, replaced by a hint.
///
/// clap has no one-line style (its `Error::print` always adds the usage block), so this
/// reflows its rendering rather than rewriting each kind's message by hand.
pub fn clap_error_line(err: &clap::Error) -> String {
    const HINT: &str = " (see --help)";
    // With `arg_required_else_help` clap renders the help, not an error, as the error.
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return format!("error: a subcommand is required{HINT}");
    }
    // Display strips the styling.
    let rendered = err.render().to_string();
    let mut lines = rendered.lines().skip_while(|l| !l.starts_with("error:"));
    let Some(head) = lines.next() else {
        return format!("error: {}{HINT}", err.kind());
    };
    let mut line = head.trim_end().to_owned();
    let mut tipped = false;
    // The details are indented, and end at the first line that is not (`Usage:`, ...).
    let details = lines
        .take_while(|l| l.trim().is_empty() || l.starts_with(char::is_whitespace))
        .map(str::trim)
        .filter(|l| !l.is_empty());
    for detail in details {
        if detail.starts_with("tip:") {
            // The first is the most useful ("a similar argument exists"); more make the
            // line long.
            if !tipped {
                tipped = true;
                line += "; ";
                line += detail;
            }
            continue;
        }
        // A list under a heading ending in ':' (missing arguments), or `[possible values]`.
        line += if line.ends_with(':') || detail.starts_with('[') {
            " "
        } else {
            ", "
        };
        line += detail;
    }
    line + HINT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::CargoCli;
    use clap::Parser;

    fn line(args: &[&str]) -> String {
        let err = CargoCli::try_parse_from(["cargo", "xpar"].iter().chain(args))
            .expect_err(&format!("{args:?} should be refused by clap"));
        clap_error_line(&err)
    }

    #[test]
    fn clap_errors_are_one_line() {
        let table: &[(&[&str], &str)] = &[
            (
                &["--bogus"],
                "error: unexpected argument '--bogus' found; tip: to pass '--bogus' as a \
                 value, use '-- --bogus' (see --help)",
            ),
            (
                &["--dsit", "load"],
                "error: unexpected argument '--dsit' found; tip: a similar argument exists: \
                 '--dist' (see --help)",
            ),
            (
                &["--dist", "foo"],
                "error: invalid value 'foo' for '--dist <MODE>' [possible values: load, \
                 loadscope, loadfile, loadgroup, worksteal, each, no] (see --help)",
            ),
            (
                &["--release", "--profile", "dev"],
                "error: the argument '--release' cannot be used with '--profile <NAME>' \
                 (see --help)",
            ),
            (
                &["stress", "--count", "x"],
                "error: invalid value 'x' for '--count <N>': invalid digit found in string \
                 (see --help)",
            ),
            (
                &["stress"],
                "error: the following required arguments were not provided: <--count \
                 <N>|--plan <FILE|JSON>> (see --help)",
            ),
            (
                &["--retries", "-1"],
                "error: invalid value '-1' for '--retries <N>': invalid digit found in \
                 string (see --help)",
            ),
            (
                &["--timeout"],
                "error: a value is required for '--timeout <DURATION>' but none was supplied \
                 (see --help)",
            ),
        ];
        for (args, want) in table {
            assert_eq!(line(args), *want, "{args:?}");
        }
    }
}
