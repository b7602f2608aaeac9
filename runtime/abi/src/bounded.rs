//! Borrowed byte and text fields with a bound: what a request carries,
//! decoded in place instead of copied into fixed-capacity buffers.
//!
//! A request used to own its bytes (`heapless::Vec<u8, 256>`, `String<256>`)
//! which made every `Request` 264 bytes however short: decoding even
//! `Ready` moved that much several times over, and `make bench-gate` found
//! decoding to be most of a gated call (1590 instructions for `Ready` on
//! aarch64). A request now borrows from the frame it was decoded from, and
//! the bound the capacity used to enforce is checked when decoding.
//!
//! On the wire nothing changed: a byte string is a varint length and the
//! bytes, text the same in UTF-8 (tests/golden.rs).

use core::fmt;
use core::ops::Deref;

use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// At most `N` bytes, borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes<'a, const N: usize>(&'a [u8]);

/// At most `N` bytes of UTF-8 text, borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text<'a, const N: usize>(&'a str);

/// The value is longer than its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

impl<'a, const N: usize> Bytes<'a, N> {
    /// `bytes`, if there are at most `N`.
    pub fn new(bytes: &'a [u8]) -> Result<Self, TooLong> {
        if bytes.len() <= N { Ok(Bytes(bytes)) } else { Err(TooLong) }
    }

    /// The bytes, with the borrow's own lifetime.
    pub fn as_slice(&self) -> &'a [u8] {
        self.0
    }
}

impl<'a, const N: usize> Text<'a, N> {
    /// `text`, if it is at most `N` bytes long.
    pub fn new(text: &'a str) -> Result<Self, TooLong> {
        if text.len() <= N { Ok(Text(text)) } else { Err(TooLong) }
    }

    /// The text, with the borrow's own lifetime.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a, const N: usize> TryFrom<&'a [u8]> for Bytes<'a, N> {
    type Error = TooLong;
    fn try_from(bytes: &'a [u8]) -> Result<Self, TooLong> {
        Bytes::new(bytes)
    }
}

impl<'a, const N: usize> TryFrom<&'a str> for Text<'a, N> {
    type Error = TooLong;
    fn try_from(text: &'a str) -> Result<Self, TooLong> {
        Text::new(text)
    }
}

/// A fixed-capacity buffer always fits its own bound.
impl<'a, const N: usize> From<&'a heapless::Vec<u8, N>> for Bytes<'a, N> {
    fn from(bytes: &'a heapless::Vec<u8, N>) -> Self {
        Bytes(bytes)
    }
}

impl<'a, const N: usize> From<&'a heapless::String<N>> for Text<'a, N> {
    fn from(text: &'a heapless::String<N>) -> Self {
        Text(text)
    }
}

impl<const N: usize> Default for Bytes<'_, N> {
    /// No bytes.
    fn default() -> Self {
        Bytes(&[])
    }
}

impl<const N: usize> Deref for Bytes<'_, N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
    }
}

impl<const N: usize> Deref for Text<'_, N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl<const N: usize> fmt::Debug for Bytes<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl<const N: usize> fmt::Debug for Text<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl<const N: usize> Serialize for Bytes<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<const N: usize> Serialize for Text<'_, N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

struct BytesVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for BytesVisitor<N> {
    type Value = Bytes<'de, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {N} bytes, borrowed from the input")
    }

    fn visit_borrowed_bytes<E: Error>(self, bytes: &'de [u8]) -> Result<Self::Value, E> {
        Bytes::new(bytes).map_err(|_| E::invalid_length(bytes.len(), &self))
    }
}

struct TextVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for TextVisitor<N> {
    type Value = Text<'de, N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at most {N} bytes of UTF-8, borrowed from the input")
    }

    fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Text::new(text).map_err(|_| E::invalid_length(text.len(), &self))
    }
}

impl<'de: 'a, 'a, const N: usize> Deserialize<'de> for Bytes<'a, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(BytesVisitor::<N>)
    }
}

impl<'de: 'a, 'a, const N: usize> Deserialize<'de> for Text<'a, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor::<N>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold_both_ways() {
        assert!(Bytes::<2>::new(&[1, 2]).is_ok());
        assert_eq!(Bytes::<2>::new(&[1, 2, 3]), Err(TooLong));
        assert_eq!(Text::<2>::new("abc"), Err(TooLong));
        assert_eq!(postcard::from_bytes::<Bytes<2>>(&[2, 7, 8]).unwrap().as_slice(), &[7, 8]);
        assert!(postcard::from_bytes::<Bytes<2>>(&[3, 7, 8, 9]).is_err());
        assert_eq!(postcard::from_bytes::<Text<2>>(&[2, b'h', b'i']).unwrap().as_str(), "hi");
        assert!(postcard::from_bytes::<Text<2>>(&[3, b'a', b'b', b'c']).is_err());
        assert!(postcard::from_bytes::<Text<4>>(&[1, 0xFF]).is_err(), "not UTF-8");
    }

    #[test]
    fn the_encoding_is_the_owned_one() {
        let owned: heapless::Vec<u8, 4> = heapless::Vec::from_slice(&[1, 2, 3]).unwrap();
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let a = postcard::to_slice(&owned, &mut a).unwrap();
        let b = postcard::to_slice(&Bytes::<4>::from(&owned), &mut b).unwrap();
        assert_eq!(a, b);
    }
}
