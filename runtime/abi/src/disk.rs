//! The node's disk, cut in two: the event log's part and the Raft log's.
//!
//! One disk carries both logs, and one driver PD owns the device: it
//! serves each client its own part (a block queue per client,
//! `worknode_blkq`), numbered from 0, and refuses every sector outside it.
//! The log PD sees the first part, the Raft PD the second, each as a whole
//! disk: each log formats, recovers and refuses its part alone, so a
//! damaged Raft log leaves the event log readable, and the reverse.
//!
//! The cut is a function of the disk's size alone ([`Layout::of`]), so the
//! driver and the host tools agree on it without a partition table. The
//! event log starts at sector 0, as it always did, and records its own
//! extent in its superblock: a tool that reads only the event log needs no
//! layout. A disk whose event log spans the whole disk (written before
//! the cut) is refused by the log PD, never cut short.
//!
//! Rejected: a partition table on the disk, one more structure to recover
//! and one more way for two owners to disagree about extents; both logs in
//! the log PD, which would then serve two callers and could not wait for
//! the disk inside one's call without swallowing the other's (a Microkit
//! PD has one reply capability); a second disk, which doubles the devices
//! and interrupts to route on every board for the same guarantee.

/// Sectors of the disk's device: 512 bytes.
pub const SECTOR: u64 = 512;

/// The Raft log's share of the disk: the last quarter. On QEMU's 64 MiB
/// disks, 16 MiB: a 1 MiB snapshot stored several times over, and
/// thousands of entries between compactions.
pub const RAFT_SHARE: u64 = 4;

/// Both parts start and end on 4 KiB (8 sectors): no device page is
/// written by both owners.
pub const PART_ALIGN_SECTORS: u64 = 8;

const _: () = assert!(RAFT_SHARE >= 2, "the event log keeps the larger part");

/// Where each log lives on a disk of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The event log: sectors `0..events`.
    pub events: u64,
    /// The Raft log: sectors `events..events + raft`.
    pub raft: u64,
}

/// One part of the disk: its first sector and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// The part's sector 0 on the device.
    pub start: u64,
    /// Sectors.
    pub sectors: u64,
}

impl Layout {
    /// The layout of a disk of `sectors` sectors.
    pub const fn of(sectors: u64) -> Layout {
        let raft = sectors / RAFT_SHARE / PART_ALIGN_SECTORS * PART_ALIGN_SECTORS;
        let events = (sectors - raft) / PART_ALIGN_SECTORS * PART_ALIGN_SECTORS;
        Layout { events, raft }
    }

    /// The event log's part.
    pub const fn events_part(&self) -> Part {
        Part { start: 0, sectors: self.events }
    }

    /// The Raft log's part.
    pub const fn raft_part(&self) -> Part {
        Part { start: self.events, sectors: self.raft }
    }
}

const _: () = {
    let l = Layout::of(64 << 20 >> 9);
    assert!(l.events == 98_304 && l.raft == 32_768, "QEMU's 64 MiB disk: 48 + 16 MiB");
};
