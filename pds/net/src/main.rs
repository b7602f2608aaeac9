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

use core::sync::atomic::AtomicU64;
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, protection_domain, var,
    with_msg_bytes,
};

use static_cell::{ConstStaticCell, StaticCell};
use worknode_abi::ErrorCode;
use worknode_abi::bounded::Bytes;
use worknode_abi::frame;
use worknode_abi::net::{MAX_NET_BODY, NetReply, NetRequest, NetResponse};
use worknode_abi::timer::{TimerReply, TimerRequest, TimerResponse};
use worknode_driver_shared_region::{SharedRegion, message_queues};
use worknode_net::limits::PORTS;
use worknode_net::{Config, Node, SendError, Storage};
use worknode_netq::messages::{self, Offer, Server};

use crate::device::QueueDevice;

const DRIVER: Channel = Channel::new(system::channel::NIC);
/// The line said at the first connection from outside the cluster,
/// followed by the count (the runner's test-net looks for it).
const STRANGER: &str = "net| refused a connection from outside the cluster; unknown_node=";
/// The line said at the first bad message on a stream (another version,
/// another node's name, out of sequence, undecodable), followed by the
/// count (test-net forges such messages into the streams).
const BAD_MESSAGE: &str = "net| refused a bad message on a stream, and reset it; bad_messages=";
/// The line said at the first stream whose Hello names another cluster,
/// followed by the count.
const OTHER_CLUSTER: &str = "net| refused a stream from another cluster; other_cluster=";
const TIMER: Channel = Channel::new(system::channel::TIMER);
/// Every channel but the driver's and the timer's is a client's, and a
/// client's port is its place among them (channels in peer-name order):
/// the same number on every node, since every node is built from the
/// same system.xml.
fn clients() -> impl Iterator<Item = (u8, Channel)> {
    named_clients().map(|(port, _, channel)| (port, channel))
}

/// [`clients`], with the client's PD name.
fn named_clients() -> impl Iterator<Item = (u8, &'static str, Channel)> {
    system::channel::ALL
        .iter()
        .filter(|(peer, _)| *peer != "nic" && *peer != "timer")
        .enumerate()
        .map(|(port, &(peer, id))| (port as u8, peer, Channel::new(id)))
}

/// A client's message queues (`worknode_netq::messages`): the region
/// `<client>_messages` of system.xml, which the client maps too.
struct Queued {
    port: u8,
    channel: Channel,
    words: &'static [AtomicU64],
    region: &'static SharedRegion,
    /// Attached once the client has initialised the rings.
    server: Option<Server<'static, SharedRegion>>,
}

impl Queued {
    /// The queues of every client that has a `<client>_messages` region.
    fn all() -> [Option<Queued>; PORTS] {
        static REGIONS: StaticCell<[Option<SharedRegion>; PORTS]> = StaticCell::new();
        let mut words: [Option<&'static [AtomicU64]>; PORTS] = [None; PORTS];
        let regions = REGIONS.init(core::array::from_fn(|_| None));
        for (port, peer, _) in named_clients() {
            let Some(&(_, vaddr, size)) =
                system::region::ALL.iter().find(|(name, ..)| name.strip_suffix("_messages") == Some(peer))
            else {
                continue;
            };
            // SAFETY: system.xml maps `<client>_messages` read-write here
            // and in the client (its size from the same description), at
            // a page boundary; this PD reaches it only through the queues.
            #[allow(unsafe_code)]
            let (w, region) = unsafe { message_queues(vaddr, size) }
                .unwrap_or_else(|| panic!("{peer}_messages is too small for message queues"));
            words[port as usize] = Some(w);
            regions[port as usize] = Some(region);
        }
        let regions: &'static [Option<SharedRegion>; PORTS] = regions;
        core::array::from_fn(|port| {
            let (words, region) = (words[port]?, regions[port].as_ref()?);
            let channel = clients().nth(port).map(|(_, c)| c)?;
            Some(Queued { port: port as u8, channel, words, region, server: None })
        })
    }

    /// The queues, once the client has initialised them.
    fn server(&mut self) -> Option<&mut Server<'static, SharedRegion>> {
        if self.server.is_none() {
            self.server = Server::attach(self.words, self.region).ok();
        }
        self.server.as_mut()
    }
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
    /// Whether [`OTHER_CLUSTER`] was said.
    other_cluster_said: bool,
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
    /// Ports (bits) with queues that were told that the stack is up.
    told: u64,
    /// Clients' message queues, by port.
    queued: [Option<Queued>; PORTS],
    /// Where a queued message is copied before it is read.
    scratch: [u8; messages::MAX_LEN],
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
        other_cluster_said: false,
        #[cfg(feature = "bench")]
        raw: bench::Raw::default(),
        node: None,
        armed_for: u64::MAX,
        behind: 0,
        reply: [0; frame::MAX_FRAME_LEN],
        told: 0,
        queued: Queued::all(),
        scratch: [0; messages::MAX_LEN],
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
            cluster: system::network::CLUSTER_ID,
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
            // After the poll: the acknowledgements it took in may have made
            // room for messages that waited. What is taken here leaves in
            // the next poll (a pass does not end on a send), and a
            // delivery that made room in an inbox lets that poll read on.
            // Rejected: taking sends before the poll, which left waiting
            // messages behind the room the poll made until a timer woke
            // the PD (`make bench-net`: stalls of 100-500 ms).
            let sent = take_sends(node, &mut self.queued, &mut self.scratch);
            let delivered = deliver(node, &mut self.queued);
            let clients_idle = self.queued.iter_mut().flatten().all(|q| {
                let waiting = node.waiting(q.port) > 0;
                q.server().is_none_or(|s| s.want_notifications(waiting))
            });
            if self.device.want_notifications() && clients_idle && !sent && !delivered {
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
        if node.stats().other_cluster > 0 && !self.other_cluster_said {
            self.other_cluster_said = true;
            debug_println!("{OTHER_CLUSTER}{}", node.stats().other_cluster);
        }
        for (port, channel) in clients() {
            let queued = self.queued[usize::from(port)].as_mut().and_then(Queued::server);
            let news = match queued {
                // Queues say themselves when the client waits for them;
                // the stack's news (a stream open, room in one) is theirs
                // to act on, not the client's. Once told the stack is up,
                // a client with queues hears only from them.
                Some(server) => {
                    let first = self.told & 1 << port == 0;
                    self.told |= 1 << port;
                    server.take_notification() | first
                }
                None => changed || node.waiting(port) > 0,
            };
            if news {
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

/// Hands the messages clients queued to their streams, in order, until
/// one must wait (its stream full or not open). True if any left a ring.
fn take_sends(
    node: &mut Node<'_>,
    queued: &mut [Option<Queued>; PORTS],
    scratch: &mut [u8; messages::MAX_LEN],
) -> bool {
    let mut any = false;
    for q in queued.iter_mut().flatten() {
        let port = q.port;
        let Some(server) = q.server() else { continue };
        let taken = server.take_sends(scratch, |to, body| match node.send(to, port, body) {
            Ok(seq) => Offer::Sent(seq),
            Err(SendError::NotConnected | SendError::Full) => Offer::Wait,
            Err(SendError::NoSuchNode) => Offer::Refuse(ErrorCode::NotFound),
            Err(SendError::Invalid) => Offer::Refuse(ErrorCode::TooLarge),
        });
        // A broken ring is the client's loss alone: its queues stop.
        any |= taken.unwrap_or(0) > 0;
    }
    any
}

/// Moves messages from the inboxes of clients with queues into their
/// receive buffers while both have some. True if any moved.
fn deliver(node: &mut Node<'_>, queued: &mut [Option<Queued>; PORTS]) -> bool {
    let mut any = false;
    for q in queued.iter_mut().flatten() {
        let port = q.port;
        let Some(server) = q.server() else { continue };
        // Bounded: an inbox holds INBOX messages.
        for _ in 0..worknode_net::limits::INBOX {
            if node.waiting(port) == 0 || !server.ready_to_deliver().unwrap_or(false) {
                break;
            }
            let delivered = node.receive(port, |m| server.deliver(m.from, m.seq, m.body));
            any |= delivered.is_some();
        }
    }
    any
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
                refused: s.runt
                    + s.oversized
                    + s.other_mac
                    + s.other_ip
                    + s.unknown_node
                    + s.bad_messages
                    + s.other_cluster,
            };
            (encode(&Ok(status), out), Served::Other)
        }
    }
}

impl Handler for Net {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        let from_queues = self.queued.iter().flatten().any(|q| channels.contains(q.channel));
        if channels.contains(DRIVER) || channels.contains(TIMER) || from_queues {
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
