//! What the governor core asks of the world it runs in.
//!
//! The core ([`crate::Governor`]) decides; the world carries out. Its
//! inputs are the calls on the core (a worknode's call, notifications, a
//! fault, with the clock's reading); its effects are the calls it makes on
//! a [`World`]: append an audit record and wait until it is durable,
//! print a console line, notify a worknode, stop or start a worknode's
//! thread, hand mail to the network PD and take what arrived, and the few
//! queries a ready log, the console and the network answer.
//!
//! The governor PD implements it with seL4 calls (`pds/governor`); the
//! tests implement it with a recorder that checks the order of effects
//! against the durability of their records. Rejected: a queue of effect
//! values the glue drains. An append must be answered before the core can
//! go on (plan, durable, then commit), so the answer would have come back
//! as a second input while the core held the plan in between; calls on a
//! trait keep each decision in one function, and copy nothing (a console
//! line is `fmt::Arguments`, not a buffer).

use core::fmt;

use heapless::{String, Vec};
use worknode_abi::ErrorCode;
use worknode_abi::console::MAX_LINE;
use worknode_abi::log::{MAX_RECORD, Room};
use worknode_abi::net::MAX_NET_BODY;

/// What the log said about itself when it became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogStatus {
    /// The last sequence number recovered at boot (0: an empty log).
    pub recovered: u64,
    /// The log's identity.
    pub log_id: u64,
}

/// See the module documentation.
pub trait World {
    /// Appends an encoded audit record to the event log and returns its
    /// sequence number once the record is durable, or why it is not.
    fn append(&mut self, record: &[u8], room: Room) -> Result<u64, ErrorCode>;
    /// Appends an encoded record to the event log without waiting for it
    /// to be durable: a later [`World::sync`] (or `append`) makes it
    /// durable with everything before it. Returns its sequence number.
    fn append_later(&mut self, record: &[u8]) -> Result<u64, ErrorCode>;
    /// Makes every record appended so far durable; returns the last
    /// durable sequence number.
    fn sync(&mut self) -> Result<u64, ErrorCode>;
    /// The log's status; called once, when the log notifies it is ready.
    /// An error means the log refused its disk.
    fn log_status(&mut self) -> Result<LogStatus, ErrorCode>;
    /// Binds the event log to this node (`LogRequest::Claim`, with the
    /// node's number from the network PD); called once, on a node with a
    /// network, before [`World::log_status`] and anything written. An
    /// error means the log is another node's (`denied`) or the node's
    /// number is unknown.
    fn log_claim(&mut self) -> Result<(), ErrorCode>;
    /// A durable record's payload.
    fn read_record(&mut self, seq: u64) -> Result<Vec<u8, MAX_RECORD>, ErrorCode>;
    /// The principal's next complete command line, if one waits.
    fn console_line(&mut self) -> Result<Option<String<MAX_LINE>>, ErrorCode>;
    /// Writes one console line (the newline is the world's).
    fn print(&mut self, line: fmt::Arguments<'_>);
    /// Notifies the worknode at the other end of `channel`.
    fn notify(&mut self, channel: usize);
    /// Stops the thread of the child with Microkit id `child_id`.
    fn stop(&mut self, child_id: usize) -> Result<(), ErrorCode>;
    /// Lets the thread of the child with Microkit id `child_id` run.
    fn start(&mut self, child_id: usize) -> Result<(), ErrorCode>;
    /// Whether the stream to node `node` is open; `not-found` for this
    /// node or a node not in the cluster.
    fn net_open(&mut self, node: u8) -> Result<bool, ErrorCode>;
    /// Hands encoded mail to the network PD, for node `node`.
    fn net_send(&mut self, node: u8, mail: &[u8]) -> Result<(), ErrorCode>;
    /// The oldest message that arrived for the governor, with the node
    /// that sent it.
    fn net_receive(&mut self) -> Result<Option<(u8, Vec<u8, MAX_NET_BODY>)>, ErrorCode>;
    /// Whether the queue to the Raft PD can take a proposal now.
    fn strong_room(&mut self) -> bool;
    /// Puts a message on the queue to the Raft PD: an encoded
    /// [`worknode_abi::strong::Proposal`] (`to` 0) or
    /// [`worknode_abi::strong::ReadRequest`] (`to`
    /// [`worknode_abi::strong::READ`]); `exhausted` when it is full,
    /// `not-found` on a node without one.
    fn strong_send(&mut self, to: u8, message: &[u8]) -> Result<(), ErrorCode>;
    /// What the Raft PD said of the proposals it took off the queue since
    /// the last call, oldest first: taken (its sequence number) or refused.
    fn strong_taken(&mut self, taken: &mut dyn FnMut(Result<u64, ErrorCode>));
    /// The oldest message that arrived from the Raft PD: its kind
    /// ([`worknode_abi::strong::OUTCOME`]: an encoded
    /// [`worknode_abi::strong::Outcome`]; [`worknode_abi::strong::APPLIED`]:
    /// an encoded [`worknode_abi::strong::Applied`];
    /// [`worknode_abi::strong::READ_ANSWER`]: an encoded
    /// [`worknode_abi::strong::ReadAnswer`]) and its bytes.
    fn strong_arrived(&mut self) -> Result<Option<(u8, Vec<u8, MAX_ARRIVED>)>, ErrorCode>;
    /// Before the governor waits: asks the Raft PD to notify it of its
    /// next answer or outcome. False if one came meanwhile: look again.
    fn strong_wait(&mut self) -> bool;
}

/// The longest message a [`World::strong_arrived`] returns.
pub const MAX_ARRIVED: usize = {
    use worknode_abi::strong::{MAX_APPLIED, MAX_READ_ANSWER};
    if MAX_APPLIED > MAX_READ_ANSWER { MAX_APPLIED } else { MAX_READ_ANSWER }
};

const _: () = assert!(worknode_abi::strong::MAX_OUTCOME <= MAX_ARRIVED, "an outcome is a message");
const _: () = assert!(worknode_abi::strong::MAX_READ_ANSWER <= MAX_ARRIVED, "a read's answer is a message");
