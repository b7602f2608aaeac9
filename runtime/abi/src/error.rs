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

/// Declares [`ErrorCode`], its [`ErrorCode::ALL`] list and its names from one
/// table, so a code cannot be added to one and forgotten in another.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $code:literal, $name:literal;)+) => {
        /// Why an operation failed. The discriminant is the stable wire code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(into = "u16", try_from = "u16")]
        #[repr(u16)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant = $code,)+
        }

        impl ErrorCode {
            /// Every code, in wire order. Used by tests and by tools that list codes.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code's name as it appears in logs and in `docs/abi.md`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }
        }
    };
}

error_codes! {
    /// The message could not be decoded: truncated, trailing bytes, unknown
    /// variant, length out of range. Nothing was done.
    Malformed = 1, "malformed";
    /// The frame carries an ABI version this side does not speak.
    UnsupportedVersion = 2, "unsupported-version";
    /// The request is well formed but not valid in the callee's current state
    /// (for example `Ready` before `Hello`).
    InvalidState = 3, "invalid-state";
    /// The caller's authority does not cover the action (deny by default).
    Denied = 4, "denied";
    /// The named object does not exist.
    NotFound = 5, "not-found";
    /// A fixed-capacity structure is full; the caller may retry later.
    Exhausted = 6, "exhausted";
    /// The authority existed but its lease has expired.
    Expired = 7, "expired";
    /// The authority was revoked.
    Revoked = 8, "revoked";
    /// A device reported a failure.
    Io = 9, "io";
    /// Stored or received data failed an integrity check.
    Corrupt = 10, "corrupt";
    /// The encoded message would not fit its transport.
    TooLarge = 11, "too-large";
    /// The callee found one of its own invariants broken.
    Internal = 12, "internal";
    /// The callee is not the cluster's leader; ask the leader (if it named
    /// one) instead.
    NotLeader = 13, "not-leader";
}

impl ErrorCode {
    /// The stable wire code.
    pub const fn code(self) -> u16 {
        self as u16
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
        for &a in ErrorCode::ALL {
            for &b in ErrorCode::ALL {
                assert_eq!(a == b, a.name() == b.name());
            }
        }
    }
}
