//! The network PD: the node's TCP/IP stack (smoltcp) over the NIC driver's
//! frame queues, offering message streams between nodes to the PDs that
//! call it (`worknode_abi::net`). The streams' logic is `worknode_net`,
//! tested on the host on a simulated LAN; this file is the glue: the
//! frame device over the shared rings, the clock and wake-ups from the
//! timer PD, and the clients' calls.
//!
//! Priority 105: above its callers (the governor at 100, test clients),
//! below the console (110), the timer (140) it calls, and the drivers.
//!
//! Addressing comes from system.xml's `<?worknode-network?>` and the MAC
//! the driver reads from the device: its last byte is the node number.
//! A MAC outside the cluster's prefix stops the PD with a message saying
//! so (the node would otherwise take another node's address).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[cfg(feature = "bench")]
mod bench;
mod device;

/// Channel ids and the network, generated from the rendered system.xml.
mod system {
    include!(concat!(env!("OUT_DIR"), "/system.rs"));
}

use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, protection_domain, var,
    with_msg_bytes,
};
use static_cell::ConstStaticCell;
use worknode_abi::ErrorCode;
use worknode_abi::bounded::Bytes;
use worknode_abi::frame;
use worknode_abi::net::{MAX_NET_BODY, NetReply, NetRequest, NetResponse};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_net::{Config, Node, SendError, Storage};

use crate::device::QueueDevice;

const DRIVER: Channel = Channel::new(system::channel::NIC);
/// The line said at the first connection from outside the cluster,
/// followed by the count (the runner's test-net looks for it).
const STRANGER: &str = "net| refused a connection from outside the cluster; unknown_node=";
/// The line said at the first bad message on a stream (another version,
/// another node's name, out of sequence, undecodable), followed by the
/// count (test-net forges such messages into the streams).
const BAD_MESSAGE: &str = "net| refused a bad message on a stream, and reset it; bad_messages=";
const TIMER: Channel = Channel::new(system::channel::TIMER);
/// Every channel but the driver's and the timer's is a client's, and a
/// client's port is its place among them (channels in peer-name order):
/// the same number on every node, since every node is built from the
/// same system.xml.
fn clients() -> impl Iterator<Item = (u8, Channel)> {
    system::channel::ALL
        .iter()
        .filter(|(peer, _)| *peer != "nic" && *peer != "timer")
        .enumerate()
        .map(|(port, &(_, id))| (port as u8, Channel::new(id)))
}
const _: () =
    assert!(system::channel::ALL.len() - 2 <= worknode_net::limits::PORTS, "more clients than ports");
const _: () =
    assert!(system::network::NODES <= worknode_net::limits::MAX_NODES, "more nodes than the stack holds");

static STORAGE: ConstStaticCell<Storage> = ConstStaticCell::new(Storage::new());

struct Net {
    device: QueueDevice,
    /// Whether the driver was told to attach to the rings.
    attached: bool,
    /// Whether the first connection from outside the cluster was said.
    stranger_said: bool,
    /// Whether the first bad message on a stream was said.
    bad_message_said: bool,
    /// `make bench-net`'s raw phase, before the stack starts.
    #[cfg(feature = "bench")]
    raw: bench::Raw,
    /// Created once the driver has published the MAC.
    node: Option<Node<'static>>,
    /// When the one-shot timeout is armed for (µs), to avoid re-arming it
    /// for the same time on every event.
    armed_for: u64,
    /// Ports (bits) whose inbox a receive found full since the last pass:
    /// their streams hold more, read by the pass that comes once the
    /// client has emptied the inbox.
    behind: u64,
    /// The reply being made, kept between calls rather than cleared for
    /// each (a frame of 960 bytes).
    reply: [u8; frame::MAX_FRAME_LEN],
}

fn now_us() -> u64 {
    match worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &TimerRequest::Now) {
        Ok(Ok(TimerReply::Now { ns })) => ns / 1000,
        other => panic!("the timer PD did not answer Now: {other:?}"),
    }
}

#[protection_domain]
fn init() -> Net {
    let queues = *var!(queues_vaddr: usize = 0);
    let rx = (*var!(rx_data_vaddr: usize = 0), *var!(rx_data_size: usize = 0));
    let tx = (*var!(tx_data_vaddr: usize = 0), *var!(tx_data_size: usize = 0));
    // SAFETY: system.xml maps the queue region (QUEUES_WORDS words) and
    // the two data regions read-write in this PD and the driver, and this
    // PD reaches them only through `QueueDevice` (atomics and copies).
    #[allow(unsafe_code)]
    let device = unsafe { QueueDevice::new(queues, rx, tx) };
    let mut net = Net {
        device,
        attached: false,
        stranger_said: false,
        bad_message_said: false,
        #[cfg(feature = "bench")]
        raw: bench::Raw::default(),
        node: None,
        armed_for: u64::MAX,
        behind: 0,
        reply: [0; frame::MAX_FRAME_LEN],
    };
    net.start();
    net
}

impl Net {
    /// Creates the stack once the driver has published the MAC.
    fn start(&mut self) {
        if self.node.is_some() {
            return;
        }
        let Some(mac) = self.device.mac() else { return };
        let mut config = Config {
            me: 0,
            nodes: system::network::NODES as u8,
            subnet: system::network::SUBNET,
            prefix_len: system::network::PREFIX_LEN,
            port: system::network::PORT,
            mac_prefix: system::network::MAC_PREFIX,
        };
        let Some(me) = config.node_of_mac(mac) else {
            panic!(
                "the NIC's MAC {mac:02x?} is not a node of this cluster (prefix {:02x?}, {} nodes: system.xml's <?worknode-network?>)",
                config.mac_prefix, config.nodes
            );
        };
        config.me = me;
        if !self.attached {
            // The driver attaches to the rings we initialised, and from
            // then on asks for notifications itself.
            self.attached = true;
            DRIVER.notify();
        }
        #[cfg(feature = "bench")]
        if !self.raw.run(me, mac, &mut self.device, now_us().saturating_mul(1000)) {
            // Driver notifications move the phase on; a wake-up every
            // millisecond as well, in case one finds nothing to say.
            let _ = self.device.want_notifications();
            let set = TimerRequest::Set { slot: 0, after_ns: 1_000_000, period_ns: 0 };
            let _ = worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &set);
            return;
        }
        let now = now_us();
        // Differs per boot: the clock's reading at start moves with every
        // boot's timing, and the node number keeps nodes apart.
        let seed = now.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(me) << 56;
        let ip = config.address(me);
        self.node = Some(Node::new(config, STORAGE.take(), &mut self.device, now, seed));
        debug_println!("net| node {me} at {ip}, {} clients", clients().count());
    }

    /// Runs the stack, notifies clients with news, re-arms the wake-up.
    fn run(&mut self) {
        self.start();
        let Some(node) = self.node.as_mut() else { return };
        self.behind = 0;
        let now = now_us();
        let mut changed = false;
        let mut idle = false;
        // Bounded: a pass handles a burst of frames each way; a ring that
        // is still not empty when we would sleep gets another pass, and
        // past that an immediate wake-up from the timer (other PDs run in
        // between).
        for _ in 0..4 {
            changed |= node.poll(now, &mut self.device);
            if self.device.want_notifications() {
                idle = true;
                break;
            }
        }
        self.device.count_into(node);
        // Said once per boot (a stranger can knock at will); counted always.
        if node.stats().unknown_node > 0 && !self.stranger_said {
            self.stranger_said = true;
            debug_println!("{STRANGER}{}", node.stats().unknown_node);
        }
        if node.stats().bad_messages > 0 && !self.bad_message_said {
            self.bad_message_said = true;
            debug_println!("{BAD_MESSAGE}{}", node.stats().bad_messages);
        }
        for (port, channel) in clients() {
            if changed || node.waiting(port) > 0 {
                channel.notify();
            }
        }
        let next = if idle { node.next_poll_us(now) } else { now };
        // A wake-up already armed no later than needed stands: waking
        // early costs a pass, re-arming costs a call to the timer on
        // every pass (and a pass follows every client call).
        if next < self.armed_for || self.armed_for < now {
            self.armed_for = next;
            let after_ns = next.saturating_sub(now).saturating_mul(1000).min(1 << 40);
            let set = TimerRequest::Set { slot: 0, after_ns, period_ns: 0 };
            if !matches!(worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &set), Ok(Ok(_))) {
                debug_println!("net| the timer refused a wake-up");
            }
        }
    }
}

/// What a call was, for deciding on a pass of the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Served {
    Sent,
    Received,
    Other,
}

/// Encodes `response` into `out`; 0 if it does not fit (the reply is then
/// the empty one every receiver rejects).
fn encode(response: &NetResponse, out: &mut [u8]) -> usize {
    frame::encode(response, out).unwrap_or(0)
}

/// Serves `request` from the client on `port`, encoding the response into
/// `out`: a message's body goes from its inbox slot into `out` once.
fn serve(node: &mut Node<'_>, port: u8, request: NetRequest, out: &mut [u8]) -> (usize, Served) {
    match request {
        NetRequest::Send { to, body } => {
            let response = match node.send(to, port, &body) {
                Ok(seq) => Ok(NetReply::Sent { seq }),
                Err(SendError::NoSuchNode) => Err(ErrorCode::NotFound),
                Err(SendError::Invalid) => Err(ErrorCode::TooLarge),
                Err(SendError::NotConnected) => Err(ErrorCode::InvalidState),
                Err(SendError::Full) => Err(ErrorCode::Exhausted),
            };
            let served = if response.is_ok() { Served::Sent } else { Served::Other };
            (encode(&response, out), served)
        }
        NetRequest::Receive => node
            .receive(port, |m| {
                // Bodies of other sizes cannot be sent through this
                // interface, so one that arrived came from a broken
                // peer: cut to what fits, never a panic.
                let body = Bytes::new(&m.body[..m.body.len().min(MAX_NET_BODY)]).expect("cut to fit");
                (encode(&Ok(NetReply::Message { from: m.from, seq: m.seq, body }), out), Served::Received)
            })
            .unwrap_or_else(|| (encode(&Ok(NetReply::Empty), out), Served::Other)),
        NetRequest::Status => {
            let s = node.stats();
            let status = NetReply::Status {
                node: node.config().me,
                connected: node.connected(),
                connects: s.connects,
                disconnects: s.disconnects,
                refused: s.runt + s.oversized + s.other_mac + s.other_ip + s.unknown_node + s.bad_messages,
            };
            (encode(&Ok(status), out), Served::Other)
        }
    }
}

impl Handler for Net {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(DRIVER) || channels.contains(TIMER) {
            if channels.contains(TIMER) {
                // Drain the timer's count; the wake-up itself is the news.
                let _ = worknode_pd_ipc::call::<_, TimerResponse>(TIMER, &TimerRequest::Fired);
                self.armed_for = u64::MAX;
            }
            self.run();
        }
        Ok(())
    }

    fn protected(&mut self, channel: Channel, info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        let client = clients().find(|(_, c)| c.index() == channel.index());
        let (reply, behind) = (&mut self.reply, &mut self.behind);
        let (len, work) = match (client, self.node.as_mut()) {
            (None, _) => (encode(&Err(ErrorCode::Internal), reply), false),
            (Some(_), None) => (encode(&Err(ErrorCode::InvalidState), reply), false),
            // Decoded and served where the request lies, in this PD's own
            // message registers (the caller waits; no one else writes
            // them), before anything here makes a call of its own.
            (Some((port, _)), Some(node)) => with_msg_bytes(|registers| {
                let request = frame::frame_len(info.label(), info.count())
                    .and_then(|len| registers.get(..len).ok_or(ErrorCode::Malformed))
                    .and_then(frame::decode::<NetRequest>);
                let request = match request {
                    Ok(request) => request,
                    Err(e) => return (encode(&Err(e), reply), false),
                };
                let full = node.waiting(port) >= worknode_net::limits::INBOX;
                let quiet = match request {
                    NetRequest::Send { to, .. } => node.unacknowledged(to) == 0,
                    _ => false,
                };
                let (len, served) = serve(node, port, request, reply);
                if full {
                    *behind |= 1 << port;
                }
                let emptied = *behind & 1 << port != 0 && node.waiting(port) == 0;
                let work = match served {
                    Served::Sent => quiet,
                    Served::Received => emptied,
                    Served::Other => false,
                };
                (len, work)
            }),
        };
        // A send to a quiet stream goes at once; a receive that emptied
        // an inbox found full (whose streams were not read to the end)
        // lets the stack read on, a pass per inbox rather than per
        // message. A send to a stream with bytes in flight waits for the
        // pass that the peer's acknowledgement brings (a notification
        // from the driver; the stack's own timers if none comes): what is
        // sent meanwhile leaves together, in full segments, rather than a
        // pass and a small segment per message (Nagle's rule, which also
        // saves the pass). A receive from an inbox never full changes
        // nothing the stack waits for. Rejected: a pass per send (`make
        // bench-net`, aarch64: 4.7 MB/s), and a wake-up from the timer
        // once per batch of calls (2.8 MB/s).
        // The reply was encoded before the pass: the pass calls the timer,
        // which reuses the message registers.
        if work {
            self.run();
        }
        Ok(worknode_pd_ipc::reply_frame(&self.reply[..len]))
    }
}
