//! The error taxonomy shared by every Worknode interface.
//!
//! One small set of codes, each with a fixed number on the wire. A code's
//! number and meaning never change once released; new codes are only added
//! at the end. Callers branch on the *kind* of failure (retry later? ask for
//! authority? give up?), so codes describe kinds, not call sites.
//!
//! Rejected alternative: a per-interface error enum. It reads well locally but
//! makes every PD translate between taxonomies at each hop, and translation is
//! where information gets lost.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Why an operation failed. The discriminant is the stable wire code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u16", try_from = "u16")]
#[repr(u16)]
pub enum ErrorCode {
    /// The message could not be decoded: truncated, trailing bytes, unknown
    /// variant, length out of range. Nothing was done.
    Malformed = 1,
    /// The frame carries an ABI version this side does not speak.
    UnsupportedVersion = 2,
    /// The request is well formed but not valid in the callee's current state
    /// (for example `Ready` before `Hello`).
    InvalidState = 3,
    /// The caller's authority does not cover the action (deny by default).
    Denied = 4,
    /// The named object does not exist.
    NotFound = 5,
    /// A fixed-capacity structure is full; the caller may retry later.
    Exhausted = 6,
    /// The authority existed but its lease has expired.
    Expired = 7,
    /// The authority was revoked.
    Revoked = 8,
    /// A device reported a failure.
    Io = 9,
    /// Stored or received data failed an integrity check.
    Corrupt = 10,
    /// The encoded message would not fit its transport.
    TooLarge = 11,
    /// The callee found one of its own invariants broken.
    Internal = 12,
}

impl ErrorCode {
    /// Every code, in wire order. Used by tests and by tools that list codes.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::Malformed,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InvalidState,
        ErrorCode::Denied,
        ErrorCode::NotFound,
        ErrorCode::Exhausted,
        ErrorCode::Expired,
        ErrorCode::Revoked,
        ErrorCode::Io,
        ErrorCode::Corrupt,
        ErrorCode::TooLarge,
        ErrorCode::Internal,
    ];

    /// The stable wire code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The code's name as it appears in logs and in `docs/abi.md`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnsupportedVersion => "unsupported-version",
            ErrorCode::InvalidState => "invalid-state",
            ErrorCode::Denied => "denied",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Exhausted => "exhausted",
            ErrorCode::Expired => "expired",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Io => "io",
            ErrorCode::Corrupt => "corrupt",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::Internal => "internal",
        }
    }
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> u16 {
        code.code()
    }
}

/// A wire code that names no [`ErrorCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownErrorCode(pub u16);

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error code {}", self.0)
    }
}

impl TryFrom<u16> for ErrorCode {
    type Error = UnknownErrorCode;

    fn try_from(code: u16) -> Result<Self, Self::Error> {
        ErrorCode::ALL.iter().copied().find(|known| known.code() == code).ok_or(UnknownErrorCode(code))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (E{})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_dense_from_one() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(usize::from(code.code()), index + 1);
            assert_eq!(ErrorCode::try_from(code.code()), Ok(*code));
        }
    }

    #[test]
    fn zero_and_unassigned_codes_are_rejected() {
        assert_eq!(ErrorCode::try_from(0), Err(UnknownErrorCode(0)));
        let next = ErrorCode::ALL.len() as u16 + 1;
        assert_eq!(ErrorCode::try_from(next), Err(UnknownErrorCode(next)));
    }

    #[test]
    fn names_are_unique() {
        for a in ErrorCode::ALL {
            for b in ErrorCode::ALL {
                assert_eq!(a == b, a.name() == b.name());
            }
        }
    }
}
