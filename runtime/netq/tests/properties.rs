//! Property tests: the ring is a bounded FIFO whatever the interleaving of
//! pushes and pops, and whatever a hostile peer writes into the shared
//! words, no operation panics, reads outside the ring, or hands out a
//! descriptor that [`Desc::check`] would let outside the region.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use worknode_netq::{CAPACITY, Desc, QueueError, RING_WORDS, Ring};

fn words() -> Vec<AtomicU64> {
    (0..RING_WORDS).map(|_| AtomicU64::new(0)).collect()
}

proptest! {
    #[test]
    fn a_bounded_fifo(ops in proptest::collection::vec(any::<Option<u32>>(), 1..2000)) {
        let w = words();
        let ring = Ring::init(&w).unwrap();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                Some(len) => {
                    let desc = Desc { offset: len.wrapping_mul(2048), len };
                    let pushed = ring.push(desc);
                    if model.len() as u64 == CAPACITY {
                        prop_assert_eq!(pushed, Err(QueueError::Full));
                    } else {
                        prop_assert_eq!(pushed, Ok(()));
                        model.push_back(desc);
                    }
                }
                None => prop_assert_eq!(ring.pop().unwrap(), model.pop_front()),
            }
            prop_assert_eq!(ring.len(), model.len() as u64);
        }
    }

    #[test]
    fn a_hostile_peer_cannot_break_the_other_side(
        head in any::<u64>(), tail in any::<u64>(), slot in any::<u64>(), region in 0u64..1 << 22,
    ) {
        let w = words();
        let ring = Ring::init(&w).unwrap();
        w[1].store(head, Ordering::Relaxed);
        w[2].store(tail, Ordering::Relaxed);
        for word in &w[4..] {
            word.store(slot, Ordering::Relaxed);
        }
        let depth = tail.wrapping_sub(head);
        match ring.pop() {
            Err(e) => prop_assert!(e == QueueError::Corrupt && depth > CAPACITY),
            Ok(None) => prop_assert_eq!(depth, 0),
            Ok(Some(desc)) => {
                if let Ok(range) = desc.check(region) {
                    prop_assert!(range.end as u64 <= region && range.len() <= 1514);
                }
            }
        }
        let _ = ring.push(Desc { offset: 0, len: 0 });
        let _ = ring.want_notification();
        let _ = ring.take_notification();
    }
}
