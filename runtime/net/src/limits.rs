//! Every capacity of the network PD's logic, in one place.

/// Most nodes in a cluster (system.xml's `<?worknode-network nodes=?>`
/// may not exceed it).
pub const MAX_NODES: usize = 8;
/// Sockets: one outbound stream per peer, and one listener per peer.
pub const SOCKETS: usize = 2 * MAX_NODES;
/// Bytes of each socket's receive and transmit buffer: the most a stream
/// has in flight. 8 KiB held a stream to 3.9 MB/s in `make bench-net`
/// (aarch64), 32 KiB let it reach 5-5.7; the buffers take a MiB of the
/// network PD's static memory.
pub const SOCKET_BUFFER: usize = 32768;
/// Clients (ports) on a node: the governor, the Raft PD, test clients.
pub const PORTS: usize = 4;
/// Received messages held per port until the client takes them. When a
/// port's inbox is full, its streams are not read: TCP's window closes and
/// the sender waits (back-pressure, nothing dropped).
pub const INBOX: usize = 8;
/// Frames handled per poll in each direction; the rest wait for the next.
pub const BURST: usize = 64;
/// First delay before reconnecting a stream, in microseconds; it doubles
/// with each failure up to [`RECONNECT_MAX_US`].
pub const RECONNECT_MIN_US: u64 = 20_000;
/// How long a connection may wait for the peer's SYN-ACK before it is
/// started over (with the delays above): a SYN sent to a node still
/// booting is lost, and TCP's own retry comes after 1, 2, 4... seconds.
pub const CONNECT_TIMEOUT_US: u64 = 300_000;
/// Longest delay before reconnecting.
pub const RECONNECT_MAX_US: u64 = 1_000_000;
/// Keep-alive probes on idle streams: a peer that restarted answers one
/// with a reset, and the stream reopens. Streams have no user timeout: a
/// stream to a peer that vanished stays open until its buffer fills
/// ([`crate::SendError::Full`]), and the caller's own timeouts (Raft's)
/// decide what a silent peer means. Rejected: smoltcp's timeout, which
/// dropped idle streams on a lossy LAN although keep-alives were answered
/// (tests/lan.rs, seed 1, before this was removed).
pub const KEEP_ALIVE_MS: u64 = 500;

/// How often every peer's address is announced to the stack (µs): well
/// within the 60 s a smoltcp neighbour-cache entry lives, so the entries
/// of the cluster's nodes never expire.
pub const ANNOUNCE_US: u64 = 20_000_000;

const _: () = assert!(ANNOUNCE_US < 60_000_000 / 2, "an entry is renewed twice before it expires");
const _: () = assert!(
    worknode_netmsg::PREFIX + worknode_netmsg::MAX_MESSAGE <= SOCKET_BUFFER,
    "a frame fits a socket buffer"
);
const _: () = assert!(MAX_NODES <= 64, "node numbers are bits of a mask");
const _: () = assert!(RECONNECT_MIN_US <= RECONNECT_MAX_US);
