//! The replicated state machine the simulated clients use: a map of a few
//! registers, with the command and snapshot encodings. Both encodings may
//! carry filler, so a seed can make entries as large as an entry may be and
//! snapshots span many chunks; the filler is a pattern derived from what it
//! pads, and a decode checks it, so bytes moved or damaged anywhere on the
//! way (window, wire, chunks, storage) show as a violation.

use std::collections::BTreeMap;

/// Registers in the map. Few keys, so operations collide often.
pub const KEYS: u8 = 5;

/// One write, as carried in a log entry: which client operation (so the
/// node that proposed it can answer the right client), which key, what
/// value. Values are unique per operation, which lets the checkers tell
/// every write apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Put {
    /// The operation's identity (also its value).
    pub op: u64,
    /// Register.
    pub key: u8,
}

/// The filler byte at position `i` of something identified by `seed`.
fn filler(seed: u64, i: usize) -> u8 {
    (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i as u32 % 64) as u8) ^ i as u8
}

impl Put {
    /// Bytes of an encoded write without filler.
    pub const LEN: usize = 9;

    /// Encodes as entry data, followed by `pad` filler bytes.
    pub fn encode(&self, pad: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(Put::LEN + pad);
        out.extend_from_slice(&self.op.to_le_bytes());
        out.push(self.key);
        out.extend((0..pad).map(|i| filler(self.op, i)));
        out
    }

    /// Decodes entry data, checking the filler.
    pub fn decode(data: &[u8]) -> Option<Put> {
        let (op, rest) = data.split_first_chunk::<8>()?;
        let (&key, pad) = rest.split_first()?;
        let op = u64::from_le_bytes(*op);
        let pad_ok = pad.iter().enumerate().all(|(i, &b)| b == filler(op, i));
        (key < KEYS && pad_ok).then_some(Put { op, key })
    }
}

/// The map, and how far into the log it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    values: BTreeMap<u8, u64>,
}

impl Kv {
    /// Applies a write.
    pub fn put(&mut self, put: Put) {
        self.values.insert(put.key, put.op);
    }

    /// Reads a register.
    pub fn get(&self, key: u8) -> Option<u64> {
        self.values.get(&key).copied()
    }

    /// Serializes as snapshot data: the number of registers, each register,
    /// then `pad` filler bytes.
    pub fn encode(&self, pad: usize) -> Vec<u8> {
        let mut out = vec![self.values.len() as u8];
        out.extend(self.values.iter().flat_map(|(&k, &v)| std::iter::once(k).chain(v.to_le_bytes())));
        let seed = out.len() as u64;
        out.extend((0..pad).map(|i| filler(seed, i)));
        out
    }

    /// Restores from snapshot data, checking the filler.
    pub fn decode(data: &[u8]) -> Option<Kv> {
        let (&count, rest) = data.split_first()?;
        let (registers, pad) = rest.split_at_checked(usize::from(count) * Put::LEN)?;
        let mut kv = Kv::default();
        for chunk in registers.chunks(Put::LEN) {
            let (&key, value) = chunk.split_first()?;
            kv.values.insert(key, u64::from_le_bytes(value.try_into().ok()?));
        }
        let seed = 1 + registers.len() as u64;
        pad.iter().enumerate().all(|(i, &b)| b == filler(seed, i)).then_some(kv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let put = Put { op: 0x0102_0304_0506_0708, key: 3 };
        for pad in [0, 1, 500] {
            assert_eq!(Put::decode(&put.encode(pad)), Some(put));
        }
        assert_eq!(Put::decode(&put.encode(0)[..8]), None);
        let mut damaged = put.encode(40);
        damaged[30] ^= 1;
        assert_eq!(Put::decode(&damaged), None, "damaged filler");
        let mut kv = Kv::default();
        kv.put(put);
        kv.put(Put { op: 9, key: 0 });
        for pad in [0, 3000] {
            assert_eq!(Kv::decode(&kv.encode(pad)), Some(kv.clone()));
        }
        let mut damaged = kv.encode(3000);
        damaged[2000] ^= 1;
        assert_eq!(Kv::decode(&damaged), None, "damaged filler");
        assert_eq!(Kv::decode(&[1, 2]), None);
    }
}
