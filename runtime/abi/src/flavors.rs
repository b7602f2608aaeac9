//! Two postcard output flavors that spare a gated call its buffer copies.
//!
//! - [`Compare`] checks that a value encodes to exactly the given bytes
//!   without writing them anywhere: the canonical-encoding check of
//!   [`crate::frame::decode`] used to encode into a zeroed 512-byte buffer
//!   and compare, which cost a call as much as the decode itself.
//! - [`Append`] encodes straight into a `heapless::Vec`, so an audit record
//!   is encoded once, into the buffer the log append carries, instead of
//!   into a scratch buffer and then copied.
//!
//! Measured with `make bench-gate`; see docs/authority.md ("Cost").

use heapless::Vec;
use postcard::ser_flavors::Flavor;

/// Compares the encoding with `expected` as it is produced.
pub struct Compare<'a> {
    expected: &'a [u8],
    at: usize,
    equal: bool,
}

impl<'a> Compare<'a> {
    /// A comparison against `expected`.
    pub fn new(expected: &'a [u8]) -> Compare<'a> {
        Compare { expected, at: 0, equal: true }
    }
}

impl Flavor for Compare<'_> {
    /// Whether the encoding was exactly `expected`, no more, no less.
    type Output = bool;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        match self.expected.get(self.at) {
            Some(&b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            _ => {
                self.equal = false;
                Err(postcard::Error::SerializeBufferFull)
            }
        }
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        let end = self.at + bytes.len();
        match self.expected.get(self.at..end) {
            Some(part) if same(part, bytes) => self.at = end,
            // Stop encoding at the first difference.
            _ => {
                self.equal = false;
                return Err(postcard::Error::SerializeBufferFull);
            }
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.equal && self.at == self.expected.len())
    }
}

/// Whether `a` and `b` hold the same bytes. A byte string borrowed from
/// the input being checked is the very bytes it is compared with, and is
/// not read again (`make bench-net`'s profile: comparing message bodies
/// byte by byte in the bare-metal targets' `memcmp` was a tenth of the
/// network PD's instructions). Rejected: comparing eight bytes at a time,
/// which gained nothing on aarch64 and riscv64, whose bare-metal targets
/// assemble unaligned words from bytes.
fn same(a: &[u8], b: &[u8]) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

/// Appends the encoding to a `heapless::Vec`.
pub struct Append<'a, const N: usize> {
    out: &'a mut Vec<u8, N>,
}

impl<'a, const N: usize> Append<'a, N> {
    /// Appends to `out`.
    pub fn new(out: &'a mut Vec<u8, N>) -> Append<'a, N> {
        Append { out }
    }
}

impl<const N: usize> Flavor for Append<'_, N> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.out.push(byte).map_err(|_| postcard::Error::SerializeBufferFull)
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.out.extend_from_slice(bytes).map_err(|_| postcard::Error::SerializeBufferFull)
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_is_equality() {
        let bytes: [u8; 21] = core::array::from_fn(|i| i as u8);
        for len in 0..bytes.len() {
            for other in 0..bytes.len() {
                let mut changed = bytes;
                changed[other] ^= 0x40;
                let copy = bytes;
                assert!(super::same(&bytes[..len], &copy[..len]));
                assert_eq!(
                    super::same(&bytes[..len], &changed[..len]),
                    other >= len,
                    "len {len}, change at {other}"
                );
                assert!(!super::same(&bytes[..len], &bytes[..other]) || len == other);
            }
        }
        assert!(super::same(&bytes[3..9], &bytes[3..9]), "the same memory");
    }

    use super::*;

    fn same(value: &(u32, &str), bytes: &[u8]) -> bool {
        postcard::serialize_with_flavor(value, Compare::new(bytes)).unwrap_or(false)
    }

    #[test]
    fn compare_accepts_only_the_exact_encoding() {
        let value = (300u32, "hi");
        let mut buf = [0u8; 16];
        let bytes = postcard::to_slice(&value, &mut buf).unwrap().to_vec();
        assert!(same(&value, &bytes));
        assert!(!same(&value, &bytes[..bytes.len() - 1]), "shorter");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!same(&value, &longer), "longer");
        let mut other = bytes.clone();
        other[0] ^= 1;
        assert!(!same(&value, &other), "different");
    }

    #[test]
    fn append_fills_and_refuses_overflow() {
        let mut out: Vec<u8, 4> = Vec::new();
        postcard::serialize_with_flavor(&(300u32, 7u8), Append::new(&mut out)).unwrap();
        assert_eq!(out.as_slice(), &[0xAC, 0x02, 7]);
        assert!(postcard::serialize_with_flavor(&(300u32, 7u8), Append::new(&mut out)).is_err());
    }
}
