//! A node that runs for long: its Raft log reclaims what its snapshots
//! made obsolete and stays within its part of the disk, and it recovers
//! the same state from what is kept.
//!
//! One voter with a journal of [`JOURNAL`] (1.25 MiB, twenty times the
//! Raft PD's) on a 16 MiB disk (the Raft part of QEMU's 64 MiB disks),
//! 6,000 proposals of the cluster test's sizes: some 20 snapshots of up to
//! 1.25 MiB and 2 MiB of entries. Without reclaiming, the log is full before 4,100 proposals.
//! Every 700 proposals the node is stopped and started again from its
//! disk, and must hold the same ledger and journal.

use worknode_cluster::ledger::proposal;
use worknode_cluster::node::{Found, Node, Transport};
use worknode_log::format::Owner;
use worknode_log::sim::SimDisk;
use worknode_raft::storage::Recovered;
use worknode_raft::{Config, Membership, NodeId};

/// Sectors of the disk: 16 MiB.
const SECTORS: u64 = 32 * 1024;
/// Bytes of the journal: a state of more than 1 MiB.
const JOURNAL: usize = 1280 * 1024;

struct Nowhere;

impl Transport for Nowhere {
    fn send(&mut self, _: NodeId, _: &[u8]) -> bool {
        false
    }
}

fn start(disk: SimDisk, scratch: &mut Recovered) -> (Node<'static, SimDisk>, Found) {
    let journal: &'static mut [u8] = Box::leak(vec![0u8; JOURNAL].into_boxed_slice());
    let mut cfg = Config::new(1);
    cfg.seed = 3;
    let voters = Membership::with_voters(&[1]).unwrap();
    Node::start(disk, cfg, &voters, Owner { cluster: 0xC1, node: 1 }, 5, scratch, journal).unwrap()
}

#[test]
fn a_long_run_stays_within_its_disk_and_recovers_from_what_is_kept() {
    std::thread::Builder::new().stack_size(64 << 20).spawn(long_run).unwrap().join().unwrap();
}

fn long_run() {
    let mut scratch = Box::<Recovered>::default();
    let (mut node, found) = start(SimDisk::new(SECTORS), &mut scratch);
    assert_eq!(found, Found::Formatted);
    let mut buf = [0u8; 512];
    let mut restarts = 0;
    for seq in 1..=6000u64 {
        // A lone voter elects itself within its election timeout.
        for _ in 0..100 {
            if node.propose(proposal(0, seq, 300 + seq as usize % 64, &mut buf), &mut Nowhere).is_ok() {
                break;
            }
            node.tick();
            node.pump(&mut Nowhere).unwrap();
        }
        node.pump(&mut Nowhere)
            .unwrap_or_else(|e| panic!("proposal {seq}: {e:?}, state {}", node.state_len()));
        assert_eq!(node.ledger().last[0], seq, "proposal {seq} applied");
        if seq % 700 == 0 {
            let (ledger, journal) = (*node.ledger(), node.journal().bytes().to_vec());
            let (again, found) = start(node.into_device(), &mut scratch);
            node = again;
            assert!(matches!(found, Found::Recovered { .. }), "{found:?}");
            // Entries after the snapshot are applied again as they commit.
            for _ in 0..100 {
                if node.ledger().last[0] == seq {
                    break;
                }
                node.tick();
                node.pump(&mut Nowhere).unwrap();
            }
            assert_eq!(*node.ledger(), ledger, "after the restart at {seq}");
            assert_eq!(node.journal().bytes(), &journal[..], "after the restart at {seq}");
            restarts += 1;
        }
    }
    assert!(node.state_len() > 1 << 20, "the state grew past 1 MiB: {}", node.state_len());
    assert!(node.stats().compactions >= 2, "snapshots were taken since the last restart");
    assert_eq!(restarts, 8);
}
