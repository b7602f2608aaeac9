//! Fuzzes the network frame queues from either side: the four rings live
//! in memory the peer writes, so every word is untrusted.
//!
//! Checks: no panic; a pop never yields more descriptors than the ring
//! holds; a descriptor that passes `Desc::check` names bytes inside the
//! region, at most one frame long.

#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use worknode_netq::{CAPACITY, MAGIC, MAX_FRAME, QUEUES_WORDS, Queues};

fuzz_target!(|data: &[u8]| {
    let words: Vec<AtomicU64> = (0..QUEUES_WORDS).map(|_| AtomicU64::new(0)).collect();
    // The first 8 bytes pick the region size; the rest fill the rings.
    let region = data.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap())) % (1 << 24);
    for (i, chunk) in data.get(8..).unwrap_or(&[]).chunks(8).take(QUEUES_WORDS).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        words[i].store(u64::from_le_bytes(word), Ordering::Relaxed);
    }
    for ring in 0..4 {
        words[ring * 512].store(MAGIC, Ordering::Relaxed);
    }
    let queues = Queues::attach(&words).expect("magic set above");
    for ring in [queues.rx_free, queues.rx_active, queues.tx_active, queues.tx_free] {
        let mut popped = 0;
        while let Ok(Some(desc)) = ring.pop() {
            popped += 1;
            assert!(popped <= CAPACITY, "more descriptors than the ring holds");
            if let Ok(range) = desc.check(region) {
                assert!(range.end as u64 <= region && range.len() as u64 <= MAX_FRAME);
            }
        }
        let _ = ring.want_notification();
    }
});
