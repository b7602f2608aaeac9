//! Several nodes on the runner's switch: `make test-net` (the network
//! test) and `make cluster` (nodes for a person to use).
//!
//! Every node boots the same image with its own disk (`<dir>/node<K>/`)
//! and its own MAC (the cluster's prefix and K, from system.xml), which
//! gives it its number and address.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use worknode_sysdesc::model::{Network, System};

use crate::Target;
use crate::serial::{Next, Qemu};
use crate::switch::Switch;

/// The nodes, their switch, and where their files go.
pub struct Lan<'t> {
    target: &'t Target,
    pub switch: Switch,
    network: Network,
    dir: PathBuf,
    /// Each node's QEMU, while it runs.
    pub nodes: Vec<Option<Qemu>>,
    /// Boots of each node so far (names its transcripts).
    boots: Vec<u32>,
    /// The node that gave the last line ([`Lan::next_line`]).
    turn: usize,
    /// Arguments every node's QEMU gets besides its machine file's
    /// (`make bench-net`: instruction counting).
    pub qemu_args: Vec<String>,
}

/// The network a rendered system description declares.
pub fn network(system: &Path) -> Result<Network, String> {
    let text =
        std::fs::read_to_string(system).map_err(|e| format!("cannot read {}: {e}", system.display()))?;
    let system = System::parse(&text).map_err(|e| format!("{}: {e}", system.display()))?;
    system.network.ok_or_else(|| "this system declares no network (<?worknode-network?>)".to_string())
}

impl<'t> Lan<'t> {
    /// A switch for `count` nodes; no node booted yet. Fresh disks when
    /// `fresh`.
    pub fn new(
        target: &'t Target,
        network: Network,
        count: usize,
        dir: &Path,
        fresh: bool,
    ) -> Result<Lan<'t>, String> {
        if count == 0 || count > usize::from(network.nodes) {
            return Err(format!("{count} nodes: system.xml's network has room for 1 to {}", network.nodes));
        }
        // Unix socket paths are short (108 bytes): the temporary directory.
        let sockets = std::env::temp_dir().join(format!("worknode-lan-{}", std::process::id()));
        let switch = Switch::start(&sockets, count, &network, 0x5eed)?;
        for k in 0..count {
            let node = dir.join(format!("node{k}"));
            std::fs::create_dir_all(&node).map_err(|e| format!("cannot create {}: {e}", node.display()))?;
            if fresh {
                let _ = std::fs::remove_file(node.join("disk.img"));
            }
            crate::disk::ensure(&node.join("disk.img"), target.disk_kib << 10)?;
        }
        Ok(Lan {
            target,
            switch,
            network,
            dir: dir.to_path_buf(),
            nodes: (0..count).map(|_| None).collect(),
            boots: vec![0; count],
            turn: 0,
            qemu_args: Vec::new(),
        })
    }

    /// Node `k`'s directory.
    pub fn node_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("node{k}"))
    }

    /// Boots node `k` on its disk; its console goes to
    /// `node<K>/serial.log` (then `serial-1.log`, ... on later boots).
    pub fn boot(&mut self, k: usize) -> Result<(), String> {
        let mac = self.network.mac(k as u8);
        let mac = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        let netdev = self.switch.netdev(k);
        self.switch.unplug(k);
        let disk = self.node_dir(k).join("disk.img");
        let mut machine =
            self.target.machine_on(Some(&disk.display().to_string()), Some((&netdev, &mac)), Vec::new())?;
        machine.args.extend(self.qemu_args.iter().cloned());
        let name = match self.boots[k] {
            0 => "serial.log".to_string(),
            n => format!("serial-{n}.log"),
        };
        self.boots[k] += 1;
        self.nodes[k] = Some(Qemu::spawn(&machine, &self.node_dir(k).join(name))?);
        Ok(())
    }

    /// Node `k`'s latest console transcript (of its current or last boot).
    pub fn transcript(&self, k: usize) -> Option<PathBuf> {
        let name = match self.boots.get(k)? {
            0 => return None,
            1 => "serial.log".to_string(),
            n => format!("serial-{}.log", n - 1),
        };
        Some(self.node_dir(k).join(name))
    }

    /// Types `line` on node `k`'s console.
    pub fn type_line(&mut self, k: usize, line: &str) -> Result<(), String> {
        self.nodes.get_mut(k).and_then(Option::as_mut).ok_or(format!("node {k} is not running"))?.send(line)
    }

    /// Kills node `k`'s QEMU at once (SIGKILL).
    pub fn kill(&mut self, k: usize) {
        self.nodes[k] = None;
    }

    /// The next console line of any node, as (node, line), or `None` when
    /// `deadline` passed. A node whose QEMU exited is reported once as a
    /// line `qemu: exited`. Nodes take turns, starting after the one that
    /// gave the last line, and none is waited on while another has a line:
    /// waiting 2 ms on each quiet node in turn (as this did) read one
    /// line per 2-4 ms while a node printed faster, and the test's view of
    /// the nodes fell seconds behind them.
    pub fn next_line(&mut self, deadline: Instant) -> Option<(usize, String)> {
        let count = self.nodes.len();
        loop {
            for i in 0..count {
                let k = (self.turn + 1 + i) % count;
                let Some(qemu) = &mut self.nodes[k] else { continue };
                let line = match qemu.next(Instant::now()) {
                    Next::Line(line) => line,
                    Next::Closed => {
                        self.nodes[k] = None;
                        "qemu: exited".into()
                    }
                    Next::TimedOut => continue,
                };
                self.turn = k;
                return Some((k, line));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
