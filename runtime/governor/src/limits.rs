//! Every capacity and bound of the governor, in one place, with how they
//! relate checked at compile time.

/// Microkit allows at most 63 protection domains in a system, so a governor
/// can never have more than 62 children.
pub const MAX_CHILDREN: usize = 62;

/// Stop records (halt, suspend, a fault) made before the log is ready:
/// they wait, and are written first when it is.
pub const PENDING_STOPS: usize = 8;

/// Command lines read per notification from the serial driver (its queue
/// holds no more).
pub const LINES_PER_NOTIFICATION: usize = 4;

/// Repeats of one denial counted before their count is written: a
/// worknode's unrecorded repeats are at most this many minus one.
pub const REPEAT_FLUSH: u32 = 1024;

/// Messages from other nodes a worknode's mailbox holds; while it is full,
/// further mail waits in the network PD (back-pressure, no drop).
pub const MAILBOX: usize = 2;

/// Messages taken from the network PD per notification or receive at most
/// (bounded work; the network PD notifies again while more wait).
pub const MAIL_PER_PULL: usize = 8;

/// Strong events a node's governor holds at once: on the ring to the Raft
/// PD, proposed, or settled and not yet taken by their worknode.
pub const STRONG_PENDING: usize = 16;

/// Strong events one worknode may hold at once (so one that never takes
/// its outcomes blocks only itself).
pub const STRONG_PER_WORKNODE: usize = 8;

/// Messages (outcomes, and the cluster's events to write) taken from the
/// Raft PD per look at most (bounded work; the Raft PD notifies again
/// while more wait).
pub const OUTCOMES_PER_PULL: usize = STRONG_PENDING;

/// The width of a bucket of the Strong events' latency histogram (ms),
/// and the buckets: 4 ms up to a second, then one for all longer.
pub const LATENCY_BUCKET_MS: u64 = 4;
/// See [`LATENCY_BUCKET_MS`].
pub const LATENCY_BUCKETS: usize = 256;

/// Records the governor reads back, from the log's last, for the last of
/// the cluster's Strong events it wrote (`crate::replicated`).
pub const REPLICATED_LOOKBACK: usize = 256;

/// Restarts a supervision policy may allow within its intensity window
/// (the supervisor remembers that many restart times per worknode).
pub const MAX_RESTARTS: usize = 16;

/// Channel ids (Microkit: 0..=61), so a notification set fits a `u64`.
pub const MAX_CHANNEL: usize = 61;

const _: () =
    assert!(MAX_CHILDREN == worknode_authority::limits::MAX_GOVERNED, "the tables hold every child");
const _: () = assert!(MAX_CHANNEL < 64, "a set of channels is a u64 mask");
const _: () = assert!(MAX_CHILDREN <= 64, "the children waiting for the network are a u64 mask");
const _: () = assert!(MAILBOX >= 1 && MAIL_PER_PULL >= MAILBOX, "a pull can fill a mailbox");
const _: () = assert!(
    STRONG_PER_WORKNODE >= 1 && STRONG_PER_WORKNODE <= STRONG_PENDING,
    "a worknode may hold a Strong event, and no more than the node"
);
const _: () = assert!(REPEAT_FLUSH >= 2, "a run of repeats is worth coalescing");
const _: () = assert!(MAX_RESTARTS >= 1 && MAX_RESTARTS <= 64, "a burst's backoff doubles at most 63 times");
