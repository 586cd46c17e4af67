//! An exit code as it is shown. A Windows process that crashes exits with the `NTSTATUS`
//! of the crash (`0xC0000005`, an access violation), which reads as a large negative
//! number; a Unix exit code is 0-255 and a crash is a signal, so the names never apply
//! there. Kept here, beside the failures that carry codes, so that a report made on
//! Windows reads the same wherever it is shown or merged.

/// `3`; a Windows crash's status in hex with its name: `0xc0000005
/// (STATUS_ACCESS_VIOLATION)`.
pub fn exit_code_text(code: i32) -> String {
    match ntstatus_name(code) {
        Some(name) => format!("{:#x} ({name})", code as u32),
        None => code.to_string(),
    }
}

/// The `NTSTATUS` codes a test process meets: an access violation, a stack overflow,
/// `abort`'s fail-fast, a Ctrl-C.
fn ntstatus_name(code: i32) -> Option<&'static str> {
    Some(match code as u32 {
        0xC000_0005 => "STATUS_ACCESS_VIOLATION",
        0xC000_001D => "STATUS_ILLEGAL_INSTRUCTION",
        0xC000_0094 => "STATUS_INTEGER_DIVIDE_BY_ZERO",
        0xC000_00FD => "STATUS_STACK_OVERFLOW",
        0xC000_013A => "STATUS_CONTROL_C_EXIT",
        0xC000_0374 => "STATUS_HEAP_CORRUPTION",
        0xC000_0409 => "STATUS_STACK_BUFFER_OVERRUN: a fail-fast abort",
        0x8000_0003 => "STATUS_BREAKPOINT",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_statuses_are_named_and_plain_codes_are_not() {
        assert_eq!(exit_code_text(3), "3");
        assert_eq!(exit_code_text(101), "101");
        assert_eq!(
            exit_code_text(-1_073_741_819),
            "0xc0000005 (STATUS_ACCESS_VIOLATION)"
        );
        assert_eq!(
            exit_code_text(0xC000_0409_u32 as i32),
            "0xc0000409 (STATUS_STACK_BUFFER_OVERRUN: a fail-fast abort)"
        );
        // An unknown negative status stays a number.
        assert_eq!(exit_code_text(-5), "-5");
    }
}
