//! Console lines written on a worknode's behalf.
//!
//! The console is shared, and the QEMU tests (and people) trust what it says,
//! so text from a worknode is shown as data: printable ASCII as is, anything
//! else (newlines, escape sequences, other Unicode) as a Rust-style escape.
//! A worknode therefore cannot end its line early and print a line that looks
//! like it came from the governor, nor move the cursor or clear the screen.

use core::fmt;

/// Displays `text` with everything but printable ASCII escaped.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                ' '..='~' => fmt::Write::write_char(f, c)?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                other => write!(f, "\\u{{{:x}}}", other as u32)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::Escaped;

    #[test]
    fn printable_ascii_is_unchanged() {
        assert_eq!(format!("{}", Escaped("ready: 3/3 (ok)")), "ready: 3/3 (ok)");
    }

    #[test]
    fn line_breaks_and_escapes_cannot_reach_the_terminal() {
        let forged = "x\ngovernor| boot complete children=9\x1b[2J\\";
        let shown = format!("{}", Escaped(forged));
        assert_eq!(shown, "x\\ngovernor| boot complete children=9\\u{1b}[2J\\\\");
        assert!(!shown.chars().any(|c| c.is_control()));
    }

    #[test]
    fn other_unicode_is_escaped() {
        assert_eq!(format!("{}", Escaped("é\u{202e}")), "\\u{e9}\\u{202e}");
    }
}
