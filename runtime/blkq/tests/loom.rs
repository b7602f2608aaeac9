//! The block queue's memory ordering, checked by loom over every
//! interleaving (and every weak-memory outcome loom models). Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p worknode-blkq --test loom --release`
//! (`make test-host` does).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;
use worknode_blkq::{CAPACITY, Op, Queue, Request, Response, Status, WORDS};

fn page() -> Arc<Vec<AtomicU64>> {
    Arc::new((0..WORDS).map(|_| AtomicU64::new(0)).collect())
}

fn request(i: u32) -> Request {
    Request {
        id: 7 + i,
        op: Op::Write,
        sector: 1000 + u64::from(i),
        count: 8 + i,
        offset: 4096 * u64::from(i),
    }
}

/// Every word of a request the client pushed is what the driver pops, in
/// order, and the driver's response comes back whole: a slot's relaxed
/// words travel with the tail's release and the head's acquire.
#[test]
fn requests_and_responses_arrive_whole_and_in_order() {
    loom::model(|| {
        let words = page();
        Queue::init(&words).unwrap();
        let w = Arc::clone(&words);
        let driver = thread::spawn(move || {
            let queue = Queue::attach(&w).unwrap();
            let mut got = 0u32;
            // Bounded: loom explores each interleaving; a few tries each.
            for _ in 0..6 {
                match queue.pop_request() {
                    Some(r) => {
                        assert_eq!(r, Ok(request(got)), "whole and in order");
                        queue.push_response(Response { id: 7 + got, status: Status::Ok }).unwrap();
                        got += 1;
                    }
                    None => thread::yield_now(),
                }
                if got == 2 {
                    break;
                }
            }
            got
        });
        let queue = Queue::attach(&words).unwrap();
        for i in 0..2 {
            queue.push_request(&request(i)).unwrap();
        }
        let answered = driver.join().unwrap();
        for i in 0..answered {
            assert_eq!(queue.pop_response(), Some(Response { id: 7 + i, status: Status::Ok }));
        }
        assert_eq!(queue.pop_response(), None);
    });
}

/// A full ring refuses the push and loses nothing: the slot the driver
/// frees is reused only after the driver read it (the head's release),
/// and every request arrives exactly once.
#[test]
fn full_means_wait_not_drop() {
    loom::model(|| {
        let words = page();
        let queue = Queue::init(&words).unwrap();
        for i in 0..CAPACITY as u32 {
            queue.push_request(&request(i)).unwrap();
        }
        let w = Arc::clone(&words);
        let driver = thread::spawn(move || Queue::attach(&w).unwrap().pop_request());
        let late = request(CAPACITY as u32);
        let pushed = queue.push_request(&late);
        assert_eq!(driver.join().unwrap(), Some(Ok(request(0))), "the oldest, unharmed by the late push");
        if pushed.is_err() {
            queue.push_request(&late).unwrap();
        }
        let mut rest = Vec::new();
        while let Some(r) = queue.pop_request() {
            rest.push(r.unwrap());
        }
        let want: Vec<Request> = (1..=CAPACITY as u32).map(request).collect();
        assert_eq!(rest, want, "the rest in order, the late one once at the end");
    });
}

/// A driver that sees the magic word sees the rest of the initialisation:
/// it never reads a stale head or tail as requests (the page may hold
/// anything before the client's `init`).
#[test]
fn attaching_sees_the_whole_initialisation() {
    loom::model(|| {
        let words = page();
        // Stale indices from an earlier life of the page.
        words[1].store(5, Ordering::Relaxed);
        words[2].store(9, Ordering::Relaxed);
        let w = Arc::clone(&words);
        let client = thread::spawn(move || {
            Queue::init(&w).unwrap();
        });
        if let Ok(queue) = Queue::attach(&words) {
            assert_eq!(queue.pop_request(), None, "an initialised queue is empty");
        }
        client.join().unwrap();
    });
}
