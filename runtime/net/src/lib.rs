//! The network PD's logic, sans IO: message streams between the nodes of
//! a cluster over smoltcp's TCP, generic over the frame device, so the
//! host tests drive exactly the code the PD runs (tests/lan.rs: several
//! nodes on a simulated LAN that drops, duplicates and reorders frames,
//! and restarts nodes).
//!
//! Streams: one TCP connection per ordered pair of nodes, opened by the
//! sender: node `a`'s messages to `b` travel on `a`'s connection to `b`'s
//! port `port + a`. Each node listens on one port per peer, so a segment
//! can only reach the one socket meant for it. Rejected alternative: one
//! port with a listening socket per peer, where smoltcp hands a
//! duplicated SYN to whichever listening socket comes first and a
//! half-open handshake gets reset (seen in tests/lan.rs under
//! duplication). Its first frame is a [`Kind::Hello`] naming the sender,
//! the sequence number of its next message and the sender's cluster
//! ([`Config::cluster`]); every later frame's number is one more. The
//! receiver checks, before using a message, that the connection comes
//! from a node of the cluster (its address), that the Hello names this
//! node's cluster, that the Hello and every message name that node and
//! this one, and the numbering. Any failure counts, and the connection is
//! reset: a stream that lied once is not read further.
//!
//! Reconnection: a stream that breaks (reset, timeout, the peer
//! restarted) is reopened after a delay that doubles from
//! [`limits::RECONNECT_MIN_US`] to [`limits::RECONNECT_MAX_US`]. Messages
//! the dead connection had not delivered are lost with it; a message is
//! delivered at most once, and within one connection exactly once and in
//! order (TCP's guarantee, which the tests check under loss, duplication
//! and reordering). Raft needs no more: it retransmits on its own.
//!
//! Neighbours: the cluster's addresses are configuration (node `k`'s MAC
//! and IPv4 address come from system.xml), so the stack is told them
//! instead of discovering them: [`Node::poll`] hands it an ARP reply from
//! every peer at start and every [`limits::ANNOUNCE_US`] after, well
//! within the 60 s an entry of smoltcp's neighbour cache lives. Rejected:
//! ARP alone. smoltcp sends one ARP request a second for all addresses
//! together, and a node restarted while a peer was cut off can keep
//! asking for that peer and not for the live one: the two live nodes
//! then stay apart until the live one's entry for the restarted one
//! expires, a minute later (seen in `make test-cluster`: a minute without
//! a leader after a partition). smoltcp has no call to fill its cache,
//! hence the replies. A forged ARP aimed at a node can still replace an
//! entry until the next announcement.
//!
//! Back-pressure: [`Node::send`] refuses a message the stream's buffer
//! cannot take whole ([`SendError::Full`]); a port's full inbox stops the
//! reading of the streams that carry its messages.

#![no_std]
#![forbid(unsafe_code)]

mod inbox;
pub mod limits;
pub mod probe;

pub use inbox::{Inbox, Message};

use heapless::Vec;
use limits::{
    ANNOUNCE_US, BURST, CONNECT_TIMEOUT_US, KEEP_ALIVE_MS, MAX_NODES, PORTS, RECONNECT_MAX_US,
    RECONNECT_MIN_US, SOCKET_BUFFER, SOCKETS,
};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, RxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use worknode_netmsg::{Bytes, Deframer, Envelope, Kind, MAX_BODY, MAX_MESSAGE, PREFIX, VERSION};

/// This node's place in the cluster's network (from system.xml's
/// `<?worknode-network?>`, plus the node number its MAC gives).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's number.
    pub me: u8,
    /// Nodes in the cluster: numbers `0..nodes`.
    pub nodes: u8,
    /// The subnet's base address and prefix length; node `k` is
    /// `subnet + 1 + k`.
    pub subnet: [u8; 4],
    /// The subnet's prefix length.
    pub prefix_len: u8,
    /// The streams' TCP port.
    pub port: u16,
    /// Node `k`'s MAC is this prefix, then `k`.
    pub mac_prefix: [u8; 5],
    /// The cluster's identity: a stream whose Hello names another is
    /// refused.
    pub cluster: u64,
}

impl Config {
    /// Node `k`'s IPv4 address.
    pub fn address(&self, k: u8) -> Ipv4Address {
        let base = u32::from_be_bytes(self.subnet);
        Ipv4Address::from_octets((base + 1 + u32::from(k)).to_be_bytes())
    }

    /// Node `k`'s MAC address.
    pub fn mac(&self, k: u8) -> [u8; 6] {
        let p = self.mac_prefix;
        [p[0], p[1], p[2], p[3], p[4], k]
    }

    /// The node with address `ip`, if it is one of the cluster's.
    pub fn node_of(&self, ip: Ipv4Address) -> Option<u8> {
        let offset = u32::from_be_bytes(ip.octets()).checked_sub(u32::from_be_bytes(self.subnet) + 1)?;
        u8::try_from(offset).ok().filter(|&k| k < self.nodes)
    }

    /// The node number a MAC address names, if it has the cluster's
    /// prefix and names a node of it.
    pub fn node_of_mac(&self, mac: [u8; 6]) -> Option<u8> {
        (mac[..5] == self.mac_prefix && mac[5] < self.nodes).then_some(mac[5])
    }
}

/// What the pre-filter makes of a received frame, before smoltcp sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// For this node: hand it to the stack.
    Accept,
    /// Shorter than an Ethernet header.
    Runt,
    /// Longer than 1514 bytes.
    Oversized,
    /// For another MAC address (not broadcast, not ours).
    OtherMac,
    /// IPv4 for another address.
    OtherIp,
}

/// Classifies a received frame. Only the frame's bytes are read, and
/// they were copied out of shared memory before this is called.
pub fn classify(frame: &[u8], mac: [u8; 6], ip: Ipv4Address) -> Frame {
    if frame.len() < 14 {
        return Frame::Runt;
    }
    if frame.len() > 1514 {
        return Frame::Oversized;
    }
    let dst = &frame[..6];
    if dst != mac && dst != [0xff; 6] {
        return Frame::OtherMac;
    }
    // IPv4: destination address at bytes 16..20 of the IP header.
    if frame[12..14] == [0x08, 0x00] && frame.len() >= 34 && frame[30..34] != ip.octets() && dst != [0xff; 6]
    {
        return Frame::OtherIp;
    }
    Frame::Accept
}

/// Counters, for the status call and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages queued on a stream.
    pub sent: u64,
    /// Messages delivered to an inbox.
    pub delivered: u64,
    /// Streams opened and greeted (the first of each peer included).
    pub connects: u64,
    /// Greeted streams that broke.
    pub disconnects: u64,
    /// Connections refused: from an address outside the cluster.
    pub unknown_node: u64,
    /// Streams reset for a bad frame, envelope, version, sender or
    /// sequence number.
    pub bad_messages: u64,
    /// Streams reset because their Hello named another cluster.
    pub other_cluster: u64,
    /// Frames the pre-filter dropped ([`classify`]): too short,
    pub runt: u64,
    /// too long,
    pub oversized: u64,
    /// for another MAC address,
    pub other_mac: u64,
    /// for another IPv4 address.
    pub other_ip: u64,
}

/// Why a stream was reset while reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// A bad frame, envelope, version, sender or sequence number.
    Bad,
    /// A Hello naming another cluster.
    OtherCluster,
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// No such node, or this node.
    NoSuchNode,
    /// No such port, or a body above [`MAX_BODY`].
    Invalid,
    /// The stream to that node is not open yet (or is reopening).
    NotConnected,
    /// The stream's buffer cannot take the message now: try again after
    /// the next poll.
    Full,
}

/// The buffers the sockets use, allocated once (a PD places it in
/// static memory; see pds/net).
pub struct Storage {
    rx: [[u8; SOCKET_BUFFER]; SOCKETS],
    tx: [[u8; SOCKET_BUFFER]; SOCKETS],
    sockets: [SocketStorage<'static>; SOCKETS],
}

impl Storage {
    /// Zeroed buffers.
    pub const fn new() -> Storage {
        const EMPTY: SocketStorage<'static> = SocketStorage::EMPTY;
        Storage {
            rx: [[0; SOCKET_BUFFER]; SOCKETS],
            tx: [[0; SOCKET_BUFFER]; SOCKETS],
            sockets: [EMPTY; SOCKETS],
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage::new()
    }
}

/// The stream to one peer.
#[derive(Clone, Copy, Debug)]
enum Out {
    /// Closed; reconnect at this time (µs).
    Waiting { retry_at: u64 },
    /// SYN sent (at `since`, µs) or established; `hello` once the Hello
    /// is in the buffer.
    Open { hello: bool, since: u64 },
}

#[derive(Debug)]
struct Outbound {
    handle: SocketHandle,
    state: Out,
    /// The sequence number of the next message.
    next_seq: u64,
    /// Consecutive failed connections, for the backoff.
    failures: u32,
}

#[derive(Debug)]
struct Inbound {
    handle: SocketHandle,
    /// The node the connection comes from, once established and checked.
    peer: Option<u8>,
    deframer: Deframer,
    /// The sequence number the next message must have (after the Hello).
    expected: Option<u64>,
}

/// A node's message streams.
pub struct Node<'a> {
    iface: Interface,
    sockets: SocketSet<'a>,
    config: Config,
    out: Vec<Outbound, MAX_NODES>,
    /// Indexed by peer: the stream from node `k` arrives on `port + k`.
    inbound: Vec<Inbound, MAX_NODES>,
    inbox: [Inbox; PORTS],
    /// Local ports for outbound connections: a new one per connection,
    /// so a reopened stream is never taken for the old one.
    next_local_port: u16,
    /// The stream [`Node::read_streams`] reads first: the one after the
    /// last one read.
    read_from: usize,
    stats: Stats,
    /// Where a message is framed before it goes into its stream's
    /// buffer, kept rather than cleared on every send.
    frame: [u8; PREFIX + MAX_MESSAGE],
    /// When the peers' addresses are next announced to the stack (µs).
    announce_at: u64,
}

/// Local ports of outbound streams (the IANA dynamic range, short of its end).
const LOCAL_PORTS: core::ops::Range<u16> = 49152..65000;

impl Node<'static> {
    /// A node with every stream closed, due to connect at once. `seed`
    /// must differ between boots (TCP's initial sequence numbers and local
    /// ports come from it). The storage lives as long as the node: a PD
    /// places it in static memory, a test leaks it.
    pub fn new<D: Device>(
        config: Config,
        storage: &'static mut Storage,
        device: &mut D,
        now_us: u64,
        seed: u64,
    ) -> Node<'static> {
        assert!(
            usize::from(config.nodes) <= MAX_NODES && config.me < config.nodes,
            "node {} of {}",
            config.me,
            config.nodes
        );
        let mac = EthernetAddress(config.mac(config.me));
        let mut iface_config = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        iface_config.random_seed = seed;
        let now = Instant::from_micros(now_us as i64);
        let mut iface = Interface::new(iface_config, device, now);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(config.address(config.me)), config.prefix_len))
                .expect("one address");
        });
        let mut sockets = SocketSet::new(&mut storage.sockets[..]);
        let mut buffers = storage.rx.iter_mut().zip(storage.tx.iter_mut());
        let mut socket = || {
            let (rx, tx) = buffers.next().expect("SOCKETS buffers");
            let mut s =
                tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
            s.set_nagle_enabled(false);
            // Acknowledge at once: Raft waits on each message, and a
            // delayed ACK (smoltcp's default, 10 ms) holds up a sender
            // whose window is full that long. Throughput hardly moves
            // either way (`make bench-net`, aarch64: 3.8 MB/s, 3.6 with
            // the delay).
            s.set_ack_delay(None);
            s.set_keep_alive(Some(Duration::from_millis(KEEP_ALIVE_MS)));
            sockets.add(s)
        };
        let mut out = Vec::new();
        for _ in 0..config.nodes {
            let handle = socket();
            out.push(Outbound { handle, state: Out::Waiting { retry_at: now_us }, next_seq: 0, failures: 0 })
                .expect("nodes <= MAX_NODES");
        }
        let mut inbound = Vec::new();
        for _ in 0..config.nodes {
            let handle = socket();
            inbound
                .push(Inbound { handle, peer: None, deframer: Deframer::new(), expected: None })
                .expect("nodes + 1");
        }
        let span = LOCAL_PORTS.end - LOCAL_PORTS.start;
        let next_local_port = LOCAL_PORTS.start + (seed % u64::from(span)) as u16;
        let mut node = Node {
            iface,
            sockets,
            config,
            out,
            inbound,
            inbox: core::array::from_fn(|_| Inbox::new()),
            next_local_port,
            read_from: 0,
            stats: Stats::default(),
            frame: [0; PREFIX + MAX_MESSAGE],
            announce_at: now_us,
        };
        for i in 0..node.inbound.len() {
            node.relisten(i);
        }
        node
    }
}

impl Node<'_> {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// This node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bit `k` set when the stream to node `k` is open and greeted.
    pub fn connected(&self) -> u64 {
        self.out.iter().enumerate().fold(0, |mask, (k, o)| match o.state {
            Out::Open { hello: true, .. } if self.sockets.get::<tcp::Socket>(o.handle).may_send() => {
                mask | 1 << k
            }
            _ => mask,
        })
    }

    /// Counts a frame the pre-filter dropped.
    pub fn count_dropped(&mut self, verdict: Frame) {
        match verdict {
            Frame::Accept => {}
            Frame::Runt => self.stats.runt += 1,
            Frame::Oversized => self.stats.oversized += 1,
            Frame::OtherMac => self.stats.other_mac += 1,
            Frame::OtherIp => self.stats.other_ip += 1,
        }
    }

    fn relisten(&mut self, i: usize) {
        let slot = &mut self.inbound[i];
        let socket = self.sockets.get_mut::<tcp::Socket>(slot.handle);
        socket.abort();
        slot.peer = None;
        slot.deframer = Deframer::new();
        slot.expected = None;
        // A closed socket always accepts `listen`; the port is non-zero.
        socket.listen(self.config.port + i as u16).expect("a closed socket listens");
    }

    /// Queues `body` for `port` on node `to`. The whole message goes into
    /// the stream's buffer or nothing does.
    pub fn send(&mut self, to: u8, port: u8, body: &[u8]) -> Result<u64, SendError> {
        if to == self.config.me || to >= self.config.nodes {
            return Err(SendError::NoSuchNode);
        }
        if usize::from(port) >= PORTS || body.len() > MAX_BODY {
            return Err(SendError::Invalid);
        }
        let out = &mut self.out[usize::from(to)];
        let socket = self.sockets.get_mut::<tcp::Socket>(out.handle);
        if !matches!(out.state, Out::Open { hello: true, .. }) || !socket.may_send() {
            return Err(SendError::NotConnected);
        }
        let envelope = Envelope {
            version: VERSION,
            kind: Kind::Data,
            from: self.config.me,
            to,
            port,
            seq: out.next_seq,
            body: Bytes::new(body).map_err(|_| SendError::Invalid)?,
        };
        // Framed straight into the stream's buffer where its free space
        // runs on long enough (all of it or none is written: a frame is
        // never split); where the space wraps, framed aside and copied.
        let direct = socket
            .send(|room| match worknode_netmsg::encode(&envelope, room) {
                Ok(len) => (len, true),
                Err(_) => (0, false),
            })
            .map_err(|_| SendError::NotConnected)?;
        if !direct {
            let frame = &mut self.frame;
            let len = worknode_netmsg::encode(&envelope, frame).map_err(|_| SendError::Invalid)?;
            if socket.send_capacity() - socket.send_queue() < len {
                return Err(SendError::Full);
            }
            let written = socket.send_slice(&frame[..len]).map_err(|_| SendError::NotConnected)?;
            assert_eq!(written, len, "room was checked: a frame is never split");
        }
        out.next_seq += 1;
        self.stats.sent += 1;
        Ok(envelope.seq)
    }

    /// The sequence number the next message to `to` will have.
    pub fn next_seq(&self, to: u8) -> Option<u64> {
        self.out.get(usize::from(to)).map(|o| o.next_seq)
    }

    /// Bytes of the stream to `to` that the peer has not acknowledged yet
    /// (sent or still waiting to be); 0 for no such stream.
    pub fn unacknowledged(&self, to: u8) -> usize {
        self.out.get(usize::from(to)).map_or(0, |o| self.sockets.get::<tcp::Socket>(o.handle).send_queue())
    }

    /// Takes the oldest message for `port`, if any, handing it to `take`
    /// where it lies (the client copies out what it keeps).
    pub fn receive<R>(&mut self, port: u8, take: impl FnOnce(Message<'_>) -> R) -> Option<R> {
        let inbox = self.inbox.get_mut(usize::from(port))?;
        let taken = take(inbox.front()?);
        inbox.pop();
        Some(taken)
    }

    /// Messages waiting for `port`.
    pub fn waiting(&self, port: u8) -> usize {
        self.inbox.get(usize::from(port)).map_or(0, Inbox::len)
    }

    /// Runs the stack: frames in and out (at most [`BURST`] each way),
    /// timers, connection upkeep, and reading of the streams. Returns
    /// whether anything happened that a client may care about (a message
    /// arrived, a stream opened or closed, buffer room appeared).
    pub fn poll<D: Device>(&mut self, now_us: u64, device: &mut D) -> bool {
        let now = Instant::from_micros(now_us as i64);
        self.iface.poll_maintenance(now);
        if now_us >= self.announce_at {
            self.announce(now, device);
            self.announce_at = now_us + ANNOUNCE_US;
        }
        let mut moved = false;
        for _ in 0..BURST {
            if self.iface.poll_ingress_single(now, device, &mut self.sockets)
                == smoltcp::iface::PollIngressSingleResult::None
            {
                break;
            }
            moved = true;
        }
        let before = (self.stats, self.connected());
        self.upkeep(now_us);
        self.read_streams();
        for _ in 0..BURST {
            if self.iface.poll_egress(now, device, &mut self.sockets) == smoltcp::iface::PollResult::None {
                break;
            }
        }
        // A frame in may have acknowledged data (room to send) or carried
        // a message; anything else that matters changes the counters.
        moved || before != (self.stats, self.connected())
    }

    /// Tells the stack every peer's MAC, as an ARP reply from the peer
    /// (see the module documentation). A reply the device has no transmit
    /// slot for (the stack asks for one with every frame it takes) waits
    /// for the next announcement, its entry alive from the last one.
    fn announce<D: Device>(&mut self, now: Instant, device: &mut D) {
        let config = self.config;
        for k in (0..config.nodes).filter(|&k| k != config.me) {
            let mut announced = Announced { frame: Some(arp_reply(&config, k)), device: &mut *device };
            let _ = self.iface.poll_ingress_single(now, &mut announced, &mut self.sockets);
        }
    }

    /// When to poll next at the latest (µs), for the one-shot timeout.
    pub fn next_poll_us(&mut self, now_us: u64) -> u64 {
        let now = Instant::from_micros(now_us as i64);
        let stack = self.iface.poll_delay(now, &self.sockets).map_or(u64::MAX, |d| now_us + d.total_micros());
        // This node's own slot is never opened: its `retry_at` stays in
        // the past, and counting it made every wake-up immediate (the
        // network PD polled without pause, starving every PD below it).
        let me = usize::from(self.config.me);
        let retry = self
            .out
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != me)
            .filter_map(|(_, o)| match o.state {
                Out::Waiting { retry_at } => Some(retry_at),
                Out::Open { .. } => None,
            })
            .min()
            .unwrap_or(u64::MAX);
        stack.min(retry).min(self.announce_at).max(now_us)
    }

    /// Opens, greets and reopens outbound streams; accepts inbound ones.
    fn upkeep(&mut self, now_us: u64) {
        for k in 0..self.out.len() {
            if k == usize::from(self.config.me) {
                continue;
            }
            let peer = self.config.address(k as u8);
            let out = &mut self.out[k];
            let socket = self.sockets.get_mut::<tcp::Socket>(out.handle);
            match out.state {
                Out::Waiting { retry_at } if now_us >= retry_at => {
                    let local = self.next_local_port;
                    self.next_local_port =
                        if local + 1 >= LOCAL_PORTS.end { LOCAL_PORTS.start } else { local + 1 };
                    socket.abort();
                    let port = self.config.port + u16::from(self.config.me);
                    match socket.connect(self.iface.context(), (peer, port), local) {
                        Ok(()) => out.state = Out::Open { hello: false, since: now_us },
                        Err(_) => out.state = Out::Waiting { retry_at: now_us + RECONNECT_MAX_US },
                    }
                }
                Out::Waiting { .. } => {}
                Out::Open { hello, since } => {
                    use tcp::State;
                    match socket.state() {
                        // A SYN to a node that is not up yet is lost, and
                        // smoltcp would retry it after 1, 2, 4... seconds:
                        // start over on our own, shorter, backoff instead.
                        State::SynSent if now_us.saturating_sub(since) > CONNECT_TIMEOUT_US => {
                            socket.abort();
                            let backoff = (RECONNECT_MIN_US << out.failures.min(16)).min(RECONNECT_MAX_US);
                            out.failures = out.failures.saturating_add(1);
                            out.state = Out::Waiting { retry_at: now_us + backoff };
                        }
                        State::SynSent | State::SynReceived => {}
                        State::Established if !hello => {
                            let cluster = worknode_netmsg::hello_body(self.config.cluster);
                            let hello = Envelope {
                                version: VERSION,
                                kind: Kind::Hello,
                                from: self.config.me,
                                to: k as u8,
                                port: 0,
                                seq: out.next_seq,
                                body: Bytes::new(&cluster).expect("8 bytes fit a body"),
                            };
                            let mut frame = [0u8; 32];
                            let len =
                                worknode_netmsg::encode(&hello, &mut frame).expect("a Hello fits 32 bytes");
                            // A new connection's buffer is empty.
                            let written = socket.send_slice(&frame[..len]).unwrap_or(0);
                            assert_eq!(written, len, "a Hello fits an empty buffer");
                            out.state = Out::Open { hello: true, since };
                            out.failures = 0;
                            self.stats.connects += 1;
                        }
                        State::Established => {}
                        _ => {
                            // Reset, timed out, or closed by the peer: try
                            // again after the backoff.
                            if hello {
                                self.stats.disconnects += 1;
                            }
                            socket.abort();
                            let backoff = (RECONNECT_MIN_US << out.failures.min(16)).min(RECONNECT_MAX_US);
                            out.failures = out.failures.saturating_add(1);
                            out.state = Out::Waiting { retry_at: now_us + backoff };
                        }
                    }
                }
            }
        }
        for i in 0..self.inbound.len() {
            let slot = &self.inbound[i];
            let socket = self.sockets.get::<tcp::Socket>(slot.handle);
            use tcp::State;
            // Only node i may connect to port + i.
            let from = socket.remote_endpoint().and_then(|e| match e.addr {
                IpAddress::Ipv4(ip) => self.config.node_of(ip),
            });
            let rightful = from == Some(i as u8) && i != usize::from(self.config.me);
            match (socket.state(), slot.peer) {
                (State::Listen, _) => {}
                // Checked at the SYN: a stranger's half-open handshake
                // would otherwise hold the port (smoltcp waits in
                // SYN-RECEIVED as long as the stranger keeps quiet).
                (State::SynReceived, _) if rightful => {}
                (State::SynReceived, _) => {
                    self.stats.unknown_node += 1;
                    self.relisten(i);
                }
                (State::Established | State::CloseWait, Some(_)) => {}
                (State::Established, None) if rightful => self.inbound[i].peer = Some(i as u8),
                (State::Established, None) => {
                    self.stats.unknown_node += 1;
                    self.relisten(i);
                }
                _ => self.relisten(i),
            }
        }
    }

    /// Takes whole messages out of the inbound streams into the inboxes,
    /// one message per stream per pass, round robin: the stream after the
    /// last one read goes first, so a busy stream cannot keep a port's
    /// inbox to itself while another stream to the same port waits.
    /// (Starting every pass with stream 0 let the lowest-numbered peer take
    /// every place a slow client freed: one stream ran a round ahead of its
    /// siblings in `make test-net`; tests/lan.rs,
    /// `streams_into_one_slow_client_share_it`.)
    fn read_streams(&mut self) {
        let streams = self.inbound.len();
        // Bounded: BURST passes, each taking at most one frame per stream.
        for _ in 0..BURST {
            let mut progress = false;
            let start = self.read_from;
            for i in (0..streams).map(|k| (start + k) % streams) {
                if self.inbound[i].peer.is_none() {
                    continue;
                }
                match self.next_frame(i) {
                    Ok(true) => {
                        progress = true;
                        // Round robin: the next stream goes first next.
                        self.read_from = (i + 1) % streams;
                    }
                    Ok(false) => {}
                    Err(refused) => {
                        match refused {
                            Refused::Bad => self.stats.bad_messages += 1,
                            Refused::OtherCluster => self.stats.other_cluster += 1,
                        }
                        self.relisten(i);
                    }
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// Reads stream `i` until a frame is whole, then checks and delivers
    /// it. `Ok(false)`: nothing more now (no bytes, or the inbox is full);
    /// `Err`: the stream broke its rules.
    fn next_frame(&mut self, i: usize) -> Result<bool, Refused> {
        let slot = &mut self.inbound[i];
        let peer = slot.peer.expect("read only once checked");
        let socket = self.sockets.get_mut::<tcp::Socket>(slot.handle);
        // Straight from the socket's buffer into the deframer (a bounce
        // buffer cost a 2 KiB clear per call). Bounded: the prefix, then
        // the rest of the frame, each perhaps in two pieces where the
        // socket's ring wraps.
        for _ in 0..4 {
            if slot.deframer.wants() == 0 || !socket.can_recv() {
                break;
            }
            let deframer = &mut slot.deframer;
            socket
                .recv(|bytes| {
                    let taken = deframer.push(bytes);
                    (taken, ())
                })
                .map_err(|_| Refused::Bad)?;
        }
        let Some(frame) = slot.deframer.frame() else { return Ok(false) };
        let envelope = worknode_netmsg::decode(frame.map_err(|_| Refused::Bad)?).map_err(|_| Refused::Bad)?;
        if envelope.from != peer || envelope.to != self.config.me {
            return Err(Refused::Bad);
        }
        match (envelope.kind, slot.expected) {
            (Kind::Hello, None) => {
                if worknode_netmsg::cluster_of_hello(&envelope.body) != Some(self.config.cluster) {
                    return Err(Refused::OtherCluster);
                }
                slot.expected = Some(envelope.seq);
            }
            (Kind::Data, Some(expected)) if envelope.seq == expected => {
                let Some(inbox) = self.inbox.get_mut(usize::from(envelope.port)) else {
                    return Err(Refused::Bad);
                };
                if inbox.is_full() {
                    // Leave the frame in the deframer: read again later.
                    return Ok(false);
                }
                inbox.push(envelope.from, envelope.seq, &envelope.body).expect("checked not full");
                slot.expected = Some(expected + 1);
                self.stats.delivered += 1;
            }
            _ => return Err(Refused::Bad),
        }
        slot.deframer.consume();
        Ok(true)
    }
}

/// Bytes of an Ethernet frame carrying an ARP packet for IPv4.
const ARP_FRAME: usize = 42;

/// The ARP reply node `from` would send this node: its MAC and address.
fn arp_reply(config: &Config, from: u8) -> [u8; ARP_FRAME] {
    let (mine, theirs) = (config.mac(config.me), config.mac(from));
    let mut f = [0u8; ARP_FRAME];
    f[0..6].copy_from_slice(&mine);
    f[6..12].copy_from_slice(&theirs);
    f[12..14].copy_from_slice(&[0x08, 0x06]); // ARP
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]); // Ethernet, IPv4, a reply
    f[22..28].copy_from_slice(&theirs);
    f[28..32].copy_from_slice(&config.address(from).octets());
    f[32..38].copy_from_slice(&mine);
    f[38..42].copy_from_slice(&config.address(config.me).octets());
    f
}

/// The device, with one frame to hand the stack as received before its
/// own: how [`Node::announce`] feeds it a peer's ARP reply.
struct Announced<'d, D: Device> {
    frame: Option<[u8; ARP_FRAME]>,
    device: &'d mut D,
}

/// The frame an [`Announced`] device hands over.
struct AnnouncedFrame([u8; ARP_FRAME]);

impl RxToken for AnnouncedFrame {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl<D: Device> Device for Announced<'_, D> {
    type RxToken<'a>
        = AnnouncedFrame
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(AnnouncedFrame, D::TxToken<'_>)> {
        let frame = self.frame.take()?;
        Some((AnnouncedFrame(frame), self.device.transmit(now)?))
    }

    fn transmit(&mut self, now: Instant) -> Option<D::TxToken<'_>> {
        self.device.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities()
    }
}
