//! The log PD's logic, sans IO: what it does with its disk at start and
//! with each request of the governor. `pds/log` is the glue that hands it a
//! block device and the governor's calls.
//!
//! At start, a blank disk is formatted (with an identity derived from what
//! the disk held); a disk with a log is recovered; anything else (another
//! file system, random bytes, a log whose acknowledged records are
//! damaged) is *refused*: left exactly as it was, and every request,
//! `Status` included, is answered with the error that says why. A person
//! decides what happens to such a disk (`worknode log inspect`).
//!
//! Retention: the log may reclaim whatever it must, oldest first (the
//! governor needs no old record yet; the floor exists for the owners that
//! will), and keeps [`RESERVE_SECTORS`] for `AppendReserved`.
//!
//! A durable record is reported durable: when the periodic checkpoint
//! after a commit fails, the commit's answer is still its success (the
//! record is on disk, and a caller told otherwise would write it again);
//! the failure poisons the log and the *next* request says so.

use heapless::Vec;
use worknode_abi::ErrorCode;
use worknode_abi::log::{LogReply, LogRequest, LogResponse};

use crate::format::{MAX_PAYLOAD, Owner};
use crate::limits::{BATCH, CHECKPOINT_EVERY, RESERVE_SECTORS};
use crate::{BlockDevice, Log, LogError, Room};

/// How the service found its disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// A blank disk, now formatted.
    Formatted,
    /// A log, recovered up to this sequence number.
    Recovered(u64),
    /// No usable log: the disk was left as it was.
    Refused(LogError),
}

// No allocator in a PD, so no box: the service holds one or the other
// in place, and there is one service per log PD.
#[allow(clippy::large_enum_variant)]
enum State<D: BlockDevice> {
    Open(Log<D, BATCH>),
    Refused(LogError),
}

/// See the module documentation.
pub struct Service<D: BlockDevice> {
    state: State<D>,
    /// Whom the service opened the log for (its node: any, until claimed).
    owner: Owner,
    found: Found,
    commits: u32,
}

impl<D: BlockDevice> Service<D> {
    /// Recovers, formats or refuses the disk, for `owner`: a blank disk is
    /// formatted as its log, a log of another owner refused
    /// ([`LogError::Foreign`]).
    pub fn start(mut dev: D, owner: Owner) -> Service<D> {
        let opened = match crate::read_superblock(&mut dev) {
            Err(LogError::Unformatted) => crate::derive_log_id(&mut dev, owner, 0)
                .and_then(|id| Log::format_for(dev, id, owner))
                .map(|log| (log, Found::Formatted)),
            _ => Log::open_as(dev, owner).map(|(log, recovery)| (log, Found::Recovered(recovery.last_seq))),
        };
        match opened {
            Ok((mut log, found)) => {
                log.set_retention(u64::MAX);
                log.set_reserve(RESERVE_SECTORS);
                Service { state: State::Open(log), owner, found, commits: 0 }
            }
            Err(e) => Service { state: State::Refused(e), owner, found: Found::Refused(e), commits: 0 },
        }
    }

    /// What the service found at start.
    pub fn found(&self) -> Found {
        self.found
    }

    /// The open log, if there is one.
    pub fn log(&mut self) -> Option<&mut Log<D, BATCH>> {
        match &mut self.state {
            State::Open(log) => Some(log),
            State::Refused(_) => None,
        }
    }

    /// Answers one request.
    pub fn serve(&mut self, request: &LogRequest) -> LogResponse {
        let recovered = match self.found {
            Found::Recovered(seq) => seq,
            _ => 0,
        };
        let result = match request {
            // Names no node: nothing to bind the log to.
            LogRequest::Claim { node } if *node == Owner::ANY_NODE => return Err(ErrorCode::Malformed),
            // Served before the log is borrowed: it may replace the log.
            LogRequest::Claim { node } => self.claim(*node).map(|()| LogReply::Claimed),
            LogRequest::Append { payload } => {
                self.open().and_then(|(log, commits)| Self::durable(log, commits, payload, Room::Ordinary))
            }
            LogRequest::AppendReserved { payload } => {
                self.open().and_then(|(log, commits)| Self::durable(log, commits, payload, Room::Reserved))
            }
            LogRequest::AppendLater { payload } => self.open().and_then(|(log, _)| {
                log.append(payload).map(|seq| LogReply::Appended { seq, durable: log.durable_seq() })
            }),
            LogRequest::Sync => self.open().and_then(|(log, commits)| {
                Self::commit(log, commits).map(|durable| LogReply::Synced { durable })
            }),
            LogRequest::Read { seq } => self.open().and_then(|(log, _)| {
                let mut buf = [0u8; MAX_PAYLOAD];
                let header = log.read(*seq, &mut buf)?;
                let payload = Vec::from_slice(&buf[..header.len as usize]).map_err(|_| LogError::TooLarge)?;
                Ok(LogReply::Record { seq: *seq, payload })
            }),
            LogRequest::Status => self.open().map(|(log, _)| LogReply::Status {
                last_seq: log.last_seq(),
                durable: log.durable_seq(),
                recovered,
                log_id: log.superblock().log_id,
            }),
        };
        result.map_err(ErrorCode::from)
    }

    /// The open log and the commit count, or why there is none: every
    /// request but a claim needs them.
    fn open(&mut self) -> Result<(&mut Log<D, BATCH>, &mut u32), LogError> {
        match &mut self.state {
            State::Open(log) => Ok((log, &mut self.commits)),
            State::Refused(e) => Err(*e),
        }
    }

    /// Binds the log to node `node` of the service's cluster
    /// ([`Log::claim`]). A log formatted at this start for any node of the
    /// cluster and still empty is formatted again for the node instead, so
    /// that its identity is derived from the node too: the event logs of
    /// two nodes' blank disks then differ (formatted for "any node", every
    /// blank disk of a cluster got the same `log_id`). Another node's log
    /// is refused, and every request after it.
    fn claim(&mut self, node: u16) -> Result<(), LogError> {
        let me = Owner { cluster: self.owner.cluster, node };
        let fresh = self.found == Found::Formatted;
        let log = match core::mem::replace(&mut self.state, State::Refused(LogError::Poisoned)) {
            State::Open(log) => log,
            State::Refused(e) => {
                self.state = State::Refused(e);
                return Err(e);
            }
        };
        let sb = *log.superblock();
        let unclaimed = sb.owner.cluster != 0 && sb.owner.node == Owner::ANY_NODE && me.cluster != 0;
        let (state, result) = if fresh && unclaimed && log.last_seq() == 0 {
            let mut dev = log.into_device();
            let formatted =
                crate::derive_log_id(&mut dev, me, 0).and_then(|id| Log::format_over_for(dev, id, me));
            match formatted {
                Ok(mut log) => {
                    log.set_retention(u64::MAX);
                    log.set_reserve(RESERVE_SECTORS);
                    (State::Open(log), Ok(()))
                }
                Err(e) => (State::Refused(e), Err(e)),
            }
        } else {
            let mut log = log;
            match log.claim(me) {
                // Another node's log: nothing more is written to it.
                Err(e @ LogError::Foreign { .. }) => (State::Refused(e), Err(e)),
                result => (State::Open(log), result),
            }
        };
        if result.is_ok() {
            self.owner = me;
        }
        self.state = state;
        debug_assert!(result.is_err() || self.log().is_some(), "a claimed log is open");
        result
    }

    fn durable(
        log: &mut Log<D, BATCH>,
        commits: &mut u32,
        payload: &[u8],
        room: Room,
    ) -> Result<LogReply, LogError> {
        let seq = log.append_in(payload, room)?;
        let durable = Self::commit(log, commits)?;
        debug_assert!(durable >= seq, "a committed record is durable");
        Ok(LogReply::Appended { seq, durable })
    }

    /// Commits; every [`CHECKPOINT_EVERY`] commits also checkpoints. A
    /// failed checkpoint does not undo the commit's success (see the module
    /// documentation).
    fn commit(log: &mut Log<D, BATCH>, commits: &mut u32) -> Result<u64, LogError> {
        let durable = log.commit()?;
        *commits = commits.wrapping_add(1);
        if commits.is_multiple_of(CHECKPOINT_EVERY) {
            // Poisons the log on failure; the next request reports it.
            let _ = log.checkpoint();
        }
        Ok(durable)
    }
}
