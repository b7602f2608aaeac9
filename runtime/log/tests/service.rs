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

/// The governor claims the event log for its node once it knows its
/// number: a log of any node of the cluster is bound, for good (a power
/// cut after the claim keeps it bound, and the log reopens for its node
/// only); the same node's claim again writes nothing; another node's
/// claim is refused (`denied`), writes nothing, and every request after it
/// is refused too.
#[test]
fn a_claimed_log_is_its_node_and_refused_to_the_others() {
    let node = |k: u16| Owner { cluster: NODE.cluster, node: k };
    let mut service = Service::start(SimDisk::new(1024), NODE);
    let nobody = LogRequest::Claim { node: Owner::ANY_NODE };
    assert_eq!(service.serve(&nobody), Err(ErrorCode::Malformed), "a claim must name a node");
    assert_eq!(service.serve(&append(b"before the claim")), Ok(LogReply::Appended { seq: 1, durable: 1 }));
    assert_eq!(service.serve(&LogRequest::Claim { node: 2 }), Ok(LogReply::Claimed));
    assert_eq!(service.serve(&append(b"after")), Ok(LogReply::Appended { seq: 2, durable: 2 }));
    let durable = |service: &mut Service<SimDisk>| {
        let disk = service.log().unwrap().device();
        let mut copy = SimDisk::new(disk.durable.len() as u64);
        copy.durable = disk.durable.clone();
        copy
    };
    let disk = durable(&mut service);
    assert_eq!(
        worknode_log::read_superblock(&mut durable(&mut service)).unwrap().owner,
        node(2),
        "bound on disk"
    );

    // Node 2 again: opens, and a second claim writes nothing.
    let writes = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut again = Service::start(Counting { disk: durable(&mut service), writes: writes.clone() }, NODE);
    assert_eq!(again.found(), Found::Recovered(2));
    let before = writes.get();
    assert_eq!(again.serve(&LogRequest::Claim { node: 2 }), Ok(LogReply::Claimed));
    assert_eq!(writes.get(), before, "claimed already: nothing written");

    // Node 1 on node 2's disk: the log PD opens it (it knows no node), the
    // claim is refused, nothing is written, and nothing more is served.
    let writes = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut other = Service::start(Counting { disk, writes: writes.clone() }, NODE);
    let before = writes.get();
    assert_eq!(other.serve(&LogRequest::Claim { node: 1 }), Err(ErrorCode::Denied));
    for request in [append(b"x"), LogRequest::Status, LogRequest::Sync, LogRequest::Claim { node: 1 }] {
        assert_eq!(other.serve(&request), Err(ErrorCode::Denied), "{request:?}");
    }
    assert_eq!(writes.get(), before, "another node's log: nothing written");
    // And a node that knows its number refuses it at open.
    let foreign = Service::start(durable(&mut service), node(1));
    assert_eq!(foreign.found(), Found::Refused(LogError::Foreign { owner: node(2) }));
}

/// An unbound log (cluster 0: the tools', and every log of format version
/// 2) stays unbound when claimed: it opens anywhere, as before.
#[test]
fn an_unbound_log_stays_unbound_when_claimed() {
    let log = worknode_log::Log::<SimDisk, 4096>::format(SimDisk::new(1024), 9).unwrap();
    let disk = log.into_device();
    let mut service = Service::start(disk, NODE);
    assert_eq!(service.serve(&LogRequest::Claim { node: 3 }), Ok(LogReply::Claimed));
    let disk = service.log().unwrap().device();
    assert_eq!(worknode_log::read_superblock(disk).unwrap().owner, Owner::UNBOUND);
}

/// Formatted for "any node", every blank disk of a cluster got the same
/// event-log identity. Claimed while still empty, a log formatted at this
/// start is formatted again for its node: two nodes' blank disks get
/// different identities, each bound to its node, and serve as before.
#[test]
fn blank_disks_of_two_nodes_get_different_identities_once_claimed() {
    let claimed = |node: u16| {
        let mut service = Service::start(SimDisk::new(1024), NODE);
        let before = service.log().unwrap().superblock().log_id;
        assert_eq!(service.serve(&LogRequest::Claim { node }), Ok(LogReply::Claimed));
        assert_eq!(service.serve(&append(b"first")), Ok(LogReply::Appended { seq: 1, durable: 1 }));
        let log = service.log().unwrap();
        let sb = *log.superblock();
        assert_eq!(sb.owner, Owner { cluster: NODE.cluster, node });
        let disk = std::mem::replace(log.device(), SimDisk::new(1));
        let again = Service::start(disk, Owner { cluster: NODE.cluster, node });
        assert_eq!(again.found(), Found::Recovered(1), "reopens for its node, its record kept");
        (before, sb.log_id)
    };
    let (any1, one) = claimed(1);
    let (any2, two) = claimed(2);
    assert_eq!(any1, any2, "formatted for any node: the same identity");
    assert_ne!(one, two, "claimed: one per node");
}
