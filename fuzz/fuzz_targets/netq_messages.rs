//! Fuzzes the message queues (`worknode_netq::messages`) from either end:
//! the rings and the buffers live in memory the peer writes, so every
//! word and byte is untrusted.
//!
//! Checks: no panic; the network PD's end offers no body longer than
//! `MAX_QUEUED_BODY` and at most a ring's worth per call; the client's end
//! receives no body longer than its buffer and reclaims no more buffers
//! than it owns.

#![no_main]

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use worknode_abi::net::MAX_QUEUED_BODY;
use worknode_netq::messages::{Client, Layout, MAGIC, MAX_LEN, Offer, RINGS_LEN, Server};
use worknode_netq::{BUF_SIZE, CAPACITY, QUEUES_WORDS};

fuzz_target!(|data: &[u8]| {
    // Byte 0 picks the buffers per direction and which end is fuzzed;
    // then the rings' words, then the buffers' bytes.
    let Some((&pick, rest)) = data.split_first() else { return };
    let buffers = usize::from(pick % 4) + 1;
    let words: Vec<AtomicU64> = (0..QUEUES_WORDS).map(|_| AtomicU64::new(0)).collect();
    // Plain cells as the shared memory (`Data for [Cell<u8>]`).
    let mem = vec![Cell::new(0u8); RINGS_LEN + 2 * buffers * BUF_SIZE as usize];
    let layout = Layout::of(mem.len()).expect("one buffer each way at least");
    let client_end = pick & 0x80 != 0;
    // The client initialises; the fuzzer then writes over it as a hostile
    // peer would (words near the indices, then the buffers).
    let mut client = Client::init(&words, &mem[..]).expect("room for the rings");
    let (ring_bytes, buffer_bytes) = rest.split_at(rest.len().min(4 * 4 * 8));
    for (i, chunk) in ring_bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        // Words 1-3 of each ring: head, tail, wanted, then the first slot.
        let at = (i / 4) * 512 + 1 + i % 4;
        words[at].store(u64::from_le_bytes(word), Ordering::Relaxed);
    }
    for ring in 0..4 {
        words[ring * 512].store(MAGIC, Ordering::Relaxed);
    }
    for (i, &b) in buffer_bytes.iter().enumerate().take(layout.tx.end - layout.rx.start) {
        mem[layout.rx.start + i].set(b);
    }
    if client_end {
        let mut body = [0u8; MAX_QUEUED_BODY];
        let mut reclaimed = 0;
        let _ = client.reclaim(|_| reclaimed += 1);
        assert!(client.free_buffers() <= buffers, "more buffers than the client owns");
        for _ in 0..CAPACITY {
            match client.receive(&mut body) {
                Ok(Some(m)) => assert!(m.len <= MAX_QUEUED_BODY),
                _ => break,
            }
        }
        let _ = client.send(1, b"x");
        let _ = client.want_notifications();
        let _ = client.take_notification();
    } else {
        let mut server = Server::attach(&words, &mem[..]).expect("magic set above");
        let mut scratch = [0u8; MAX_LEN];
        let mut offers = 0;
        let _ = server.take_sends(&mut scratch, |_, body| {
            assert!(body.len() <= MAX_QUEUED_BODY, "a body longer than a stream carries");
            offers += 1;
            Offer::Sent(offers)
        });
        assert!(offers <= CAPACITY, "more offers than the ring holds");
        for n in 0..CAPACITY {
            match server.ready_to_deliver() {
                Ok(true) => {
                    let _ = server.deliver(1, n, &[7; 100]);
                }
                _ => break,
            }
        }
        let _ = server.want_notifications(true);
        let _ = server.take_notification();
    }
});
