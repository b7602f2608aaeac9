//! The message queues (`worknode_netq::messages`) driven from both ends
//! by random schedules: every message queued comes out of the network
//! PD's end once, in order, and its outcome comes back; every message
//! delivered arrives once, in order, whole; no buffer is lost; and a
//! hostile client's words and bytes never make the network PD's end
//! panic.
#![cfg(not(loom))]

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use worknode_abi::ErrorCode;
use worknode_abi::net::MAX_QUEUED_BODY;
use worknode_netq::messages::{Client, Data, Layout, MAX_LEN, Offer, Outcome, RINGS_LEN, Server};
use worknode_netq::{BUF_SIZE, QUEUES_WORDS};

/// The shared memory of the tests: plain cells (`Data for [Cell<u8>]`).
type Mem = [Cell<u8>];

fn region(buffers: usize) -> (Vec<AtomicU64>, Vec<Cell<u8>>) {
    let words = (0..QUEUES_WORDS).map(|_| AtomicU64::new(0)).collect();
    (words, vec![Cell::new(0); RINGS_LEN + 2 * buffers * BUF_SIZE as usize])
}

/// A body that says which message it is.
fn body(n: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 7 + i) as u8).collect()
}

#[derive(Clone, Debug)]
enum Op {
    /// The client queues a message of this length to this node (3: no
    /// such node).
    Send(u8, usize),
    Reclaim,
    /// The network PD takes sends; its streams have room for this many.
    TakeSends(usize),
    /// A message arrives in the network PD's inbox.
    Arrive(usize),
    /// The network PD delivers from its inbox while it can.
    Deliver,
    Receive,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..4, prop_oneof![Just(0usize), 1usize..64, Just(MAX_QUEUED_BODY)]).prop_map(|(to, len)| Op::Send(to, len)),
        1 => Just(Op::Reclaim),
        2 => (0usize..6).prop_map(Op::TakeSends),
        2 => (0usize..300).prop_map(Op::Arrive),
        2 => Just(Op::Deliver),
        2 => Just(Op::Receive),
    ]
}

proptest! {
    #[test]
    fn messages_go_once_in_order_and_no_buffer_is_lost(
        buffers in 1usize..6,
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let (words, mem) = region(buffers);
        let mut client = Client::init(&words, &mem[..]).unwrap();
        let mut server = Server::attach(&words, &mem[..]).unwrap();
        let mut scratch = [0u8; MAX_LEN];
        let mut queued = VecDeque::new(); // (number, to, len) queued, not yet offered and taken
        let mut outcomes_due = VecDeque::new(); // what the client must hear, in order
        let mut seq = 0u64;
        let mut number = 0u64;
        let mut inbox = VecDeque::new();
        let mut arrivals = 0u64;
        let mut received = 0u64;
        let mut refusals = 0u64;
        let mut run = |op: &Op, client: &mut Client<Mem>, server: &mut Server<Mem>| -> Result<(), TestCaseError> {
            match *op {
                Op::Send(to, len) => match client.send(to, &body(number, len)) {
                    Ok(()) => {
                        queued.push_back((number, to, len));
                        number += 1;
                    }
                    Err(worknode_netq::QueueError::Full) => prop_assert_eq!(client.free_buffers(), 0),
                    Err(e) => prop_assert!(false, "send failed: {e:?}"),
                },
                Op::Reclaim => client
                    .reclaim(|outcome| {
                        let due = outcomes_due.pop_front().expect("an outcome for a message queued");
                        assert_eq!(outcome, due);
                    })
                    .unwrap(),
                Op::TakeSends(mut room) => {
                    server
                        .take_sends(&mut scratch, |to, got| {
                            let (n, want_to, len) = *queued.front().expect("offered only what was queued");
                            assert_eq!((to, got), (want_to, &body(n, len)[..]), "the oldest message, whole");
                            if to == 3 {
                                queued.pop_front();
                                refusals += 1;
                                outcomes_due.push_back(Outcome::Refused { to, error: ErrorCode::NotFound });
                                return Offer::Refuse(ErrorCode::NotFound);
                            }
                            if room == 0 {
                                return Offer::Wait;
                            }
                            room -= 1;
                            queued.pop_front();
                            seq += 1;
                            outcomes_due.push_back(Outcome::Sent { to, seq });
                            Offer::Sent(seq)
                        })
                        .unwrap();
                }
                Op::Arrive(len) => {
                    inbox.push_back((arrivals, len));
                    arrivals += 1;
                }
                Op::Deliver => {
                    while !inbox.is_empty() && server.ready_to_deliver().unwrap() {
                        let (n, len) = inbox.pop_front().unwrap();
                        server.deliver((n % 3) as u8, n, &body(n, len)).unwrap();
                    }
                }
                Op::Receive => {
                    let mut got = [0u8; MAX_QUEUED_BODY];
                    while let Some(m) = client.receive(&mut got).unwrap() {
                        prop_assert_eq!(m.seq, received, "in order, once");
                        prop_assert_eq!(m.from, (received % 3) as u8);
                        prop_assert_eq!(&got[..m.len], &body(received, m.len)[..]);
                        received += 1;
                    }
                }
            }
            Ok(())
        };
        for op in &ops {
            run(op, &mut client, &mut server)?;
        }
        // Drain: every stream has room, every message is delivered.
        for _ in 0..ops.len() + 2 {
            for op in [Op::TakeSends(usize::MAX), Op::Reclaim, Op::Deliver, Op::Receive] {
                run(&op, &mut client, &mut server)?;
            }
        }
        prop_assert!(queued.is_empty() && outcomes_due.is_empty(), "every queued message was sent or refused, and told");
        prop_assert_eq!(received, arrivals, "every arrival received");
        prop_assert_eq!(client.free_buffers(), buffers, "every transmit buffer back");
        prop_assert_eq!(client.bad_descriptors, 0);
        prop_assert_eq!(server.refused, refusals, "every refusal counted");
    }

    #[test]
    fn a_hostile_client_never_makes_the_network_pd_panic(
        garbage in proptest::collection::vec((0usize..QUEUES_WORDS, any::<u64>()), 0..64),
        bytes in proptest::collection::vec((0usize..RINGS_LEN + 4 * BUF_SIZE as usize, any::<u8>()), 0..256),
        small in any::<bool>(),
    ) {
        let (words, mem) = region(2);
        let mut client = Client::init(&words, &mem[..]).unwrap();
        for n in 0..2 {
            client.send(n, &body(u64::from(n), 100)).unwrap();
        }
        let mut server = Server::attach(&words, &mem[..]).unwrap();
        for (word, value) in garbage {
            // Half the time near the indices and descriptors, where it hurts.
            let word = if small { word % 8 + (word / 512 % 4) * 512 } else { word };
            words[word].store(value, Ordering::Relaxed);
        }
        for (at, value) in bytes {
            mem[at].set(value);
        }
        let mut scratch = [0u8; MAX_LEN];
        for _ in 0..3 {
            let _ = server.take_sends(&mut scratch, |_, got| {
                assert!(got.len() <= MAX_QUEUED_BODY);
                Offer::Sent(1)
            });
            if let Ok(true) = server.ready_to_deliver() {
                let _ = server.deliver(1, 1, &body(1, 50));
            }
            let _ = server.want_notifications(true);
            let _ = server.take_notification();
        }
    }
}

#[test]
fn the_layout_fills_the_region_and_a_region_too_small_has_none() {
    assert_eq!(Layout::of(RINGS_LEN + 2 * BUF_SIZE as usize - 1), None);
    let layout = Layout::of(RINGS_LEN + 5 * BUF_SIZE as usize).unwrap();
    assert_eq!(layout.buffers, 2);
    assert_eq!(layout.rx, RINGS_LEN..RINGS_LEN + 4096);
    assert_eq!(layout.tx, RINGS_LEN + 4096..RINGS_LEN + 8192);
    assert_eq!(Layout::of(1 << 30).unwrap().buffers, worknode_netq::CAPACITY, "at most a ring's worth");
}

#[test]
fn a_frame_queue_is_not_a_message_queue() {
    let (words, mem) = region(1);
    worknode_netq::Queues::init(&words).unwrap();
    assert!(Server::attach(&words, &mem[..]).is_err(), "another magic");
}

#[test]
fn a_message_too_long_or_a_broken_header_is_refused_and_said() {
    let (words, mem) = region(2);
    let mut client = Client::init(&words, &mem[..]).unwrap();
    assert!(client.send(1, &[0; MAX_QUEUED_BODY + 1]).is_err(), "refused at the client");
    client.send(1, b"hi").unwrap();
    // The client breaks its own header (version 9) after queueing.
    let tx = Layout::of(Data::len(&mem[..])).unwrap().tx.start;
    let queued_at = (0..2).map(|i| tx + i * BUF_SIZE as usize).find(|&at| mem[at].get() == 1).unwrap();
    mem[queued_at].set(9);
    let mut server = Server::attach(&words, &mem[..]).unwrap();
    let offered =
        server.take_sends(&mut [0; MAX_LEN], |_, _| panic!("a broken message is not offered")).unwrap();
    assert_eq!((offered, server.refused), (1, 1));
    let mut outcomes = vec![];
    client.reclaim(|o| outcomes.push(o)).unwrap();
    assert_eq!(outcomes, [Outcome::Refused { to: u8::MAX, error: ErrorCode::UnsupportedVersion }]);
    assert_eq!(client.free_buffers(), 2);
}

#[test]
fn wake_ups_are_asked_for_and_taken_once() {
    let (words, mem) = region(1);
    let mut client = Client::init(&words, &mem[..]).unwrap();
    let mut server = Server::attach(&words, &mem[..]).unwrap();
    assert!(server.want_notifications(false), "nothing queued: may sleep");
    client.send(1, b"x").unwrap();
    assert!(client.take_notification(), "the network PD asked");
    assert!(!client.take_notification(), "once");
    assert!(client.want_notifications(), "no buffer left: asks for one back, and may sleep");
    server.take_sends(&mut [0; MAX_LEN], |_, _| Offer::Sent(1)).unwrap();
    assert!(server.take_notification(), "the client waits for its buffer");
    assert!(server.ready_to_deliver().unwrap());
    server.deliver(2, 1, b"y").unwrap();
    assert!(server.want_notifications(true), "no buffer left: asks for one, and sleeps");
    let mut got = [0; MAX_QUEUED_BODY];
    assert_eq!(client.receive(&mut got).unwrap().map(|m| (m.from, m.len)), Some((2, 1)));
    assert!(client.take_notification(), "the buffer is back: the network PD is told");
}

#[test]
fn a_buffer_handed_back_twice_is_counted_not_owned_twice() {
    let (words, mem) = region(2);
    let mut client = Client::init(&words, &mem[..]).unwrap();
    client.send(1, b"a").unwrap();
    let mut server = Server::attach(&words, &mem[..]).unwrap();
    server.take_sends(&mut [0; MAX_LEN], |_, _| Offer::Sent(1)).unwrap();
    // A broken network PD pushes the same descriptor again.
    let queues = worknode_netq::Queues::attach_as(&words, worknode_netq::messages::MAGIC).unwrap();
    let again = queues.tx_free.peek().unwrap().unwrap();
    queues.tx_free.push(again).unwrap();
    let mut outcomes = 0;
    client.reclaim(|_| outcomes += 1).unwrap();
    assert_eq!((outcomes, client.free_buffers(), client.bad_descriptors), (1, 2, 1));
}
