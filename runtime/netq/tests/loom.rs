//! The rings' memory ordering, checked by loom over every interleaving
//! (and every weak-memory outcome loom models). Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p worknode-netq --test loom --release`
//! (`make test-host` does).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::thread;
use worknode_netq::{Desc, RING_WORDS, Ring};

fn ring_words() -> Arc<Vec<AtomicU64>> {
    Arc::new((0..RING_WORDS).map(|_| AtomicU64::new(0)).collect())
}

/// What a producer wrote into a buffer before pushing its descriptor is
/// what the consumer reads after popping it, and descriptors arrive in
/// order: the tail's release and the head's acquire carry the buffer.
#[test]
fn a_popped_buffer_holds_what_was_written_before_the_push() {
    loom::model(|| {
        let words = ring_words();
        Ring::init(&words).unwrap();
        // Two "buffers", written with relaxed stores as a device or a PD
        // writes plain memory.
        let buffers: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let (w, b) = (Arc::clone(&words), Arc::clone(&buffers));
        let producer = thread::spawn(move || {
            let ring = Ring::attach(&w).unwrap();
            for i in 0..2u32 {
                b[i as usize].store(100 + u64::from(i), Ordering::Relaxed);
                ring.push(Desc { offset: i * 2048, len: 60 + i }).unwrap();
            }
        });
        let ring = Ring::attach(&words).unwrap();
        let mut got = 0u32;
        // Bounded: loom explores each interleaving; three tries per item.
        for _ in 0..6 {
            match ring.pop().unwrap() {
                Some(desc) => {
                    assert_eq!(desc, Desc { offset: got * 2048, len: 60 + got }, "in order");
                    assert_eq!(buffers[got as usize].load(Ordering::Relaxed), 100 + u64::from(got));
                    got += 1;
                }
                None => thread::yield_now(),
            }
            if got == 2 {
                break;
            }
        }
        producer.join().unwrap();
    });
}

/// A consumer that finds the ring empty and asks to be notified either
/// sees the producer's descriptor or is notified: the wake-up is never
/// lost between "empty" and "wanted".
#[test]
fn no_lost_wakeup() {
    loom::model(|| {
        let words = ring_words();
        Ring::init(&words).unwrap();
        let notified = Arc::new(AtomicBool::new(false));
        let (w, n) = (Arc::clone(&words), Arc::clone(&notified));
        let producer = thread::spawn(move || {
            let ring = Ring::attach(&w).unwrap();
            ring.push(Desc { offset: 0, len: 60 }).unwrap();
            if ring.take_notification() {
                n.store(true, Ordering::Relaxed);
            }
        });
        let ring = Ring::attach(&words).unwrap();
        let mut slept = false;
        let mut received = ring.pop().unwrap().is_some();
        if !received {
            if ring.want_notification() {
                slept = true;
            } else {
                received = ring.pop().unwrap().is_some();
                assert!(received, "want_notification said the ring was not empty");
            }
        }
        producer.join().unwrap();
        if slept {
            assert!(notified.load(Ordering::Relaxed), "the consumer sleeps on a non-empty ring, never woken");
        }
        assert!(received || slept);
    });
}

/// A full ring refuses the push and loses nothing: once the consumer makes
/// room, every descriptor pushed arrives exactly once.
#[test]
fn full_means_wait_not_drop() {
    loom::model(|| {
        let words = ring_words();
        let ring = Ring::init(&words).unwrap();
        for i in 0..worknode_netq::CAPACITY as u32 {
            ring.push(Desc { offset: 0, len: i }).unwrap();
        }
        let w = Arc::clone(&words);
        let consumer = thread::spawn(move || {
            let ring = Ring::attach(&w).unwrap();
            ring.pop().unwrap().map(|d| d.len)
        });
        let pushed = ring.push(Desc { offset: 0, len: 999 });
        let first = consumer.join().unwrap();
        assert_eq!(first, Some(0), "the oldest comes out first");
        if pushed.is_err() {
            ring.push(Desc { offset: 0, len: 999 }).unwrap();
        }
        let mut last = 0;
        while let Some(d) = ring.pop().unwrap() {
            last = d.len;
        }
        assert_eq!(last, 999, "the late push is at the end, once");
    });
}
