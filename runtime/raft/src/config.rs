//! How a node behaves: timeouts, the optional protocol extensions, flow
//! control limits and the read mode.

use crate::limits::{APPEND_OVERHEAD, ENTRY_OVERHEAD, MAX_BATCH, MAX_DATA, MAX_INFLIGHT, MAX_WIRE};
use crate::types::{NO_NODE, NodeId};

/// How linearizable reads are confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex: the leader notes its commit index and confirms it is
    /// still leader with a round of heartbeats to a quorum (Raft thesis
    /// §6.4). Safe whatever the clocks do.
    ReadIndex,
    /// Lease reads: the leader answers without a round trip while a quorum
    /// answered it within the last `election_tick - drift_ticks` ticks.
    /// Safe only if no node's clock runs more than `drift_ticks` ticks per
    /// election timeout faster than the leader's, which the caller asserts
    /// by choosing this mode. Requires `check_quorum`.
    Lease {
        /// Clock drift bound, in ticks per election timeout.
        drift_ticks: u32,
    },
}

/// Deliberately broken protocol variants, for showing that the simulator's
/// checks catch real bugs. Only with the `broken-variants` feature.
#[cfg(feature = "broken-variants")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Broken {
    /// Grant votes without checking whether this term's vote was already
    /// cast (two leaders in one term).
    pub vote_twice: bool,
    /// Grant votes without the log up-to-date check (lost commits).
    pub vote_ignores_log: bool,
    /// Leader commits what it alone holds (no quorum).
    pub commit_without_quorum: bool,
    /// Followers accept an append whenever they hold an entry at its
    /// `prev_index`, whatever its term (log matching broken).
    pub append_ignores_prev_term: bool,
    /// ReadIndex answers at once, without confirming leadership (stale reads
    /// from a deposed leader).
    pub read_without_quorum: bool,
}

/// A node's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// This node.
    pub id: NodeId,
    /// Ticks without hearing from a leader before campaigning; the actual
    /// timeout is randomized in `[election_tick, 2 * election_tick)`.
    pub election_tick: u32,
    /// Ticks between a leader's heartbeats.
    pub heartbeat_tick: u32,
    /// Campaign with a pre-vote round first.
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum for an election timeout
    /// steps down. (Followers ignore vote requests while they hear from a
    /// leader whatever this says.)
    pub check_quorum: bool,
    /// Entries per append message (at most [`MAX_BATCH`]).
    pub max_batch: usize,
    /// Encoded bytes per append message, at most [`MAX_WIRE`] and at least
    /// what one entry of [`MAX_DATA`] bytes needs: the largest message the
    /// transport carries (a PD sending through the network PD's calls sets
    /// its `MAX_NET_BODY`).
    pub max_append_bytes: usize,
    /// Pipelined appends per follower (at most [`MAX_INFLIGHT`]).
    pub max_inflight: usize,
    /// Proposals a leader accepts beyond its commit index before refusing
    /// with back-pressure.
    pub max_uncommitted: u64,
    /// How reads are confirmed.
    pub read_mode: ReadMode,
    /// Ticks a follower catching up on the log may go without advancing
    /// before the leader stops holding its compaction back for it
    /// ([`crate::Raft::follower_catching_up`]): longer than a follower
    /// takes to restore a large snapshot after its last chunk.
    pub catch_up_ticks: u32,
    /// Seed of the election-timeout randomization (mixed with `id`).
    pub seed: u64,
    /// Broken variants (tests only).
    #[cfg(feature = "broken-variants")]
    pub broken: Broken,
}

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `id` is [`NO_NODE`].
    NoId,
    /// `heartbeat_tick` is 0 or not below `election_tick`, or
    /// `catch_up_ticks` is 0.
    Ticks,
    /// `max_batch`, `max_append_bytes` or `max_inflight` is outside its
    /// limits.
    FlowLimits,
    /// Lease reads without check-quorum, or a drift bound that leaves no lease.
    Lease,
    /// A founding membership that is not well formed.
    Membership,
}

impl Config {
    /// Defaults that suit a LAN cluster ticking every 10 ms: election after
    /// 100-200 ms, heartbeats every 10 ms, pre-vote and check-quorum on.
    pub fn new(id: NodeId) -> Config {
        Config {
            id,
            election_tick: 10,
            heartbeat_tick: 1,
            pre_vote: true,
            check_quorum: true,
            max_batch: MAX_BATCH,
            max_append_bytes: MAX_WIRE,
            max_inflight: 8,
            max_uncommitted: 512,
            read_mode: ReadMode::ReadIndex,
            catch_up_ticks: 500,
            seed: 0,
            #[cfg(feature = "broken-variants")]
            broken: Broken::default(),
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == NO_NODE {
            return Err(ConfigError::NoId);
        }
        if self.heartbeat_tick == 0 || self.heartbeat_tick >= self.election_tick || self.catch_up_ticks == 0 {
            return Err(ConfigError::Ticks);
        }
        if !(1..=MAX_BATCH).contains(&self.max_batch)
            || !(1..=MAX_INFLIGHT).contains(&self.max_inflight)
            || !(APPEND_OVERHEAD + ENTRY_OVERHEAD + MAX_DATA..=MAX_WIRE).contains(&self.max_append_bytes)
        {
            return Err(ConfigError::FlowLimits);
        }
        if let ReadMode::Lease { drift_ticks } = self.read_mode
            && (!self.check_quorum || drift_ticks >= self.election_tick)
        {
            return Err(ConfigError::Lease);
        }
        Ok(())
    }
}
