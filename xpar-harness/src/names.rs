//! File names for user-given keys (serial keys, `once_per_run` keys): every key maps to
//! its own name, and that name is safe on every platform.

/// Longer names are shortened to a prefix plus a hash: file systems cap a name at 255
/// bytes, and the escaped form of a key can be three times the key.
const MAX_LEN: usize = 96;

/// `key` with every byte outside `[A-Za-z0-9_-]` written as `%XX`, so that distinct keys
/// give distinct names (and `%` itself cannot collide).
pub fn file_stem(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_LEN {
        // The hash must be the same in every process of the run, hence FNV-1a rather
        // than std's randomly seeded hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        out.truncate(MAX_LEN - 17);
        // Never cut an escape in half: the cut point must not fall inside `%XX`.
        while out.ends_with('%') || out[..out.len().saturating_sub(1)].ends_with('%') {
            out.pop();
        }
        out.push_str(&format!("~{hash:016x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_are_kept_and_others_escaped() {
        assert_eq!(file_stem("db"), "db");
        assert_eq!(file_stem("a-b_C9"), "a-b_C9");
        assert_eq!(file_stem("../x y"), "%2E%2E%2Fx%20y");
        assert_ne!(file_stem("a%2F"), file_stem("a/"));
        assert_eq!(file_stem("é"), "%C3%A9");
    }

    #[test]
    fn long_keys_are_shortened_distinctly() {
        let a = file_stem(&"k".repeat(300));
        let b = file_stem(&format!("{}j", "k".repeat(299)));
        assert!(a.len() <= MAX_LEN, "{a}");
        assert_ne!(a, b);
        let c = file_stem(&"/".repeat(300));
        assert!(c.len() <= MAX_LEN && c.starts_with("%2F"), "{c}");
        assert!(!c.contains("%~") && !c.contains("%2~"), "{c}");
    }
}
