//! The principal's console: what the serial driver PD hands the governor.
//!
//! The serial driver owns the UART's receive side. It assembles typed
//! characters into lines ([`LineEditor`]: printable ASCII, backspace
//! edits, CR or LF ends a line, at most [`MAX_LINE`] bytes) and notifies
//! the governor; the governor then calls it with
//! [`ConsoleRequest::ReadLine`] until it answers [`ConsoleReply::Empty`].
//! The console's output is the kernel's debug console, as for every PD.
//!
//! Variants are only ever appended: their position is their wire tag.

use heapless::String;
use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// Longest command line.
pub const MAX_LINE: usize = 128;

/// What the governor asks of the serial driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleRequest {
    /// The oldest complete line, if any.
    ReadLine,
}

/// The serial driver's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleReply {
    /// A complete line, without its terminator.
    Line {
        /// The text.
        text: String<MAX_LINE>,
    },
    /// No complete line waits.
    Empty,
}

/// The reply frame.
pub type ConsoleResponse = Result<ConsoleReply, ErrorCode>;

/// Turns received bytes into lines.
#[derive(Debug, Default)]
pub struct LineEditor {
    line: String<MAX_LINE>,
    overflowed: bool,
}

/// What one received byte did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Nothing to report.
    Pending,
    /// A line is complete.
    Line(String<MAX_LINE>),
    /// A line longer than [`MAX_LINE`] ended; it was dropped whole.
    TooLong,
}

impl LineEditor {
    /// An empty editor.
    pub const fn new() -> LineEditor {
        LineEditor { line: String::new(), overflowed: false }
    }

    /// Feeds one received byte.
    pub fn feed(&mut self, byte: u8) -> Edit {
        match byte {
            b'\r' | b'\n' => {
                let line = core::mem::take(&mut self.line);
                if core::mem::take(&mut self.overflowed) {
                    return Edit::TooLong;
                }
                if line.trim().is_empty() { Edit::Pending } else { Edit::Line(line) }
            }
            0x08 | 0x7F => {
                self.line.pop();
                Edit::Pending
            }
            b' '..=b'~' => {
                if self.line.push(byte as char).is_err() {
                    self.overflowed = true;
                }
                Edit::Pending
            }
            // Control characters and non-ASCII bytes are line noise.
            _ => Edit::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(editor: &mut LineEditor, bytes: &[u8]) -> heapless::Vec<Edit, 8> {
        bytes.iter().map(|&b| editor.feed(b)).filter(|e| *e != Edit::Pending).collect()
    }

    #[test]
    fn lines_end_at_cr_or_lf_and_backspace_edits() {
        let mut e = LineEditor::new();
        let got = feed(&mut e, b"halt spinnerx\x7f\r\nlist\n\r  \n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Edit::Line(String::try_from("halt spinner").unwrap()));
        assert_eq!(got[1], Edit::Line(String::try_from("list").unwrap()));
    }

    #[test]
    fn noise_is_dropped_and_overlong_lines_are_refused_whole() {
        let mut e = LineEditor::new();
        assert_eq!(
            feed(&mut e, b"li\x1b\x00\xffst\n").as_slice(),
            &[Edit::Line(String::try_from("list").unwrap())]
        );
        let mut long = [b'a'; MAX_LINE + 5];
        long[MAX_LINE + 4] = b'\n';
        assert_eq!(feed(&mut e, &long).as_slice(), &[Edit::TooLong]);
        assert_eq!(feed(&mut e, b"list\n").as_slice(), &[Edit::Line(String::try_from("list").unwrap())]);
    }
}
