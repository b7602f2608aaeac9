//! The block queue: FIFO order, back-pressure instead of loss, hostile
//! slot contents, and the golden layout.

use core::sync::atomic::AtomicU64;

use proptest::prelude::*;
use worknode_blkq::{
    BadQueue, CAPACITY, MAGIC, Op, Queue, QueueFull, Request, Response, Status, WORDS, data_range,
};

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

#[test]
fn requests_outside_the_device_or_the_region_are_invalid() {
    let r = |op, sector, count, offset| Request { id: 1, op, sector, count, offset };
    let check = |req: Request| data_range(&req, 1000, 65536);
    assert_eq!(check(r(Op::Write, 0, 8, 0)), Ok(Some((0, 4096))));
    assert_eq!(check(r(Op::Read, 992, 8, 61440)), Ok(Some((61440, 4096))));
    assert_eq!(check(r(Op::Flush, u64::MAX, u32::MAX, u64::MAX)), Ok(None));
    for bad in [
        r(Op::Write, 0, 0, 0),            // no sectors
        r(Op::Write, 993, 8, 0),          // past the device
        r(Op::Read, u64::MAX, 1, 0),      // sector overflow
        r(Op::Read, 0, 8, 61441),         // past the region
        r(Op::Read, 0, 1, u64::MAX - 10), // offset overflow
        r(Op::Write, 0, u32::MAX, 0),     // larger than the region
    ] {
        assert_eq!(check(bad), Err(Status::Invalid), "{bad:?}");
    }
}

proptest! {
    /// Whatever a client asks, an accepted range lies inside the region.
    #[test]
    fn accepted_ranges_stay_inside(sector in any::<u64>(), count in any::<u32>(), offset in any::<u64>(), write in any::<bool>()) {
        let op = if write { Op::Write } else { Op::Read };
        if let Ok(Some((start, len))) = data_range(&Request { id: 0, op, sector, count, offset }, 1 << 20, 65536) {
            prop_assert!(len > 0 && start + len <= 65536);
            prop_assert!(sector + u64::from(count) <= 1 << 20);
        }
    }

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

/// Issue 11, finding 10: the driver accepted a request whose buffer
/// overlapped one in flight, so the device could write one range for two
/// requests at once.
mod overlap {
    use proptest::prelude::*;
    use worknode_blkq::{Op, Request, overlaps_in_flight};

    fn request(op: Op, offset: u64, count: u32) -> Request {
        Request { id: 1, op, sector: 0, count, offset }
    }

    #[test]
    fn overlapping_buffers_are_refused_flushes_never() {
        let in_flight = [request(Op::Write, 0, 8), request(Op::Read, 8192, 2)];
        assert!(overlaps_in_flight(&request(Op::Read, 4095, 1), &in_flight));
        assert!(overlaps_in_flight(&request(Op::Write, 8192 + 1023, 4), &in_flight));
        assert!(!overlaps_in_flight(&request(Op::Read, 4096, 8), &in_flight), "adjacent is not overlapping");
        assert!(!overlaps_in_flight(&request(Op::Flush, 0, 0), &in_flight));
        assert!(!overlaps_in_flight(&request(Op::Write, 0, 8), &[request(Op::Flush, 0, 0)]));
    }

    proptest! {
        #[test]
        fn what_is_admitted_never_overlaps(reqs in proptest::collection::vec((0u64..64, 1u32..8, 0u8..3), 1..40)) {
            let mut admitted: Vec<Request> = Vec::new();
            for (slot, count, op) in reqs {
                let op = [Op::Read, Op::Write, Op::Flush][usize::from(op)];
                let r = request(op, slot * 512, count);
                if !overlaps_in_flight(&r, &admitted) {
                    admitted.push(r);
                }
            }
            for (i, a) in admitted.iter().enumerate() {
                for b in &admitted[i + 1..] {
                    if a.op != Op::Flush && b.op != Op::Flush {
                        let (a0, a1) = (a.offset, a.offset + u64::from(a.count) * 512);
                        let (b0, b1) = (b.offset, b.offset + u64::from(b.count) * 512);
                        prop_assert!(a1 <= b0 || b1 <= a0, "{a:?} and {b:?} overlap");
                    }
                }
            }
        }
    }
}
