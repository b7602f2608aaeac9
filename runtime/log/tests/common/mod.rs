//! Test support: the simulated disk and random number generator (from the
//! crate's `sim` feature), and deterministic payloads.
#![allow(dead_code)]

pub use worknode_log::sim::{Rng, SimDisk};

/// Deterministic payload for record `seq` of a run: length and bytes depend
/// on both, so a record from a different position never matches.
pub fn payload(run: u64, seq: u64, max: usize) -> Vec<u8> {
    let mut rng = Rng::new(run.wrapping_mul(31).wrapping_add(seq));
    let len = rng.below(max as u64 + 1) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}
