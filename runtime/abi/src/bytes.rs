//! Serde for `heapless::Vec<u8, N>` as a byte string, for
//! `#[serde(with = "crate::bytes")]` on byte fields.
//!
//! heapless serializes a `Vec<u8, N>` as a sequence of `u8`s: one serde
//! call per byte each way, which made the byte fields most of the cost of
//! a gated call (`make bench-gate`). postcard writes a byte string exactly
//! as it writes a sequence of `u8`s (a varint length, then the bytes), so
//! this changes no encoding; the goldens in tests/golden.rs prove it.
//! Rejected: the `serde_bytes` crate, which supports `Vec` of `alloc` and
//! slices but not `heapless::Vec`.

use core::fmt;

use heapless::Vec;
use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Writes `bytes` as a byte string.
pub fn serialize<S: Serializer, const N: usize>(
    bytes: &Vec<u8, N>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Reads a byte string of at most `N` bytes.
pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
) -> Result<Vec<u8, N>, D::Error> {
    deserializer.deserialize_bytes(BytesVisitor::<N>)
}

struct BytesVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for BytesVisitor<N> {
    type Value = Vec<u8, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {N} bytes")
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
        Vec::from_slice(bytes).map_err(|_| E::invalid_length(bytes.len(), &self))
    }

    // Formats without byte strings (self-describing ones) hand a sequence.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        // Bounded: at most N + 1 elements are read before failing.
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte).map_err(|_| A::Error::invalid_length(N + 1, &self))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AsBytes(#[serde(with = "crate::bytes")] Vec<u8, 4>);
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct AsSeq(Vec<u8, 4>);

    #[test]
    fn postcard_bytes_are_the_sequence_encoding() {
        for len in 0..=4 {
            let v: Vec<u8, 4> = (0..len).map(|i| 0xF0 + i).collect();
            let mut a = [0u8; 8];
            let mut b = [0u8; 8];
            let a = postcard::to_slice(&AsBytes(v.clone()), &mut a).unwrap();
            let b = postcard::to_slice(&AsSeq(v.clone()), &mut b).unwrap();
            assert_eq!(a, b);
            assert_eq!(postcard::from_bytes::<AsBytes>(a).unwrap(), AsBytes(v));
        }
    }

    #[test]
    fn too_long_is_refused() {
        assert!(postcard::from_bytes::<AsBytes>(&[5, 1, 2, 3, 4, 5]).is_err());
        assert!(postcard::from_bytes::<AsBytes>(&[4, 1, 2, 3]).is_err(), "truncated");
    }
}
