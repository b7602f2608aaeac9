//! `make bench-net`: the network's cost, in one run of two nodes on the
//! switch, each QEMU counting instructions (`-icount shift=0`: a
//! nanosecond of guest time per instruction executed, whatever the host's
//! load; time a CPU spends idle still passes, so per-frame figures are
//! upper bounds on instructions).
//!
//! 1. Raw: node 0's network PD, before its stack starts, sends 20,000
//!    frames of 1,514 bytes to node 1 through the rings, the NIC driver
//!    and the switch; node 1's network PD counts and times them
//!    (`net| bench raw received=N bytes=B ns=T`; pds/net, feature
//!    `bench`).
//! 2. Streams: then node 0's bench client sends 20,000 messages of 384
//!    bytes to node 1 through the network PD (streams, smoltcp, TCP);
//!    node 1's client times them (`netbench| received=N bytes=B ns=T`;
//!    pds/netbench).
//!
//! Prints the figures of both, then the last line
//! `stream_vs_raw=<stream MB/s ÷ raw MB/s>` (payload bytes; the goal is
//! 0.5 or more).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::Target;
use crate::lan::{Lan, network};

/// One phase's figures, as node 1 measured them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// Frames or messages received.
    pub count: u64,
    /// Their bytes (whole frames; message bodies).
    pub bytes: u64,
    /// Guest nanoseconds from the first to the last.
    pub ns: u64,
}

impl Phase {
    /// Parses `... received=N bytes=B ns=T` after `prefix`.
    pub fn parse(line: &str, prefix: &str) -> Option<Phase> {
        let rest = line.strip_prefix(prefix)?;
        let field = |key: &str| {
            rest.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
        };
        Some(Phase { count: field("received")?, bytes: field("bytes")?, ns: field("ns")? })
    }

    /// Per second of guest time.
    pub fn per_second(&self) -> f64 {
        self.count as f64 * 1e9 / self.ns.max(1) as f64
    }

    /// MB (10^6 bytes) per second of guest time.
    pub fn mb_per_second(&self) -> f64 {
        self.bytes as f64 * 1e3 / self.ns.max(1) as f64
    }

    /// Guest nanoseconds (instructions, at most) per frame or message.
    pub fn ns_each(&self) -> f64 {
        self.ns as f64 / self.count.max(1) as f64
    }
}

const RAW: &str = "net| bench raw ";
const STREAM: &str = "netbench| ";

/// Runs the benchmark; `Ok(true)` when both phases finished.
pub fn run(target: &Target, system: &Path, dir: &Path, timeout: Duration) -> Result<bool, String> {
    let network = network(system)?;
    // Two nodes: the others of the network stay absent (their streams
    // wait in backoff, asleep).
    let nodes = 2;
    let mut lan = Lan::new(target, network, nodes, dir, true)?;
    lan.qemu_args = ["-icount", "shift=0"].map(String::from).to_vec();
    for k in 0..nodes {
        lan.boot(k)?;
    }
    let deadline = Instant::now() + timeout;
    let (mut raw, mut stream) = (None, None);
    while raw.is_none() || stream.is_none() {
        let Some((k, line)) = lan.next_line(deadline) else {
            return Err(format!(
                "the benchmark did not finish in {}s; see {}",
                timeout.as_secs(),
                dir.display()
            ));
        };
        if line.contains("panicked") || line.contains("qemu: exited") {
            return Err(format!("node {k}: {line}"));
        }
        if line.starts_with(RAW) || line.starts_with(STREAM) {
            println!("  node{k} | {line}");
        }
        if k == 1 {
            raw = raw.or(Phase::parse(&line, RAW));
            stream = stream.or(Phase::parse(&line, STREAM));
        }
    }
    drop(lan);
    let (raw, stream) = (raw.expect("loop ends with both"), stream.expect("loop ends with both"));
    if raw.count == 0 || stream.count == 0 {
        return Err(format!("nothing measured: raw {raw:?}, stream {stream:?}"));
    }
    println!(
        "arch={} raw: frames={} frames_per_s={:.0} mb_per_s={:.2} ns_per_frame={:.0}",
        target.arch,
        raw.count,
        raw.per_second(),
        raw.mb_per_second(),
        raw.ns_each()
    );
    println!(
        "arch={} stream: messages={} messages_per_s={:.0} mb_per_s={:.2} ns_per_message={:.0} ns_per_1514_bytes={:.0}",
        target.arch,
        stream.count,
        stream.per_second(),
        stream.mb_per_second(),
        stream.ns_each(),
        stream.ns as f64 * 1514.0 / stream.bytes.max(1) as f64
    );
    println!("stream_vs_raw={:.2}", stream.mb_per_second() / raw.mb_per_second());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_rates_follow() {
        let raw = Phase::parse("net| bench raw received=20000 bytes=30280000 ns=1000000000", RAW).unwrap();
        assert_eq!(raw, Phase { count: 20000, bytes: 30_280_000, ns: 1_000_000_000 });
        assert_eq!(raw.per_second(), 20000.0);
        assert!((raw.mb_per_second() - 30.28).abs() < 1e-9);
        assert_eq!(raw.ns_each(), 50_000.0);
        assert_eq!(Phase::parse("netbench| sent=20000", STREAM), None, "the sender's line has no figures");
        assert_eq!(Phase::parse("net| bench raw sent=20000 ns=5", RAW), None);
    }
}
