//! A governed PD's side of the governor: what every worknode (and every
//! test worknode) does the same way.
//!
//! A governed PD has one channel, to the governor; everything it does is a
//! request on it ([`Governor`]): the boot handshake ([`Governor::hello`] in
//! `init`, [`Governor::ready`] on the "start" notification), console lines
//! ([`log!`]: the governor prints them as `<name>| <text>`, if its gate
//! allows), and events ([`Governor::record`]). The console lines other
//! programs read are in [`markers`].

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use sel4_microkit::{Channel, ChannelSet};
use worknode_abi::ErrorCode;
use worknode_abi::governor::{Reply, Request, log_text};

pub use worknode_abi::markers;

/// Whether "start" came (a PD has one thread; the flag only needs to be
/// a static that is not `mut`).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The governor, at the other end of this PD's one channel.
#[derive(Clone, Copy, Debug)]
pub struct Governor {
    channel: Channel,
}

/// What `Welcome` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// This worknode's index among the governor's children.
    pub worknode: u16,
    /// How many children the governor has.
    pub children: u16,
}

impl Governor {
    /// The governor on `channel` (the generated `system::channel::GOVERNOR`).
    pub const fn new(channel: usize) -> Governor {
        Governor { channel: Channel::new(channel) }
    }

    /// The channel, to tell its "start" notification from others.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// One request, with the transport's error and the governor's answer
    /// folded into one result.
    pub fn call(&self, request: &Request<'_>) -> Result<Reply, ErrorCode> {
        worknode_pd_ipc::call::<Request, worknode_abi::governor::Response>(self.channel, request)
            .and_then(|response| response)
    }

    /// The first call after start.
    pub fn hello(&self) -> Result<Welcome, ErrorCode> {
        match self.call(&Request::Hello)? {
            Reply::Welcome { worknode, children } => Ok(Welcome { worknode, children }),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// The answer to "start".
    pub fn ready(&self) -> Result<(), ErrorCode> {
        self.call(&Request::Ready).map(|_| ())
    }

    /// `Hello`, from `init`. A worknode the governor does not welcome can
    /// do nothing, so a refusal panics, naming `who`: the PD faults, and
    /// the governor records the fault and stops it.
    pub fn greet(&self, who: &str) -> Welcome {
        self.hello().unwrap_or_else(|e| panic!("{who}: hello refused: {e}"))
    }

    /// For a notification: whether it is the governor's "start" (its
    /// first notification; later ones are news: mail, the network, a
    /// grant). If it is, answers `Ready` (a refusal panics, as in
    /// [`Governor::greet`]) and says so on the console
    /// ([`markers::READY_ACKNOWLEDGED`]).
    pub fn started(&self, channels: ChannelSet, who: &str) -> bool {
        if !channels.contains(self.channel) || STARTED.swap(true, Ordering::Relaxed) {
            return false;
        }
        if let Err(e) = self.ready() {
            panic!("{who}: ready refused: {e}");
        }
        let _ = self.log(format_args!("{}", markers::READY_ACKNOWLEDGED));
        true
    }

    /// A console line (cut, and marked, if too long); see [`log!`].
    pub fn log(&self, args: fmt::Arguments<'_>) -> Result<(), ErrorCode> {
        self.call(&Request::Log { text: (&log_text(args)).into() }).map(|_| ())
    }

    /// Records `event` under this worknode's own resource; the answer, its
    /// sequence number, comes once it is durable.
    pub fn record(&self, event: &[u8]) -> Result<u64, ErrorCode> {
        let event = event.try_into().map_err(|_| ErrorCode::TooLarge)?;
        recorded(self.call(&Request::Record { event })?)
    }

    /// Records `event` under `resource`, which only the principal's grants
    /// allow.
    pub fn record_to(&self, resource: u32, event: &[u8]) -> Result<u64, ErrorCode> {
        let event = event.try_into().map_err(|_| ErrorCode::TooLarge)?;
        recorded(self.call(&Request::RecordTo { resource, event })?)
    }
}

impl Governor {
    /// Sends `body` to worknode `worknode` on node `node`; the answer is
    /// the send's audit sequence number.
    pub fn send(&self, node: u8, worknode: u16, body: &[u8]) -> Result<u64, ErrorCode> {
        let body = body.try_into().map_err(|_| ErrorCode::TooLarge)?;
        match self.call(&Request::Send { node, worknode, body })? {
            Reply::Sent { seq } => Ok(seq),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// Records `event` Strong: the answer, `(ticket, seq)`, comes once it
    /// is audited here and queued for Raft; its outcome comes later
    /// ([`Governor::outcome`], after a notification).
    pub fn record_strong(&self, event: &[u8]) -> Result<(u64, u64), ErrorCode> {
        let event = event.try_into().map_err(|_| ErrorCode::TooLarge)?;
        match self.call(&Request::RecordStrong { event })? {
            Reply::Pending { ticket, seq } => Ok((ticket, seq)),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// Reads the cluster's Strong event `number` linearizably: returns
    /// its ticket and the sequence number of its audit record on this
    /// node; the answer comes through [`Governor::outcome`].
    pub fn read_strong(&self, number: u64) -> Result<(u64, u64), ErrorCode> {
        match self.call(&Request::ReadStrong { number })? {
            Reply::Pending { ticket, seq } => Ok((ticket, seq)),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// Takes the oldest known outcome of this worknode's Strong events
    /// and reads: [`Reply::Committed`], [`Reply::Failed`] or
    /// [`Reply::Read`] (the ABI's own types: the replies are the
    /// outcomes), or `None` if none is known yet.
    pub fn outcome(&self) -> Result<Option<Reply>, ErrorCode> {
        match self.call(&Request::Outcome)? {
            reply @ (Reply::Committed { .. } | Reply::Failed { .. } | Reply::Read { .. }) => Ok(Some(reply)),
            Reply::Empty => Ok(None),
            _ => Err(ErrorCode::Internal),
        }
    }

    /// Takes the oldest message in this worknode's mailbox.
    pub fn receive(&self) -> Result<Option<Mail>, ErrorCode> {
        match self.call(&Request::Receive)? {
            Reply::Mail { node, worknode, body } => Ok(Some(Mail { node, worknode, body })),
            Reply::Empty => Ok(None),
            _ => Err(ErrorCode::Internal),
        }
    }
}

/// A message from a worknode on another node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The sending node.
    pub node: u8,
    /// The sending worknode's index on that node.
    pub worknode: u16,
    /// The message.
    pub body: heapless::Vec<u8, { worknode_abi::governor::MAX_MESSAGE }>,
}

fn recorded(reply: Reply) -> Result<u64, ErrorCode> {
    match reply {
        Reply::Recorded { seq } => Ok(seq),
        _ => Err(ErrorCode::Internal),
    }
}

/// Asks the governor to print a line: `log!(GOVERNOR, "x = {x}")`. A
/// refused line is not worth failing for (the governor knows why it
/// refused, and says so when it is news), so the result is dropped.
#[macro_export]
macro_rules! log {
    ($governor:expr, $($arg:tt)*) => {{
        let _ = $governor.log(format_args!($($arg)*));
    }};
}
