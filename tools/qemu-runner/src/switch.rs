//! The virtual LAN: an Ethernet switch in the runner that joins the NICs
//! of several QEMU nodes, and the faults a test orders on it.
//!
//! Each node's QEMU sends its frames as datagrams to the switch's socket
//! for that node (`-netdev dgram` over Unix sockets, QEMU 7.2), and
//! receives from it. The switch forwards by destination MAC: a node's MAC
//! is the cluster's prefix and its number (system.xml's
//! `<?worknode-network?>`), so no learning is needed; broadcast and
//! multicast go to every other node; anything else is counted and dropped.
//!
//! Faults, per frame and destination, by command from the test:
//! dropping, duplicating, delaying and reordering (an extra random delay
//! for some frames), cutting a link in one direction, and injecting
//! garbage frames (runt, oversized, for another MAC or address, random
//! bytes, and a stranger's SYN to a stream port, from an address outside
//! the cluster: `worknode_net::probe`) towards every node, and forging
//! bad messages into the streams between nodes ([`Switch::forge`]).
//! Deterministic per seed, up to the host's thread timing.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::net::Ipv4Addr;

use worknode_net::probe;
use worknode_sysdesc::model::Network;

/// What the switch does to frames, set by the test.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Percent of frames dropped, per destination.
    pub drop: u32,
    /// Percent of frames delivered twice.
    pub duplicate: u32,
    /// Percent of frames held back 1 to 5 ms, so later ones pass them.
    pub reorder: u32,
    /// Links cut: (from, to) node pairs whose frames are dropped.
    pub cut: BTreeSet<(usize, usize)>,
    /// Inject garbage frames towards every node every 10 ms.
    pub garbage: bool,
}

/// What the switch counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Frames received from nodes.
    pub frames: u64,
    /// Frames dropped by order (loss, cut links).
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames held back to reorder them.
    pub reordered: u64,
    /// Frames for no node of the LAN.
    pub unknown: u64,
    /// Garbage frames injected.
    pub garbage: u64,
    /// Bad messages forged into streams.
    pub forged: u64,
}

/// Frames waiting for their delivery time: (due, tie-break) -> (to, frame).
type Pending = BTreeMap<(Instant, u64), (usize, Vec<u8>)>;

struct Shared {
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    pending: Mutex<Pending>,
    wake: Condvar,
    stop: AtomicBool,
    ports: Vec<UnixDatagram>,
    nodes: Vec<PathBuf>,
    mac_prefix: [u8; 5],
    /// The nodes' subnet and stream port, for the stranger's SYN.
    subnet: [u8; 4],
    port: u16,
    random: Mutex<u64>,
    /// The last segment each stream's receiving end sent its sender, by
    /// (receiver, sender): what a forger on the wire needs.
    acks: Mutex<BTreeMap<(usize, usize), Vec<u8>>>,
}

/// The switch; dropping it stops its threads.
pub struct Switch {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    dir: PathBuf,
}

impl Shared {
    fn chance(&self, percent: u32) -> bool {
        percent > 0 && self.next() % 100 < u64::from(percent)
    }

    fn next(&self) -> u64 {
        let mut x = self.random.lock().expect("no panics while held");
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn schedule(&self, due: Instant, to: usize, frame: Vec<u8>) {
        let mut pending = self.pending.lock().expect("no panics while held");
        let seq = pending.len() as u64 ^ self.next();
        pending.insert((due, seq), (to, frame));
        self.wake.notify_one();
    }

    /// Forwards one frame from node `from`.
    fn forward(&self, from: usize, frame: &[u8]) {
        self.stats.lock().expect("no panics while held").frames += 1;
        self.note_ack(from, frame);
        let dst = frame.get(..6).unwrap_or(&[]);
        let targets: Vec<usize> = if dst.len() == 6 && dst[0] & 1 == 1 {
            (0..self.nodes.len()).filter(|&k| k != from).collect()
        } else if dst.len() == 6 && dst[..5] == self.mac_prefix && usize::from(dst[5]) < self.nodes.len() {
            vec![usize::from(dst[5])]
        } else {
            self.stats.lock().expect("no panics while held").unknown += 1;
            return;
        };
        let faults = self.faults.lock().expect("no panics while held").clone();
        let now = Instant::now();
        for to in targets {
            if faults.cut.contains(&(from, to)) || self.chance(faults.drop) {
                self.stats.lock().expect("no panics while held").dropped += 1;
                continue;
            }
            let mut due = now;
            if self.chance(faults.reorder) {
                due += Duration::from_micros(1000 + self.next() % 4000);
                self.stats.lock().expect("no panics while held").reordered += 1;
            }
            if self.chance(faults.duplicate) {
                self.stats.lock().expect("no panics while held").duplicated += 1;
                self.schedule(due + Duration::from_micros(200), to, frame.to_vec());
            }
            self.schedule(due, to, frame.to_vec());
        }
    }

    /// Keeps `frame` if it is a segment from node `from`'s stream port for
    /// another node of the LAN (port + that node's number): the receiving
    /// end of that node's stream, acknowledging what it has.
    fn note_ack(&self, from: usize, frame: &[u8]) {
        // Ethernet, IPv4 with a 20-byte header, TCP: the ports follow.
        let tcp = frame.len() >= 54 && frame[12..14] == [8, 0] && frame[14] == 0x45 && frame[23] == 6;
        if !tcp || frame[..5] != self.mac_prefix {
            return;
        }
        let sender = usize::from(frame[5]);
        let port = u16::from_be_bytes([frame[34], frame[35]]);
        if sender < self.nodes.len() && sender != from && usize::from(port.wrapping_sub(self.port)) == sender
        {
            self.acks.lock().expect("no panics while held").insert((from, sender), frame.to_vec());
        }
    }

    fn deliver(&self, to: usize, frame: &[u8]) {
        // A node that is down (killed, restarting) has no socket: the frame
        // is lost, as on a real wire.
        let _ = self.ports[to].send_to(frame, &self.nodes[to]);
    }

    /// Garbage for node `to`: each kind in turn.
    fn garbage(&self, to: usize, kind: u64) -> Vec<u8> {
        let mac = [
            self.mac_prefix[0],
            self.mac_prefix[1],
            self.mac_prefix[2],
            self.mac_prefix[3],
            self.mac_prefix[4],
            to as u8,
        ];
        let mut frame: Vec<u8> = (0..60).map(|_| self.next() as u8).collect();
        match kind % 6 {
            5 => {
                // A stranger (an address outside the cluster) opens a
                // connection to one of the node's stream ports.
                let base = u32::from_be_bytes(self.subnet);
                let ip = |k: u32| Ipv4Addr::from(base + 1 + k);
                let mut stranger_mac = mac;
                stranger_mac[5] = 200;
                let peer = (self.next() % self.nodes.len() as u64) as u16;
                let stranger = (stranger_mac, ip(200), 40_000 + (self.next() % 1000) as u16);
                let port = (mac, ip(to as u32), self.port + peer);
                return probe::syn(stranger, port, self.next() as u32).to_vec();
            }
            0 => frame.truncate(9),                                        // runt
            1 => frame.resize(1600, 0xAA),                                 // oversized
            2 => frame[..6].copy_from_slice(&[0x02, 0, 0, 0, 0x77, 0x77]), // another MAC (the NIC may filter it)
            3 => {
                // IPv4 for another address, to our MAC.
                frame[..6].copy_from_slice(&mac);
                frame[12..14].copy_from_slice(&[0x08, 0x00]);
                frame[14] = 0x45;
                frame[30..34].copy_from_slice(&[10, 0, 0, 200]);
            }
            _ => frame[..6].copy_from_slice(&mac), // random bytes to our MAC
        }
        frame
    }
}

impl Switch {
    /// A switch for `nodes` nodes with sockets in `dir`; frames to node `k`
    /// go to `dir/node-k.sock`, which that node's QEMU binds.
    pub fn start(dir: &Path, nodes: usize, network: &Network, seed: u64) -> Result<Switch, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut ports = Vec::new();
        let mut node_paths = Vec::new();
        for k in 0..nodes {
            let path = dir.join(format!("switch-{k}.sock"));
            let _ = std::fs::remove_file(&path);
            let socket =
                UnixDatagram::bind(&path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
            socket.set_read_timeout(Some(Duration::from_millis(50))).map_err(|e| e.to_string())?;
            ports.push(socket);
            node_paths.push(dir.join(format!("node-{k}.sock")));
        }
        let shared = Arc::new(Shared {
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
            pending: Mutex::new(BTreeMap::new()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            ports,
            nodes: node_paths,
            mac_prefix: network.mac_prefix,
            subnet: network.subnet,
            port: network.port,
            random: Mutex::new(seed | 1),
            acks: Mutex::new(BTreeMap::new()),
        });
        let mut threads = Vec::new();
        for k in 0..nodes {
            let s = Arc::clone(&shared);
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !s.stop.load(Ordering::Relaxed) {
                    if let Ok(n) = s.ports[k].recv(&mut buf) {
                        s.forward(k, &buf[..n]);
                    }
                }
            }));
        }
        let s = Arc::clone(&shared);
        threads.push(std::thread::spawn(move || {
            let mut next_garbage = Instant::now();
            let mut kind = 0u64;
            while !s.stop.load(Ordering::Relaxed) {
                let mut pending = s.pending.lock().expect("no panics while held");
                let now = Instant::now();
                let due: Vec<(usize, Vec<u8>)> = {
                    let later = pending.split_off(&(now, u64::MAX));
                    std::mem::replace(&mut *pending, later).into_values().collect()
                };
                let wait = pending
                    .keys()
                    .next()
                    .map_or(Duration::from_millis(10), |(t, _)| t.saturating_duration_since(now));
                if due.is_empty() {
                    let _ = s.wake.wait_timeout(pending, wait.min(Duration::from_millis(10)));
                } else {
                    drop(pending);
                    for (to, frame) in due {
                        s.deliver(to, &frame);
                    }
                }
                if s.faults.lock().expect("no panics while held").garbage && Instant::now() >= next_garbage {
                    next_garbage = Instant::now() + Duration::from_millis(10);
                    // Every node gets every kind in turn (a kind per
                    // node in turn would give each node only some kinds
                    // when the kinds are a multiple of the nodes).
                    for to in 0..s.nodes.len() {
                        let frame = s.garbage(to, kind);
                        s.deliver(to, &frame);
                        s.stats.lock().expect("no panics while held").garbage += 1;
                    }
                    kind += 1;
                }
            }
        }));
        Ok(Switch { shared, threads, dir: dir.to_path_buf() })
    }

    /// Writes a bad message into every stream between nodes seen so far,
    /// in its sender's name, at the place its receiver expects next
    /// (`worknode_net::probe::forge_into_stream`): of another version on
    /// one stream, naming a node that is not the stream's on the next, and
    /// so on. The streams must be idle (a real segment would take that
    /// place first). Returns how many streams got one.
    pub fn forge(&self) -> usize {
        let acks = self.shared.acks.lock().expect("no panics while held").clone();
        for (i, (&(receiver, sender), seen)) in acks.iter().enumerate() {
            let bad = if i % 2 == 0 { probe::Bad::Version } else { probe::Bad::Sender };
            let (payload, len) = probe::bad_message(bad, sender as u8, receiver as u8, 0);
            let mut frame = [0u8; probe::FORGED_LEN];
            if let Some(n) = probe::forge_into_stream(seen, &payload[..len], &mut frame) {
                self.shared.deliver(receiver, &frame[..n]);
                self.shared.stats.lock().expect("no panics while held").forged += 1;
            }
        }
        acks.len()
    }

    /// QEMU's `-netdev` options for node `k`.
    pub fn netdev(&self, k: usize) -> String {
        format!(
            "dgram,id=nic0,local.type=unix,local.path={},remote.type=unix,remote.path={}",
            self.shared.nodes[k].display(),
            self.dir.join(format!("switch-{k}.sock")).display()
        )
    }

    /// Removes node `k`'s socket before its QEMU starts (QEMU binds it).
    pub fn unplug(&self, k: usize) {
        let _ = std::fs::remove_file(&self.shared.nodes[k]);
    }

    /// Changes the faults.
    pub fn set(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut self.shared.faults.lock().expect("no panics while held"));
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        *self.shared.stats.lock().expect("no panics while held")
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two fake nodes on the switch: unicast reaches its MAC only, a cut
    /// link drops, broadcast reaches the other node.
    #[test]
    fn forwards_by_mac_and_cuts_links() {
        let dir = std::env::temp_dir().join(format!("wn-switch-{}", std::process::id()));
        let prefix = [2, 0x57, 0x4e, 0, 0];
        let network = Network {
            subnet: [10, 0, 0, 0],
            prefix_len: 24,
            port: 7100,
            nodes: 3,
            mac_prefix: prefix,
            cluster: "dev".into(),
        };
        let switch = Switch::start(&dir, 3, &network, 1).unwrap();
        let nodes: Vec<UnixDatagram> = (0..3)
            .map(|k| {
                switch.unplug(k);
                let s = UnixDatagram::bind(dir.join(format!("node-{k}.sock"))).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                s
            })
            .collect();
        let frame = |to: u8| {
            let mut f = vec![0u8; 60];
            f[..5].copy_from_slice(&prefix);
            f[5] = to;
            f
        };
        let to_switch = |k: usize| dir.join(format!("switch-{k}.sock"));
        let mut buf = [0u8; 100];
        nodes[0].send_to(&frame(1), to_switch(0)).unwrap();
        assert_eq!(nodes[1].recv(&mut buf).unwrap(), 60, "unicast reaches node 1");
        nodes[0].set_nonblocking(true).unwrap();
        nodes[2].set_nonblocking(true).unwrap();
        assert!(nodes[2].recv(&mut buf).is_err(), "and not node 2");
        switch.set(|f| {
            f.cut.insert((0, 1));
        });
        nodes[0].send_to(&frame(1), to_switch(0)).unwrap();
        nodes[1].set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        assert!(nodes[1].recv(&mut buf).is_err(), "the cut link drops");
        nodes[1].send_to(&frame(0), to_switch(1)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(nodes[0].recv(&mut buf).unwrap(), 60, "the other direction still works");
        let mut broadcast = frame(0);
        broadcast[..6].copy_from_slice(&[0xff; 6]);
        nodes[2].send_to(&broadcast, to_switch(2)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(nodes[0].recv(&mut buf).is_ok(), "broadcast reaches node 0");
        assert_eq!(switch.stats().dropped, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
