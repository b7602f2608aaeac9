//! A simulated disk with a storage fault model, and a small deterministic
//! random number generator: for the log's crash tests and for the Raft
//! simulator, which runs each simulated node's storage on one of these.
//! Only with the `sim` feature (it needs an allocator).

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use crate::format::SECTOR;
use crate::{BlockDevice, IoError};

/// SplitMix64: small, fast, and reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A disk with a volatile write cache. Writes land in the cache; a flush
/// makes them durable. At a crash, each cached sector independently
/// survives, is lost, or is torn (a prefix of the new bytes over the old).
/// The disk can also be told to crash at its N-th operation, which fails
/// that operation and every later one until [`SimDisk::crash`] resolves it.
pub struct SimDisk {
    /// What survives a power loss.
    pub durable: Vec<[u8; SECTOR]>,
    cache: BTreeMap<u64, [u8; SECTOR]>,
    /// Operations so far.
    pub ops: u64,
    /// Fail the operation with this number and all after it.
    pub crash_at: Option<u64>,
    /// Failing every operation until [`SimDisk::crash`].
    pub crashed: bool,
    /// When set, flushes report success without persisting ("fsync lies").
    pub lying_flush: bool,
}

impl SimDisk {
    /// A zeroed disk of `sectors` sectors.
    pub fn new(sectors: u64) -> SimDisk {
        SimDisk {
            durable: vec![[0; SECTOR]; sectors as usize],
            cache: BTreeMap::new(),
            ops: 0,
            crash_at: None,
            crashed: false,
            lying_flush: false,
        }
    }

    fn tick(&mut self) -> Result<(), IoError> {
        if self.crashed {
            return Err(IoError::Device);
        }
        self.ops += 1;
        if self.crash_at == Some(self.ops) {
            self.crashed = true;
            return Err(IoError::Device);
        }
        Ok(())
    }

    /// Power loss: resolves the cache with the fault model, then the disk
    /// works again.
    pub fn crash(&mut self, rng: &mut Rng) {
        let cache = core::mem::take(&mut self.cache);
        for (sector, new) in cache {
            match rng.below(3) {
                0 => {}
                1 => self.durable[sector as usize] = new,
                _ => {
                    let cut = rng.below(SECTOR as u64) as usize;
                    self.durable[sector as usize][..cut].copy_from_slice(&new[..cut]);
                }
            }
        }
        self.crashed = false;
        self.crash_at = None;
    }

    /// Flips one bit of the durable contents (media corruption).
    pub fn flip_bit(&mut self, byte: u64, bit: u8) {
        self.durable[(byte / SECTOR as u64) as usize][(byte % SECTOR as u64) as usize] ^= 1 << bit;
    }
}

impl BlockDevice for SimDisk {
    fn sectors(&self) -> u64 {
        self.durable.len() as u64
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        crate::device::check_range(self.sectors(), sector, buf.len())?;
        self.tick()?;
        for (i, chunk) in buf.chunks_mut(SECTOR).enumerate() {
            let s = sector + i as u64;
            chunk.copy_from_slice(self.cache.get(&s).unwrap_or(&self.durable[s as usize]));
        }
        Ok(())
    }

    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), IoError> {
        crate::device::check_range(self.sectors(), sector, data.len())?;
        let crashing = self.crash_at == Some(self.ops + 1);
        let result = self.tick();
        // A write interrupted by the crash may have reached the cache in part.
        let count = if crashing { data.len() / SECTOR / 2 } else { data.len() / SECTOR };
        if result.is_ok() || crashing {
            for (i, chunk) in data.chunks(SECTOR).enumerate().take(count) {
                let mut s = [0u8; SECTOR];
                s.copy_from_slice(chunk);
                self.cache.insert(sector + i as u64, s);
            }
        }
        result
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.tick()?;
        if !self.lying_flush {
            for (sector, data) in core::mem::take(&mut self.cache) {
                self.durable[sector as usize] = data;
            }
        }
        Ok(())
    }
}
