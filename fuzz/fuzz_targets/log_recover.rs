//! Fuzzes recovery end to end: a whole (small) disk of untrusted bytes,
//! with a valid superblock so the fuzzer spends its time in the scanner.
//!
//! Checks: recovery never panics and never loops; whatever it accepts,
//! reading back every recovered record succeeds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_log::format::{Checkpoint, DATA_START, MAX_PAYLOAD, SECTOR, Superblock};
use worknode_log::{Log, SliceDevice, chain};

const SECTORS: u64 = 40;

fuzz_target!(|data: &[u8]| {
    let mut disk = vec![0u8; SECTORS as usize * SECTOR];
    let sb = Superblock {
        slot: 0,
        log_id: 1,
        data_start: DATA_START,
        data_sectors: SECTORS - DATA_START,
        max_batch_sectors: 8,
        max_payload: MAX_PAYLOAD as u32,
        generation: 1,
        checkpoint: Checkpoint { next_seq: 1, sector: DATA_START, prev_hash: chain::genesis(1) },
    };
    disk[..SECTOR].copy_from_slice(&sb.encode());
    let area = &mut disk[DATA_START as usize * SECTOR..];
    let n = data.len().min(area.len());
    area[..n].copy_from_slice(&data[..n]);
    if let Ok((mut log, recovery)) = Log::<_, 4096>::open(SliceDevice(&mut disk)) {
        let mut buf = [0u8; MAX_PAYLOAD];
        for seq in 1..=recovery.last_seq {
            log.read(seq, &mut buf).expect("a recovered record reads back");
        }
    }
});
