//! The cluster's Strong events in this node's event log.
//!
//! The Raft PD hands the governor every Strong event its state machine
//! takes, any node's, in the cluster's order and numbered 1, 2, 3, ...
//! alike on every node (`worknode_abi::strong::Applied`). The governor
//! writes each as a `ReplicatedRecord` with group commit (appended
//! without waiting, then one flush for the batch: nothing waits on these
//! records but the next batch) and skips those it wrote already (after a
//! restart the Raft PD hands over its whole journal again). Not decisions:
//! each was decided and audited by its proposer's governor, and writing
//! the copy changes no table, thread or device, so it passes no gate.
//!
//! Where it starts: at the log's start, the governor reads the last
//! [`REPLICATED_LOOKBACK`] records for the last replicated one (none
//! found: it starts from 0, and a
//! node whose last replicated record is further back writes some events a
//! second time, which `worknode log replicated` shows as numbers that go
//! back).

use crate::limits::REPLICATED_LOOKBACK;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Replicated {
    /// The number of the last replicated record appended (durable or not
    /// yet); `None` until the log's tail was looked at.
    last: Option<u64>,
    /// Whether records were appended since the last flush.
    unsynced: bool,
    /// The last number a console line said was durable.
    said: u64,
    /// Events skipped as written already.
    pub again: u64,
    /// Events that did not decode.
    pub undecodable: u64,
    /// Events not written: the log refused them or there is none.
    pub unwritten: u64,
}

/// Numbers between two console lines saying how far the copy is durable.
pub const LINE_EVERY: u64 = 100;

impl Replicated {
    /// Where the log's tail says the copy stands.
    pub fn found(&mut self, last: u64) {
        self.last = Some(last);
        self.said = last;
    }

    /// The number of the last event appended (0 for none).
    pub fn last(&self) -> u64 {
        self.last.unwrap_or(0)
    }

    /// Whether the log's tail was looked at.
    pub fn ready(&self) -> bool {
        self.last.is_some()
    }

    /// Whether event `number` is to be written: it is past the last one
    /// appended (else it is written already).
    pub fn wanted(&self, number: u64) -> bool {
        number > self.last.unwrap_or(0)
    }

    /// Event `number` was not written: it is written already.
    pub fn skipped(&mut self, number: u64) {
        debug_assert!(!self.wanted(number), "only an event written already is skipped");
        self.again += 1;
    }

    /// Event `number` was appended, not yet flushed.
    pub fn appended(&mut self, number: u64) {
        debug_assert!(number > self.last.unwrap_or(0), "numbers only grow along the log");
        self.last = Some(number);
        self.unsynced = true;
    }

    /// Whether a flush is owed.
    pub fn unsynced(&self) -> bool {
        self.unsynced
    }

    /// The flush is done: the number to say durable, if a line is due.
    pub fn synced(&mut self) -> Option<u64> {
        self.unsynced = false;
        let last = self.last.unwrap_or(0);
        (last / LINE_EVERY > self.said / LINE_EVERY).then(|| {
            self.said = last;
            last
        })
    }

    /// The sequence numbers to look at for the last replicated record, in
    /// the order to read them: the last [`REPLICATED_LOOKBACK`] up to the
    /// log's last (`recovered`), oldest first. Rejected: backwards from
    /// the last, stopping at the first found, which reads fewer but each
    /// from the log's start (the log PD reads forward from its place):
    /// 33 s at boot on QEMU for a log of 2,000 records with none to find.
    pub fn lookback(recovered: u64) -> impl Iterator<Item = u64> {
        recovered.saturating_sub(REPLICATED_LOOKBACK as u64) + 1..=recovered
    }
}
