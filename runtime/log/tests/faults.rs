//! The storage fault model of docs/log-format.md, one fault at a time:
//! each test damages a known log in one way and checks what recovery and
//! verification make of it.

mod common;

use common::{Rng, SimDisk};
use worknode_log::format::{DATA_START, MAX_PAYLOAD, Owner, SECTOR};
use worknode_log::scan::{Defect, Stop};
use worknode_log::{BlockDevice, DamageKind, Log, LogError, origin, scan_to_end};

const BATCH: usize = 4096;

/// A log of `batches` committed batches of 3 records each (80-byte
/// payloads, so each batch spans one sector); returns it and its disk.
fn log_with(batches: u64) -> SimDisk {
    let mut log = Log::<SimDisk, BATCH>::format(SimDisk::new(256), 42).unwrap();
    for b in 0..batches {
        for r in 0..3u64 {
            log.append(&[(b * 3 + r) as u8; 80]).unwrap();
        }
        log.commit().unwrap();
    }
    log.into_device()
}

fn byte_of_batch(batch: u64) -> u64 {
    (DATA_START + batch) * SECTOR as u64
}

#[test]
fn clean_log_reopens_with_every_record() {
    let (mut log, recovery) = Log::<SimDisk, BATCH>::open(log_with(5)).unwrap();
    assert_eq!(recovery.last_seq, 15);
    assert_eq!(recovery.stop, Stop::End);
    let mut buf = [0u8; MAX_PAYLOAD];
    for seq in 1..=15 {
        let header = log.read(seq, &mut buf).unwrap();
        assert_eq!(&buf[..header.len as usize], &[(seq - 1) as u8; 80]);
    }
    assert_eq!(log.read(16, &mut buf), Err(LogError::NotFound));
}

#[test]
fn bit_flip_in_an_acknowledged_record_is_reported_not_truncated() {
    let mut disk = log_with(5);
    disk.flip_bit(byte_of_batch(2) + 80, 3); // payload of record 7
    match Log::<SimDisk, BATCH>::open(disk) {
        Err(LogError::Corrupt { seq: 7, defect: DamageKind::Defect(Defect::Checksum), later }) => {
            assert_eq!(later.batch_first_seq, 10)
        }
        other => panic!("expected corruption at record 7, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn bit_flip_in_the_last_batch_reads_as_a_torn_tail() {
    // Indistinguishable from a crash during the last batch's write: the
    // documented limit of single-copy detection.
    let mut disk = log_with(5);
    disk.flip_bit(byte_of_batch(4) + 80, 0);
    let (_, recovery) = Log::<SimDisk, BATCH>::open(disk).unwrap();
    assert_eq!(recovery.last_seq, 12);
    assert_eq!(recovery.stop, Stop::Invalid(Defect::Checksum));
}

#[test]
fn lost_write_of_an_acknowledged_batch_is_reported() {
    let mut disk = log_with(5);
    disk.durable[(DATA_START + 1) as usize] = [0; SECTOR];
    match Log::<SimDisk, BATCH>::open(disk) {
        Err(LogError::Corrupt { seq: 4, defect: DamageKind::Missing, .. }) => {}
        other => panic!("expected a lost write at record 4, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn misdirected_write_is_reported() {
    // Batch 1's sector written over batch 3's place.
    let mut disk = log_with(5);
    disk.durable[(DATA_START + 3) as usize] = disk.durable[(DATA_START + 1) as usize];
    match Log::<SimDisk, BATCH>::open(disk) {
        Err(LogError::Corrupt {
            seq: 10, defect: DamageKind::Defect(Defect::Sequence { found: 4 }), ..
        }) => {}
        other => panic!("expected a misdirected write at record 10, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn a_forked_history_does_not_chain() {
    // Two logs with the same identity that diverge after record 3: the
    // second log's records carry the right log id and sequence numbers,
    // and only the hash chain tells them apart.
    let mut a = Log::<SimDisk, BATCH>::format(SimDisk::new(64), 7).unwrap();
    let mut b = Log::<SimDisk, BATCH>::format(SimDisk::new(64), 7).unwrap();
    for log in [&mut a, &mut b] {
        log.append(b"shared").unwrap();
        log.commit().unwrap();
    }
    a.append(b"history A").unwrap();
    a.commit().unwrap();
    b.append(b"history B").unwrap();
    b.commit().unwrap();
    b.append(b"more of B").unwrap();
    b.commit().unwrap();
    let mut disk = a.into_device();
    let donor = b.into_device();
    disk.durable[(DATA_START + 2) as usize] = donor.durable[(DATA_START + 2) as usize];
    let (_, recovery) = Log::<SimDisk, BATCH>::open(disk).unwrap();
    assert_eq!(recovery.last_seq, 2);
    assert_eq!(recovery.stop, Stop::Invalid(Defect::Chain));
}

#[test]
fn records_of_an_earlier_log_on_the_disk_are_ignored() {
    let disk = log_with(5);
    let old = disk.durable.clone();
    let mut fresh = Log::<SimDisk, BATCH>::format_over(disk, 43).unwrap();
    fresh.append(b"first of the new log").unwrap();
    fresh.commit().unwrap();
    let mut disk = fresh.into_device();
    assert_ne!(disk.durable[DATA_START as usize + 1], [0; SECTOR]);
    assert_eq!(disk.durable[DATA_START as usize + 1], old[DATA_START as usize + 1]);
    let (_, recovery) = Log::<SimDisk, BATCH>::open(std::mem::replace(&mut disk, SimDisk::new(1))).unwrap();
    assert_eq!(recovery.last_seq, 1);
    assert_eq!(recovery.stop, Stop::Invalid(Defect::ForeignLog));
}

#[test]
fn torn_superblock_falls_back_to_the_other_copy() {
    let mut log = Log::<SimDisk, BATCH>::open(log_with(2)).unwrap().0;
    log.checkpoint().unwrap();
    let generation = log.superblock().generation;
    let slot = log.superblock().slot as usize;
    let mut disk = log.into_device();
    disk.durable[slot][100] ^= 0xff;
    let (log, recovery) = Log::<SimDisk, BATCH>::open(disk).unwrap();
    assert_eq!(recovery.generation, generation - 1);
    assert_eq!(recovery.last_seq, 6);
    assert_eq!(log.superblock().slot as usize, slot ^ 1);
}

#[test]
fn checkpoint_shortens_recovery_and_reads_still_reach_old_records() {
    let mut log = Log::<SimDisk, BATCH>::open(log_with(4)).unwrap().0;
    log.checkpoint().unwrap();
    log.append(b"after").unwrap();
    log.commit().unwrap();
    let (mut log, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!((recovery.scanned, recovery.last_seq), (1, 13));
    let mut buf = [0u8; MAX_PAYLOAD];
    let header = log.read(2, &mut buf).unwrap();
    assert_eq!(&buf[..header.len as usize], &[1u8; 80]);
}

#[test]
fn lying_flush_loses_only_what_the_model_says() {
    // A device whose flush lies: recovery cannot know, but must still
    // return a valid prefix and never garbage.
    let mut log = Log::<SimDisk, BATCH>::open(log_with(2)).unwrap().0;
    log.device().lying_flush = true;
    log.append(b"never really durable").unwrap();
    log.commit().unwrap();
    let mut disk = log.into_device();
    disk.crash(&mut Rng::new(1));
    let (_, recovery) = Log::<SimDisk, BATCH>::open(disk).unwrap();
    assert!(recovery.last_seq == 6 || recovery.last_seq == 7);
}

#[test]
fn unformatted_and_foreign_devices_are_refused_and_left_alone() {
    assert_eq!(Log::<SimDisk, BATCH>::open(SimDisk::new(64)).err(), Some(LogError::Unformatted));
    let mut other = SimDisk::new(64);
    other.durable[0][..4].copy_from_slice(b"\x7fELF");
    let before = other.durable.clone();
    match Log::<SimDisk, BATCH>::format(other, 1) {
        Err(LogError::NotALog) => {}
        other => panic!("format over foreign data: {:?}", other.err()),
    }
    let mut other = SimDisk::new(64);
    other.durable = before.clone();
    assert_eq!(Log::<SimDisk, BATCH>::open(other).err(), Some(LogError::NotALog));
    assert_eq!(Log::<SimDisk, BATCH>::format(log_with(1), 2).err(), Some(LogError::AlreadyFormatted));
}

#[test]
fn group_commit_writes_one_batch_and_flushes_once() {
    let mut log = Log::<SimDisk, BATCH>::format(SimDisk::new(64), 9).unwrap();
    let ops = log.device().ops;
    for i in 0..20u8 {
        log.append(&[i; 64]).unwrap();
    }
    assert_eq!(log.durable_seq(), 0);
    assert_eq!(log.commit().unwrap(), 20);
    assert_eq!(log.device().ops - ops, 2, "one write and one flush");
}

#[test]
fn oversized_payload_and_full_device_are_refused() {
    let mut log = Log::<SimDisk, BATCH>::format(SimDisk::new(8 + 16), 9).unwrap();
    assert_eq!(log.append(&[0; MAX_PAYLOAD + 1]), Err(LogError::TooLarge));
    let mut full = None;
    for i in 0..1000u32 {
        match log.append(&[0; MAX_PAYLOAD]) {
            Ok(_) => {}
            Err(e) => {
                full = Some((i, e));
                break;
            }
        }
    }
    assert_eq!(full.map(|f| f.1), Some(LogError::Full));
    let durable = log.commit().unwrap();
    let (_, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!(recovery.last_seq, durable);
}

#[test]
fn a_full_scan_agrees_with_recovery() {
    let mut disk = log_with(6);
    let sb = worknode_log::read_superblock(&mut disk).unwrap();
    let mut seen = 0;
    let (end, stop, scanned) = scan_to_end(&mut disk, &sb, origin(&sb), |_, _| seen += 1).unwrap();
    assert_eq!((end.next_seq, stop, scanned, seen), (19, Stop::End, 18, 18));
    assert_eq!(disk.sectors(), 256);
}

#[test]
fn a_reformatted_disk_gets_a_new_identity() {
    let mut disk = log_with(2);
    let old = worknode_log::read_superblock(&mut disk).unwrap().log_id;
    // The superblocks are lost; the records are still there.
    disk.durable[0] = [0; SECTOR];
    disk.durable[1] = [0; SECTOR];
    let id = worknode_log::derive_log_id(&mut disk, Owner::UNBOUND, 0).unwrap();
    assert_ne!(id, old);
    let (log, recovery) =
        Log::<SimDisk, BATCH>::open(Log::<SimDisk, BATCH>::format(disk, id).unwrap().into_device()).unwrap();
    assert_eq!((recovery.last_seq, log.superblock().log_id), (0, id));
}

/// Blank disks get different identities for different nodes, clusters
/// and clock readings (the same identity only for the same all three).
#[test]
fn blank_disks_of_different_owners_get_different_identities() {
    let mut disk = SimDisk::new(256);
    let mut id = |cluster, node, entropy| {
        worknode_log::derive_log_id(&mut disk, Owner { cluster, node }, entropy).unwrap()
    };
    let base = id(7, 1, 0);
    assert_eq!(base, id(7, 1, 0));
    for other in [id(7, 2, 0), id(8, 1, 0), id(7, 1, 1), id(7, Owner::ANY_NODE, 0)] {
        assert_ne!(base, other);
    }
}
