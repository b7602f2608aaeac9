//! `make bench-cluster`: Strong events on three nodes against Local
//! events on one, in one run of the cluster image (docs/cluster.md).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Target;
use crate::cluster_test::{Seen, Session, field};
use crate::lan::{Lan, network};

/// The Local events timed: from the 100th to the last (the first hundred
/// include the start). The bench image's worknode records 2,000 and says
/// every hundredth, then `strong local done`.
const LOCAL_FROM: u64 = 100;
/// The line a worknode says past its Local events.
const LOCAL_DONE: &str = "strong| strong local done recorded=";

/// `make bench-cluster`: Strong events against Local ones, in one run of
/// the cluster image with no faults, its worknode built to record 2,000
/// events Local first (pds/strong, feature `bench`), one after the other
/// (each durable on its node before the call returns), then Strong
/// events, up to 8 pending.
///
/// 1. Local: node 0 boots alone (its Raft PD finds no majority and only
///    asks for votes) and its worknode's Local rate is timed by the
///    runner, from its `strong local recorded=100` line to its last;
///    then it is stopped. Rejected: timing the Local phases of the three
///    nodes of the Strong run, which overlap the Strong load of the nodes
///    already past theirs (one measured 37 events/s, the others 160).
/// 2. Strong: the three nodes boot (node 0 on its disk from step 1);
///    once every worknode is past its Local events, the cluster's rate of
///    events committed, applied and written to node 0's event log, from
///    node 0's `replicated events durable up to number=N` lines to the
///    last; and node 0's governor's latency histogram, from an event's
///    queueing to its outcome (`list`: p50 and p99, 4 ms buckets, the
///    governor's clock).
///
/// Wall-clock time, not instruction counts: three QEMUs exchange frames
/// in real time, so no one guest's count measures the cluster; both
/// phases run in the same run on the same host, and the last line is
/// their ratio: `strong_vs_local=<Strong per second ÷ Local per second>`.
pub fn run(target: &Target, system: &Path, dir: &Path, timeout: Duration) -> Result<bool, String> {
    let network = network(system)?;
    let count = usize::from(network.nodes);
    let lan = Lan::new(target, network, count, dir, true)?;
    let path = dir.join("transcript.txt");
    let file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let transcript = std::io::BufWriter::new(file);
    let mut s = Session { lan, seen: Seen::default(), timeout, started: Instant::now(), transcript };
    let deadline = Instant::now() + timeout;
    s.say("node 0 alone: Local events");
    s.lan.boot(0)?;
    let mut local: Vec<(Instant, u64)> = Vec::new();
    // Bounded by the deadline.
    loop {
        let (k, line) = next(&mut s, deadline, "node 0's Local events")?;
        if k == 0 && line.starts_with(LOCAL_DONE) {
            break;
        }
        if let Some(n) =
            line.strip_prefix("strong| strong local recorded=").and_then(|n| n.parse::<u64>().ok())
            && k == 0
            && n >= LOCAL_FROM
        {
            local.push((Instant::now(), n));
        }
    }
    s.lan.kill(0);
    let local_per_s = match (local.first(), local.last()) {
        (Some(&(t0, n0)), Some(&(t1, n1))) if n1 > n0 => (n1 - n0) as f64 / (t1 - t0).as_secs_f64(),
        _ => 0.0,
    };
    s.say("three nodes: Strong events");
    s.seen = Seen::default();
    for k in 0..count {
        s.lan.boot(k)?;
    }
    let mut past_local = BTreeSet::new();
    let mut strong: Vec<(Instant, u64)> = Vec::new();
    // Bounded by the deadline.
    while s.seen.done.len() < count {
        let (k, line) = next(&mut s, deadline, "every node's done line")?;
        if line.starts_with(LOCAL_DONE) {
            past_local.insert(k);
        }
        if k == 0
            && past_local.len() == count
            && line.starts_with("governor| replicated events durable up to ")
        {
            strong.push((Instant::now(), field(&line, "number").unwrap_or(0)));
        }
    }
    let (p50, p99) = latency(&mut s, deadline)?;
    let strong_per_s = match (strong.first(), strong.last()) {
        (Some(&(t0, n0)), Some(&(t1, n1))) if n1 > n0 => (n1 - n0) as f64 / (t1 - t0).as_secs_f64(),
        _ => 0.0,
    };
    for k in 0..count {
        s.lan.kill(k);
    }
    println!(
        "arch={} nodes={count} local_per_s={local_per_s:.1} strong_per_s={strong_per_s:.1} strong_p50_ms={p50} strong_p99_ms={p99} strong_samples={}",
        target.arch,
        strong.len()
    );
    let ok = local_per_s > 0.0 && strong_per_s > 0.0 && strong.len() >= 2;
    println!("strong_vs_local={:.2}", if ok { strong_per_s / local_per_s } else { 0.0 });
    Ok(ok)
}

/// The next line of any node, observed; a PD's trouble or the deadline
/// ends the wait with the node's last lines printed.
fn next(s: &mut Session<'_>, deadline: Instant, what: &str) -> Result<(usize, String), String> {
    if let Some(trouble) = s.seen.trouble.clone() {
        s.tails();
        return Err(trouble);
    }
    let Some((k, line)) = s.lan.next_line(deadline) else {
        s.tails();
        return Err(format!("timed out waiting for {what}"));
    };
    s.observe(k, &line);
    Ok((k, line))
}

/// Node 0's Strong latency, p50 and p99 (ms), from its governor's `list`.
fn latency(s: &mut Session<'_>, deadline: Instant) -> Result<(u64, u64), String> {
    if let Some(qemu) = s.lan.nodes[0].as_mut() {
        qemu.send("list")?;
    }
    // Bounded by the deadline.
    loop {
        let (k, line) = next(s, deadline, "node 0's list")?;
        if k == 0 && line.starts_with("governor| strong: ") {
            return Ok((
                field(&line, "latency_p50_ms").unwrap_or(0),
                field(&line, "latency_p99_ms").unwrap_or(0),
            ));
        }
    }
}
