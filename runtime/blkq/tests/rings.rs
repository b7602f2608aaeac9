//! The block queue: FIFO order, back-pressure instead of loss, hostile
//! slot contents, and the golden layout.

use core::sync::atomic::AtomicU64;

use proptest::prelude::*;
use worknode_blkq::{BadQueue, CAPACITY, MAGIC, Op, Queue, QueueFull, Request, Response, Status, WORDS};

fn page() -> Vec<AtomicU64> {
    (0..WORDS).map(|_| AtomicU64::new(0)).collect()
}

fn request(id: u32) -> Request {
    Request { id, op: Op::Write, sector: u64::from(id) * 8, count: 8, offset: 4096 }
}

#[test]
fn a_full_ring_refuses_and_loses_nothing() {
    let words = page();
    let client = Queue::init(&words).unwrap();
    let driver = Queue::attach(&words).unwrap();
    for id in 0..CAPACITY as u32 {
        client.push_request(&request(id)).unwrap();
    }
    assert!(client.requests_full());
    assert_eq!(client.push_request(&request(99)), Err(QueueFull));
    for id in 0..CAPACITY as u32 {
        assert_eq!(driver.pop_request(), Some(Ok(request(id))));
    }
    assert_eq!(driver.pop_request(), None);
}

#[test]
fn attach_refuses_an_uninitialised_page() {
    let words = page();
    assert!(matches!(Queue::attach(&words), Err(BadQueue)));
    assert!(matches!(Queue::init(&words[..10]), Err(BadQueue)));
}

#[test]
fn golden_layout() {
    let words = page();
    assert_eq!(worknode_blkq::capacity(&words), None);
    worknode_blkq::publish_capacity(&words, 2048);
    let client = Queue::init(&words).unwrap();
    assert_eq!(worknode_blkq::capacity(&words), Some(2048));
    client.push_request(&Request { id: 7, op: Op::Flush, sector: 0, count: 0, offset: 0 }).unwrap();
    client.push_response(Response { id: 7, status: Status::Unsupported }).unwrap();
    let raw: Vec<u64> = words.iter().map(|w| w.load(core::sync::atomic::Ordering::Relaxed)).collect();
    assert_eq!(raw[0], MAGIC);
    assert_eq!(&raw[1..6], &[0, 1, 0, 1, 2048]);
    assert_eq!(&raw[8..12], &[0x0000_0003_0000_0007, 0, 0, 0]);
    assert_eq!(&raw[8 + 4 * 32..8 + 4 * 32 + 2], &[7, 3]);
    assert_eq!(WORDS, 200);
}

proptest! {
    /// Any sequence of pushes and pops behaves like a bounded FIFO, and
    /// hostile slot words never panic the decoder.
    #[test]
    fn behaves_like_a_bounded_fifo(ops in proptest::collection::vec(any::<(bool, u32)>(), 0..200)) {
        let words = page();
        let q = Queue::init(&words).unwrap();
        let mut model = std::collections::VecDeque::new();
        for (push, id) in ops {
            if push {
                let pushed = q.push_request(&request(id));
                prop_assert_eq!(pushed.is_ok(), model.len() < CAPACITY as usize);
                if pushed.is_ok() { model.push_back(id); }
            } else {
                prop_assert_eq!(q.pop_request().map(|r| r.unwrap().id), model.pop_front());
            }
        }
    }

    #[test]
    fn hostile_slots_decode_without_panicking(slot in any::<[u64; 4]>(), status in any::<u64>()) {
        let words = page();
        let q = Queue::init(&words).unwrap();
        for (i, w) in slot.iter().enumerate() {
            words[8 + i].store(*w, core::sync::atomic::Ordering::Relaxed);
        }
        words[2].store(1, core::sync::atomic::Ordering::Relaxed);
        let _ = q.pop_request();
        words[8 + 4 * 32 + 1].store(status, core::sync::atomic::Ordering::Relaxed);
        words[4].store(1, core::sync::atomic::Ordering::Relaxed);
        let r = q.pop_response().unwrap();
        prop_assert!(status == 0 || r.status != Status::Ok);
    }
}
