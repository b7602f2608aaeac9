//! Retention: the record area is a ring that reclaims its oldest batches
//! when an append needs room, never past the owner's retention floor, and
//! keeps a reserve that only [`Room::Reserved`] appends may use.

mod common;

use common::SimDisk;
use worknode_log::format::{MAX_PAYLOAD, SECTOR};
use worknode_log::{Log, LogError, Room, origin, scan_to_end};

const BATCH: usize = 4096;

fn log(sectors: u64) -> Log<SimDisk, BATCH> {
    Log::format(SimDisk::new(sectors), 11).unwrap()
}

/// Appends and commits one record of `len` bytes in `room`.
fn durable(log: &mut Log<SimDisk, BATCH>, len: usize, room: Room) -> Result<u64, LogError> {
    let seq = log.append_in(&vec![seq_byte(log.last_seq() + 1); len], room)?;
    assert_eq!(log.commit()?, seq);
    Ok(seq)
}

fn seq_byte(seq: u64) -> u8 {
    (seq % 251) as u8
}

#[test]
fn a_log_that_may_reclaim_never_fills() {
    // 200 sectors hold about 200 one-sector batches; write fifty times that.
    let mut log = log(8 + 200);
    log.set_retention(u64::MAX);
    for _ in 0..10_000 {
        durable(&mut log, 100, Room::Ordinary).expect("a ring that may reclaim always has room");
    }
    let oldest = log.oldest_seq();
    assert!(oldest > 9_800, "the oldest records were reclaimed: oldest kept is {oldest}");
    let mut buf = [0u8; MAX_PAYLOAD];
    assert_eq!(log.read(oldest - 1, &mut buf), Err(LogError::Reclaimed { oldest }));
    let header = log.read(oldest, &mut buf).unwrap();
    assert_eq!(buf[..header.len as usize], [seq_byte(oldest); 100]);
    // Reopened, the kept part is all there and chains from the anchor.
    let (mut log, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!((recovery.last_seq, log.oldest_seq()), (10_000, oldest));
    let sb = *log.superblock();
    let mut seen = Vec::new();
    scan_to_end(log.device(), &sb, origin(&sb), |a, payload| seen.push((a.header.seq, payload[0]))).unwrap();
    let want: Vec<(u64, u8)> = (oldest..=10_000).map(|s| (s, seq_byte(s))).collect();
    assert_eq!(seen, want);
}

#[test]
fn reclaiming_takes_whole_batches_and_writes_the_anchor_rarely() {
    let mut log = log(8 + 160);
    log.set_retention(u64::MAX);
    let mut anchors = 0;
    let mut last = log.superblock().generation;
    for _ in 0..2_000 {
        durable(&mut log, 300, Room::Ordinary).unwrap();
        if log.superblock().generation != last {
            anchors += 1;
            last = log.superblock().generation;
        }
    }
    // Each reclamation frees an eighth of the ring (20 one-sector batches).
    assert!((80..=120).contains(&anchors), "{anchors} superblock writes for 2000 batches");
}

#[test]
fn the_floor_keeps_records_and_the_reserve_still_takes_the_principals() {
    let mut log = log(8 + 100);
    log.set_retention(40);
    log.set_reserve(10);
    let mut ordinary = 0;
    let full = loop {
        match durable(&mut log, 100, Room::Ordinary) {
            Ok(_) => ordinary += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(full, LogError::Full);
    assert_eq!(log.oldest_seq(), 40, "reclaimed up to the floor, not beyond");
    assert!(ordinary > 100, "{ordinary} ordinary appends before the floor held");
    // The principal's records still land, in the reserve, and only there.
    let mut reserved = 0;
    while durable(&mut log, 100, Room::Reserved).is_ok() {
        reserved += 1;
    }
    assert_eq!(reserved, 10, "one-sector records fill the ten reserved sectors");
    assert_eq!(durable(&mut log, 100, Room::Ordinary), Err(LogError::Full));
    let (log, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!(recovery.last_seq, ordinary + reserved);
    assert_eq!(log.oldest_seq(), 40);
}

#[test]
fn a_full_log_that_may_not_reclaim_refuses_and_stays_consistent() {
    let mut log = log(8 + 64);
    let mut n = 0;
    while durable(&mut log, 500, Room::Ordinary).is_ok() {
        n += 1;
    }
    assert_eq!(log.oldest_seq(), 1, "the default keeps everything");
    assert!(n >= 28, "two-sector batches in 64 sectors: {n}");
    let (_, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!(recovery.last_seq, n);
}

#[test]
fn a_batch_never_straddles_the_end_of_the_ring() {
    // Batches of 1 to 8 sectors: every one must start where the scanner
    // looks (placement) and end inside the area.
    let mut log = log(8 + 37);
    log.set_retention(u64::MAX);
    for i in 0..500usize {
        for _ in 0..(i % 5) {
            log.append(&vec![1; (i * 37) % 700]).unwrap();
        }
        log.append(&[2; 9]).unwrap();
        log.commit().unwrap();
    }
    let end = log.durable_seq();
    let (log, recovery) = Log::<SimDisk, BATCH>::open(log.into_device()).unwrap();
    assert_eq!(recovery.last_seq, end);
    assert!(log.oldest_seq() > 1);
    assert_eq!(BATCH / SECTOR, 8);
}

/// Reads in any order return the record asked for: in order (each scans
/// on from the last one read), backwards, across a wrap of the ring and
/// after more records were reclaimed.
#[test]
fn reads_in_any_order_find_their_record() {
    let mut log = log(8 + 64);
    log.set_retention(u64::MAX);
    // Batches of several records, of several sizes, so reads land inside
    // batches and on their ends.
    for round in 0..400u64 {
        for k in 0..1 + round % 4 {
            let seq = log.last_seq() + 1;
            log.append(&vec![seq_byte(seq); 20 + (k as usize * 97) % 300]).unwrap();
        }
        log.commit().unwrap();
    }
    let (oldest, last) = (log.oldest_seq(), log.last_seq());
    assert!(oldest > 1, "the ring wrapped");
    let check = |log: &mut Log<SimDisk, BATCH>, seq: u64| {
        let mut buf = [0u8; MAX_PAYLOAD];
        let header = log.read(seq, &mut buf).unwrap();
        assert_eq!(header.seq, seq);
        assert!(buf[..header.len as usize].iter().all(|&b| b == seq_byte(seq)), "record {seq}");
    };
    for seq in oldest..=last {
        check(&mut log, seq);
    }
    for seq in (oldest..=last).rev().step_by(3) {
        check(&mut log, seq);
    }
    check(&mut log, oldest + 5);
    // More appends reclaim the records the last read was among.
    for _ in 0..200 {
        durable(&mut log, 200, Room::Ordinary).unwrap();
    }
    assert!(log.oldest_seq() > last, "the records read before were reclaimed");
    let mut buf = [0u8; MAX_PAYLOAD];
    assert!(matches!(log.read(oldest + 6, &mut buf), Err(LogError::Reclaimed { .. })));
    let (oldest, last) = (log.oldest_seq(), log.last_seq());
    for seq in oldest..=last {
        check(&mut log, seq);
    }
}
