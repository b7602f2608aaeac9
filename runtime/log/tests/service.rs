//! The log PD's logic (`worknode_log::service`) on simulated disks: what it
//! does with a blank disk, a log, a disk that holds no log, and a
//! checkpoint that fails after a durable commit.

mod common;

use common::{Rng, SimDisk};
use worknode_abi::ErrorCode;
use worknode_abi::log::{LogReply, LogRequest};
use worknode_log::LogError;
use worknode_log::format::{Owner, SECTOR};
use worknode_log::limits::CHECKPOINT_EVERY;
use worknode_log::service::{Found, Service};

/// Whom the event logs here belong to: a node of cluster 7 that does not
/// know its number (as the log PD).
const NODE: Owner = Owner { cluster: 7, node: Owner::ANY_NODE };

fn append(payload: &[u8]) -> LogRequest {
    LogRequest::Append { payload: heapless::Vec::from_slice(payload).unwrap() }
}

#[test]
fn a_blank_disk_is_formatted_and_serves() {
    let mut service = Service::start(SimDisk::new(1024), NODE);
    assert_eq!(service.found(), Found::Formatted);
    assert_eq!(service.serve(&append(b"a")), Ok(LogReply::Appended { seq: 1, durable: 1 }));
    let reserved = LogRequest::AppendReserved { payload: heapless::Vec::from_slice(b"halt").unwrap() };
    assert_eq!(service.serve(&reserved), Ok(LogReply::Appended { seq: 2, durable: 2 }));
    match service.serve(&LogRequest::Read { seq: 2 }) {
        Ok(LogReply::Record { seq: 2, payload }) => assert_eq!(payload.as_slice(), b"halt"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        service.serve(&LogRequest::Status),
        Ok(LogReply::Status { last_seq: 2, durable: 2, .. })
    ));
    // Reopened, it is recovered, not formatted again.
    let disk = std::mem::replace(service.log().unwrap().device(), SimDisk::new(1));
    let mut again = Service::start(disk, NODE);
    assert_eq!(again.found(), Found::Recovered(2));
    assert!(matches!(again.serve(&LogRequest::Status), Ok(LogReply::Status { recovered: 2, .. })));
}

/// Issue 11, finding 12: a disk of random bytes is refused, once, with a
/// reason, answered with that reason forever, and never written.
#[test]
fn a_disk_that_holds_no_log_is_refused_and_left_untouched() {
    let mut rng = Rng::new(12);
    let mut disk = SimDisk::new(2048);
    for sector in disk.durable.iter_mut() {
        sector.iter_mut().for_each(|b| *b = rng.next() as u8);
    }
    let writes = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut service = Service::start(Counting { disk, writes: writes.clone() }, NODE);
    assert_eq!(service.found(), Found::Refused(LogError::NotALog));
    for request in [append(b"x"), LogRequest::Status, LogRequest::Sync, LogRequest::Read { seq: 1 }] {
        assert_eq!(service.serve(&request), Err(ErrorCode::InvalidState), "{request:?}");
    }
    assert!(service.log().is_none());
    assert_eq!(writes.get(), 0, "the disk was not written");
}

/// A disk that counts the writes and flushes it is asked for.
struct Counting {
    disk: SimDisk,
    writes: std::rc::Rc<std::cell::Cell<u32>>,
}

impl worknode_log::BlockDevice for Counting {
    fn sectors(&self) -> u64 {
        self.disk.sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), worknode_log::IoError> {
        self.disk.read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), worknode_log::IoError> {
        self.writes.set(self.writes.get() + 1);
        self.disk.write(sector, data)
    }
    fn flush(&mut self) -> Result<(), worknode_log::IoError> {
        self.writes.set(self.writes.get() + 1);
        self.disk.flush()
    }
}

#[test]
fn a_log_with_damaged_acknowledged_records_is_refused() {
    let mut service = Service::start(SimDisk::new(1024), NODE);
    for i in 0..10u8 {
        service.serve(&append(&[i; 100])).unwrap();
    }
    let mut disk = std::mem::replace(service.log().unwrap().device(), SimDisk::new(1));
    disk.flip_bit(9 * SECTOR as u64 + 90, 1); // record 2, under later batches
    let mut refused = Service::start(disk, NODE);
    assert!(matches!(refused.found(), Found::Refused(LogError::Corrupt { seq: 2, .. })));
    assert_eq!(refused.serve(&LogRequest::Status), Err(ErrorCode::Corrupt));
}

/// A disk formatted for another cluster, or for one node of this cluster
/// by another node, is refused (`denied`) and left as it was; one formatted
/// for this node's cluster and number opens; an unbound (version 2) log
/// opens anywhere.
#[test]
fn a_log_of_another_cluster_or_node_is_refused_and_untouched() {
    type Log = worknode_log::Log<SimDisk, 4096>;
    // What a power cut would leave: the durable sectors.
    let copy = |disk: &SimDisk| {
        let mut again = SimDisk::new(disk.durable.len() as u64);
        again.durable = disk.durable.clone();
        again
    };
    let mut service = Service::start(SimDisk::new(1024), Owner { cluster: 8, node: Owner::ANY_NODE });
    service.serve(&append(b"elsewhere")).unwrap();
    let disk = std::mem::replace(service.log().unwrap().device(), SimDisk::new(1));
    let mut refused = Service::start(disk, NODE);
    assert!(matches!(
        refused.found(),
        Found::Refused(LogError::Foreign { owner: Owner { cluster: 8, node: Owner::ANY_NODE } })
    ));
    assert_eq!(refused.serve(&LogRequest::Status), Err(ErrorCode::Denied));
    assert!(refused.log().is_none());
    // One node's log, opened by its node, by a user that does not know its
    // number, and by another node.
    let mine = Owner { cluster: 7, node: 2 };
    let disk = Log::format_for(SimDisk::new(1024), 1, mine).unwrap().into_device();
    assert!(Log::open_as(copy(&disk), mine).is_ok());
    assert!(Log::open_as(copy(&disk), NODE).is_ok());
    let other = Owner { cluster: 7, node: 3 };
    match Log::open_as(disk, other) {
        Err(e) => assert_eq!(e, LogError::Foreign { owner: mine }),
        Ok(_) => panic!("another node's log opened"),
    }
    let unbound = Log::format(SimDisk::new(1024), 1).unwrap().into_device();
    assert!(Log::open_as(unbound, other).is_ok());
}

/// Issue 11, finding 8: the record is durable when the checkpoint after its
/// commit fails, so its append is answered as the success it is; the
/// failure is reported by the next request.
#[test]
fn a_failed_checkpoint_does_not_turn_a_durable_append_into_a_failure() {
    let mut service = Service::start(SimDisk::new(1024), NODE);
    for i in 1..CHECKPOINT_EVERY {
        service.serve(&append(&[1; 10])).unwrap_or_else(|e| panic!("append {i}: {e}"));
    }
    // The next append's commit is a write and a flush; the checkpoint's
    // superblock write after them fails.
    let disk = service.log().unwrap().device();
    disk.crash_at = Some(disk.ops + 3);
    let seq = u64::from(CHECKPOINT_EVERY);
    assert_eq!(service.serve(&append(b"durable")), Ok(LogReply::Appended { seq, durable: seq }));
    assert_eq!(service.serve(&append(b"after")), Err(ErrorCode::Io), "the log is poisoned now");
    // The record really is durable.
    let mut disk = std::mem::replace(service.log().unwrap().device(), SimDisk::new(1));
    disk.crash(&mut Rng::new(1));
    let mut again = Service::start(disk, NODE);
    assert_eq!(again.found(), Found::Recovered(seq));
    match again.serve(&LogRequest::Read { seq }) {
        Ok(LogReply::Record { payload, .. }) => assert_eq!(payload.as_slice(), b"durable"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reclaimed_records_read_as_not_found() {
    let mut service = Service::start(SimDisk::new(8 + 400), NODE);
    for _ in 0..2000 {
        service.serve(&append(&[3; 200])).unwrap();
    }
    let oldest = service.log().unwrap().oldest_seq();
    assert!(oldest > 1, "the ring reclaimed");
    assert_eq!(service.serve(&LogRequest::Read { seq: oldest - 1 }), Err(ErrorCode::NotFound));
    assert!(service.serve(&LogRequest::Read { seq: oldest }).is_ok());
}
