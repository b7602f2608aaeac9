//! The replicated state machine the simulated clients use: a map of a few
//! registers, with the command and snapshot encodings.

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

impl Put {
    /// Encodes as entry data.
    pub fn encode(&self) -> [u8; 9] {
        let mut out = [0u8; 9];
        out[..8].copy_from_slice(&self.op.to_le_bytes());
        out[8] = self.key;
        out
    }

    /// Decodes entry data.
    pub fn decode(data: &[u8]) -> Option<Put> {
        let (op, key) = data.split_first_chunk::<8>()?;
        match key {
            [key] if *key < KEYS => Some(Put { op: u64::from_le_bytes(*op), key: *key }),
            _ => None,
        }
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

    /// Serializes as snapshot data.
    pub fn encode(&self) -> Vec<u8> {
        self.values.iter().flat_map(|(&k, &v)| std::iter::once(k).chain(v.to_le_bytes())).collect()
    }

    /// Restores from snapshot data.
    pub fn decode(data: &[u8]) -> Option<Kv> {
        let mut kv = Kv::default();
        for chunk in data.chunks(9) {
            let (&key, value) = chunk.split_first()?;
            kv.values.insert(key, u64::from_le_bytes(value.try_into().ok()?));
        }
        Some(kv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let put = Put { op: 0x0102_0304_0506_0708, key: 3 };
        assert_eq!(Put::decode(&put.encode()), Some(put));
        assert_eq!(Put::decode(&put.encode()[..8]), None);
        let mut kv = Kv::default();
        kv.put(put);
        kv.put(Put { op: 9, key: 0 });
        assert_eq!(Kv::decode(&kv.encode()), Some(kv));
        assert_eq!(Kv::decode(&[1, 2]), None);
    }
}
