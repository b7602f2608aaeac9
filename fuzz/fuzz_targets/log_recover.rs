//! Fuzzes recovery end to end: a whole (small) disk of untrusted bytes,
//! with a valid superblock (a ring, its checkpoint and tail anchor at
//! positions the fuzzer picks) so the fuzzer spends its time in the
//! scanner.
//!
//! Checks: recovery never panics and never loops; whatever it accepts,
//! reading back every recovered record succeeds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use worknode_log::format::{Checkpoint, DATA_START, MAX_PAYLOAD, Owner, SECTOR, Superblock, VERSION};
use worknode_log::{Log, SliceDevice, chain};

const SECTORS: u64 = 40;

fuzz_target!(|data: &[u8]| {
    let mut disk = vec![0u8; SECTORS as usize * SECTOR];
    // The first two bytes place the anchor and the checkpoint.
    let (at, data) = data.split_first().map_or((0, data), |(&b, rest)| (u64::from(b), rest));
    let anchor = DATA_START + at % (SECTORS - DATA_START);
    let origin = Checkpoint { next_seq: 1 + at / 8, sector: anchor, prev_hash: chain::genesis(1) };
    let sb = Superblock {
        version: VERSION,
        slot: 0,
        log_id: 1,
        data_start: DATA_START,
        data_sectors: SECTORS - DATA_START,
        max_batch_sectors: 8,
        max_payload: MAX_PAYLOAD as u32,
        generation: 1,
        checkpoint: origin,
        tail: origin,
        owner: Owner { cluster: 1, node: 1 },
        flags: 0,
    };
    disk[..SECTOR].copy_from_slice(&sb.encode());
    let area = &mut disk[DATA_START as usize * SECTOR..];
    let n = data.len().min(area.len());
    area[..n].copy_from_slice(&data[..n]);
    if let Ok((mut log, recovery)) = Log::<_, 4096>::open(SliceDevice(&mut disk)) {
        let mut buf = [0u8; MAX_PAYLOAD];
        for seq in log.oldest_seq()..=recovery.last_seq {
            log.read(seq, &mut buf).expect("a recovered record reads back");
        }
    }
});
