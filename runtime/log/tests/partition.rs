//! The disk cut in two (`worknode_log::partition`): each part is a device
//! of its own that cannot reach the other, and each log formats,
//! recovers and refuses its part alone.

use std::cell::RefCell;

use worknode_abi::disk::Layout;
use worknode_abi::log::{LogReply, LogRequest};
use worknode_log::format::{Owner, SECTOR};
use worknode_log::partition::Partition;
use worknode_log::service::{Found, Service};

/// Whom the event logs here belong to: a node of cluster 7 that does not
/// know its number (as the log PD).
const NODE: Owner = Owner { cluster: 7, node: Owner::ANY_NODE };
use worknode_log::{BlockDevice, IoError, SliceDevice};

fn append(payload: &[u8]) -> LogRequest {
    LogRequest::Append { payload: heapless::Vec::from_slice(payload).unwrap() }
}

#[test]
fn the_layout_gives_the_raft_log_the_last_quarter_on_page_boundaries() {
    let disk = 64 << 20 >> 9;
    assert_eq!(Layout::of(disk), Layout { events: disk / 4 * 3, raft: disk / 4 });
    for sectors in [0, 1, 7, 8, 33, 1000, 1001, 131_071] {
        let l = Layout::of(sectors);
        assert!(l.events + l.raft <= sectors, "{sectors}: {l:?}");
        assert_eq!(l.events % 8, 0, "{sectors}");
        assert_eq!(l.raft % 8, 0, "{sectors}");
        assert!(l.events >= l.raft, "{sectors}");
    }
}

#[test]
fn a_part_reaches_only_its_own_sectors() {
    let mut bytes = vec![0u8; 64 * SECTOR];
    let mut part = Partition::new(SliceDevice(&mut bytes), 48, 16).unwrap();
    assert_eq!(part.sectors(), 16);
    part.write(0, &[7u8; SECTOR]).unwrap();
    part.write(15, &[9u8; SECTOR]).unwrap();
    assert_eq!(part.write(15, &[9u8; 2 * SECTOR]), Err(IoError::OutOfRange), "across the end");
    assert_eq!(part.write(u64::MAX, &[9u8; SECTOR]), Err(IoError::OutOfRange), "overflowing");
    let mut sector = [0u8; SECTOR];
    assert_eq!(part.read(16, &mut sector), Err(IoError::OutOfRange));
    let _ = part.into_device();
    assert!(bytes[48 * SECTOR..49 * SECTOR].iter().all(|&b| b == 7));
    assert!(bytes[63 * SECTOR..].iter().all(|&b| b == 9));
    assert!(bytes[..48 * SECTOR].iter().all(|&b| b == 0), "nothing before the part");
    assert_eq!(Partition::new(SliceDevice(&mut bytes), 60, 5).err(), Some(IoError::OutOfRange));
    assert_eq!(Partition::new(SliceDevice(&mut bytes), u64::MAX, 2).err(), Some(IoError::OutOfRange));
}

#[test]
fn two_logs_share_a_disk_and_a_damaged_one_leaves_the_other_alone() {
    let sectors = 4096;
    let layout = Layout::of(sectors);
    let disk = RefCell::new(vec![0u8; sectors as usize * SECTOR]);
    let raft_start = layout.raft_part().start as usize * SECTOR;
    {
        let mut bytes = disk.borrow_mut();
        let shared = RefCell::new(SliceDevice(&mut bytes));
        let mut events = Service::start(Partition::new(&shared, 0, layout.events).unwrap(), NODE);
        let mut raft = Service::start(Partition::new(&shared, layout.events, layout.raft).unwrap(), NODE);
        assert_eq!((events.found(), raft.found()), (Found::Formatted, Found::Formatted));
        for i in 0..40u8 {
            assert!(events.serve(&append(&[i; 100])).is_ok());
            assert!(raft.serve(&append(&[i ^ 0xFF; 300])).is_ok());
        }
    }
    // Both come back whole.
    let reopen = |bytes: &mut Vec<u8>| {
        let shared = RefCell::new(SliceDevice(bytes));
        let events = Service::start(Partition::new(&shared, 0, layout.events).unwrap(), NODE).found();
        let raft = Service::start(Partition::new(&shared, layout.events, layout.raft).unwrap(), NODE).found();
        (events, raft)
    };
    assert_eq!(reopen(&mut disk.borrow_mut()), (Found::Recovered(40), Found::Recovered(40)));
    // Wiping the Raft part's superblocks refuses that log only...
    disk.borrow_mut()[raft_start..raft_start + 2 * SECTOR].fill(0x5A);
    let (events, raft) = reopen(&mut disk.borrow_mut());
    assert_eq!(events, Found::Recovered(40));
    assert!(matches!(raft, Found::Refused(_)), "{raft:?}");
    // ...and a disk whose event log spans the whole disk (an earlier
    // layout) is refused, not cut short.
    let mut whole = vec![0u8; sectors as usize * SECTOR];
    let mut old = Service::start(SliceDevice(&mut whole), NODE);
    assert!(matches!(old.serve(&append(b"x")), Ok(LogReply::Appended { .. })));
    let shared = RefCell::new(SliceDevice(&mut whole));
    let found = Service::start(Partition::new(&shared, 0, layout.events).unwrap(), NODE).found();
    assert!(matches!(found, Found::Refused(_)), "{found:?}");
}
