//! `make test-cluster`: three nodes of the cluster profile replicate a
//! ledger with Raft (pds/raft) while the runner kills, partitions and
//! wipes them.
//!
//! On every node a worknode (pds/strong) records Strong events without
//! pause through its governor, which audits each and hands it to the
//! node's Raft PD; the Raft PD numbers them and proposes them, a few in
//! flight, each acknowledged once applied on its node, resent when
//! unanswered (pds/raft's TARGET each), and the outcome goes back to the
//! worknode. Meanwhile, in order:
//! - the leader's QEMU is killed (SIGKILL) [`KILLS`] times, at a random
//!   moment once its worknode is past its Local events (pds/strong
//!   records some first) and proposing, and restarted on its disk; a new leader must be elected each
//!   time (`max_failover_ms`: from the kill to the first `leader` line of
//!   a higher term);
//! - the leader is cut off from the others for a while, then healed;
//! - one link is cut in one direction only, then healed;
//! - the switch drops 10 % of frames for a while;
//! - once [`WIPE_AT`] proposals are acknowledged (the state machine is
//!   then past 1 MiB), a follower's disk is replaced by a new one,
//!   prepared to join with `worknode disk join` (as its principal would),
//!   and the follower restarted: it must start as a joiner and catch up
//!   by a snapshot of at least [`MIN_SNAPSHOT`] bytes (`snapshot_bytes`).
//!
//! Acknowledgements: a node says `acked=S` for each of its proposals
//! applied on it, and after a restart `resumed at=S` once a linearizable
//! read told it where its proposals stand (which acknowledges a proposal
//! whose `acked` line a kill cut off). A proposal acknowledged and
//! then lost shows as a number that goes back: a `resumed at` below the
//! highest acknowledgement seen from that node, or an `acked` at or below
//! it (the proposal made again); each counts in `lost`.
//!
//! Passes when nothing acknowledged was lost, every node's last boot says
//! `done` with the same ledger (count, skipped, and the hash of every
//! proposal taken with its log index) and the same journal (the hash of
//! the proposals the state machine keeps, which the wiped node got from
//! the snapshot): the nodes agree on every entry,
//! every proposal of every node was taken once, and no PD panicked; and,
//! with every QEMU killed, each node's disk passes `worknode log verify`
//! (both its logs) and `worknode audit verify`, and its event log holds
//! the cluster's events (`worknode log replicated`: numbers only growing,
//! up to the last, none skipped unless the node installed a snapshot,
//! the same event under each number on every node; `event_logs_agree`).
//! Last line: `arch=.. nodes=3 kills=K partitions=P acked=N replicated=N
//! lost=0 diverged=0 max_failover_ms=M snapshot_installed=1
//! snapshot_bytes=B disks_verified=3 foreign_disk_refused=1
//! worknodes_committed=3 event_logs_agree=3 reads_found=F reads_not_yet=Y
//! result=pass` (`worknodes_committed`: the nodes whose worknode took
//! committed outcomes; one that took an outcome it did not wait for, or a
//! failed one, fails the run; `reads_found`, `reads_not_yet`: the
//! worknodes' linearizable reads that found an event, or a number past
//! the count, and passed the worknode's checks; one that failed them, or
//! was refused, fails the run, and so does a run with none of either). The last check boots a node on
//! another node's disk: its Raft PD must refuse the Raft log, its governor
//! the event log (another node's claim, `denied`), and the disk must be
//! left byte for byte as it was.
//!
//! `--expect-loss` (`make bite-check-cluster`): the image's proposers go
//! on after a restart without the read, and the test passes only if it
//! sees acknowledged proposals made again.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Target;
use crate::lan::{Lan, network};

/// Leader kills.
const KILLS: usize = 3;
/// How long a partition, a one-way cut and the loss last.
const FAULT: Duration = Duration::from_secs(4);
/// Proposals acknowledged (of pds/raft's 3 x 2,000) before a follower's
/// disk is replaced: at about 240 bytes each in the state machine's
/// journal (1.25 MiB, `worknode_cluster::limits::JOURNAL_BYTES`), the
/// state then passes 1 MiB.
const WIPE_AT: u64 = 4800;
/// The least state the wiped follower's snapshot must carry: 1 MiB (the
/// issue's "a snapshot of at least 1 MiB of state installed on a node
/// that was wiped"), some 1,430 chunks.
const MIN_SNAPSHOT: u64 = 1 << 20;

/// Lines of each node's transcript a failed wait prints.
const TAIL: usize = 12;

pub(crate) fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

fn hex_field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace().find_map(|w| Some(w.strip_prefix(key)?.strip_prefix('=')?.to_string()))
}

/// What the lines so far said.
#[derive(Default)]
pub(crate) struct Seen {
    /// The latest leader line: (term, node).
    leader: Option<(u64, usize)>,
    /// Each node's `done` line of its current boot.
    pub(crate) done: BTreeMap<usize, String>,
    /// Each node's highest acknowledgement seen, over all its boots.
    acked: BTreeMap<usize, u64>,
    /// Acknowledgements that went back (see the module documentation).
    lost: u64,
    /// Nodes that refused their disk as another node's or cluster's.
    refused: u64,
    /// Governors that refused their event log as another node's.
    log_refused: u64,
    /// Nodes that said they start as joiners.
    joining: Vec<usize>,
    /// Each node's largest snapshot installed (bytes) in its current boot.
    installed: BTreeMap<usize, u64>,
    /// Nodes whose Strong worknode said it took a committed outcome.
    committed: std::collections::BTreeSet<usize>,
    /// The same, in the node's current boot: its worknode is past its
    /// Local events and proposes Strong ones.
    committing: std::collections::BTreeSet<usize>,
    /// Nodes that installed a snapshot in any boot (their event logs may
    /// skip the events the snapshot held).
    ever_installed: std::collections::BTreeSet<usize>,
    /// Each node's governor: how far its copy of the cluster's events is
    /// durable (its highest `durable up to number=`, over all boots).
    copied: BTreeMap<usize, u64>,
    /// The worknodes' reads of Strong events that passed their checks, by
    /// what they found: an event, and a number past the count.
    reads_found: u64,
    reads_not_yet: u64,
    pub(crate) trouble: Option<String>,
}

impl Seen {
    fn observe(&mut self, k: usize, line: &str) {
        if line.contains("panicked") || line.contains("qemu: exited") || line.contains("STOPPED") {
            self.trouble.get_or_insert_with(|| format!("node {k}: {line}"));
        }
        if line.starts_with("raft| node=") && line.contains(" leader term=") {
            let term = field(line, "term").unwrap_or(0);
            if self.leader.is_none_or(|(t, _)| term > t) {
                self.leader = Some((term, k));
            }
        }
        if line.starts_with("raft| node=") {
            let seen = self.acked.entry(k).or_default();
            if let Some(seq) = field(line, "acked") {
                if seq <= *seen {
                    self.lost += 1;
                    println!("cluster: node {k} LOST: acknowledged {seq} again after {seen}");
                }
                *seen = seq;
            }
            if let Some(at) = field(line, "at") {
                if at < *seen {
                    self.lost += *seen - at;
                    println!("cluster: node {k} LOST: resumed at {at} after acknowledging {seen}");
                }
                // A proposal applied just before a kill, whose `acked` line
                // the kill cut off, is acknowledged by the read instead;
                // proposals lost are counted here once, and proposed again
                // under their numbers (not counted twice).
                *seen = at;
            }
        }
        if line.starts_with("raft| node=") && line.contains(" installed snapshot ") {
            let bytes = field(line, "bytes").unwrap_or(0);
            let most = self.installed.entry(k).or_default();
            *most = (*most).max(bytes);
            self.ever_installed.insert(k);
        }
        if line.starts_with("governor| replicated events durable up to ") {
            let number = field(line, "number").unwrap_or(0);
            let most = self.copied.entry(k).or_default();
            *most = (*most).max(number);
        }
        if line.starts_with("raft| node=") && line.contains(" joining: ") {
            self.joining.push(k);
        }
        if line.starts_with("raft| node=") && line.contains(" REFUSED its disk") {
            self.refused += 1;
        }
        if line.starts_with(worknode_abi::markers::LOG_REFUSED) && line.contains("denied") {
            self.log_refused += 1;
        }
        if line.starts_with("raft| done ") {
            self.done.insert(k, line.to_string());
        }
        if line.starts_with("strong| strong committed=") {
            self.committed.insert(k);
            self.committing.insert(k);
        }
        if line.starts_with("strong| strong read number=") {
            self.reads_found += u64::from(line.ends_with(" found=event"));
            self.reads_not_yet += u64::from(line.ends_with(" found=not-yet"));
        }
        if line.starts_with("strong| strong failed")
            || line.starts_with("strong| strong read BAD")
            || line.starts_with("strong| strong read failed")
            || line.starts_with("strong| strong read refused")
            || line.starts_with("strong| strong refused")
            || line.starts_with("strong| strong local refused")
            || line.contains("which is not pending")
        {
            self.trouble.get_or_insert_with(|| format!("node {k}: {line}"));
        }
    }
}

pub(crate) struct Session<'t> {
    pub(crate) lan: Lan<'t>,
    pub(crate) seen: Seen,
    pub(crate) timeout: Duration,
    pub(crate) started: Instant,
    /// Every node's lines as the runner read them, with the time:
    /// `<dir>/transcript.txt`, where one run's nodes can be read together.
    pub(crate) transcript: std::io::BufWriter<std::fs::File>,
}

impl Session<'_> {
    /// Prints a step of the test, with the seconds since it began.
    pub(crate) fn say(&mut self, what: &str) {
        let line = format!("[{:8.3}] {what}", self.started.elapsed().as_secs_f64());
        println!("cluster: {line}");
        let _ = writeln!(self.transcript, "{line}");
    }

    pub(crate) fn observe(&mut self, k: usize, line: &str) {
        let _ = writeln!(self.transcript, "[{:8.3}] node{k}: {line}", self.started.elapsed().as_secs_f64());
        self.seen.observe(k, line);
    }

    /// Reads lines for `d`.
    fn pump(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while let Some((k, line)) = self.lan.next_line(until) {
            self.observe(k, &line);
        }
    }

    /// Reads lines until `done` holds or the timeout passes.
    fn until(&mut self, what: &str, done: impl Fn(&Seen) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        while !done(&self.seen) {
            if let Some(trouble) = self.seen.trouble.clone() {
                self.tails();
                return Err(trouble);
            }
            match self.lan.next_line(deadline) {
                Some((k, line)) => self.observe(k, &line),
                None => {
                    self.tails();
                    return Err(format!("timed out waiting for {what}"));
                }
            }
        }
        Ok(())
    }

    /// Prints the last lines of every node's latest transcript: what a
    /// failed run shows where its files are not kept (CI).
    pub(crate) fn tails(&mut self) {
        let _ = self.transcript.flush();
        for k in 0..self.lan.nodes.len() {
            let Some(path) = self.lan.transcript(k) else { continue };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            println!("cluster: node {k}'s last lines ({}):", path.display());
            for line in &lines[lines.len().saturating_sub(TAIL)..] {
                println!("  {line}");
            }
        }
    }

    fn leader(&self) -> Result<(u64, usize), String> {
        self.seen.leader.ok_or_else(|| "no leader".to_string())
    }

    fn restart(&mut self, k: usize) -> Result<(), String> {
        self.seen.done.remove(&k);
        self.seen.committing.remove(&k);
        self.seen.installed.remove(&k);
        self.lan.boot(k)
    }
}

/// Runs the test; `Ok(false)` when it ran and failed (the summary says why).
pub fn run(
    target: &Target,
    system: &Path,
    dir: &Path,
    timeout: Duration,
    expect_loss: bool,
) -> Result<bool, String> {
    let network = network(system)?;
    let count = usize::from(network.nodes);
    let cluster = network.cluster.clone();
    let lan = Lan::new(target, network, count, dir, true)?;
    let path = dir.join("transcript.txt");
    let file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let transcript = std::io::BufWriter::new(file);
    let mut s = Session { lan, seen: Seen::default(), timeout, started: Instant::now(), transcript };
    for k in 0..count {
        s.lan.boot(k)?;
    }
    let mut random = crate::crash::Random::new(u64::from(std::process::id()));
    s.until("a leader", |seen| seen.leader.is_some())?;
    let mut max_failover = Duration::ZERO;
    for kill in 0..KILLS {
        // Under Strong load: the leader's worknode is past its Local
        // events (a restarted node records them again first).
        s.until("the leader's worknode to commit Strong events", |seen| {
            seen.leader.is_some_and(|(_, k)| seen.committing.contains(&k))
        })?;
        s.pump(Duration::from_millis(500 + random.below(2500)));
        let (term, leader) = s.leader()?;
        let killed = Instant::now();
        s.lan.kill(leader);
        s.say(&format!("kill {} of {KILLS}: node {leader}, leader of term {term}", kill + 1));
        s.until("a new leader", |seen| seen.leader.is_some_and(|(t, k)| t > term && k != leader))?;
        max_failover = max_failover.max(killed.elapsed());
        s.pump(Duration::from_millis(500));
        s.restart(leader)?;
    }
    let mut partitions = 0;
    let (term, leader) = s.leader()?;
    let others: Vec<usize> = (0..count).filter(|&k| k != leader).collect();
    s.say(&format!("partition node {leader} (leader of term {term}) from the others"));
    s.lan.switch.set(|f| {
        for &o in &others {
            f.cut.insert((leader, o));
            f.cut.insert((o, leader));
        }
    });
    s.until("a leader on the majority side", |seen| {
        seen.leader.is_some_and(|(t, k)| t > term && k != leader)
    })?;
    s.pump(FAULT);
    s.lan.switch.set(|f| f.cut.clear());
    partitions += 1;
    let (_, leader) = s.leader()?;
    let follower = (0..count).find(|&k| k != leader).expect("three nodes");
    s.say(&format!("cut node {leader} -> node {follower} only"));
    s.lan.switch.set(|f| {
        f.cut.insert((leader, follower));
    });
    s.pump(FAULT);
    s.lan.switch.set(|f| f.cut.clear());
    partitions += 1;
    s.say("drop 10 % of frames");
    s.lan.switch.set(|f| f.drop = 10);
    s.pump(FAULT);
    s.lan.switch.set(|f| f.drop = 0);
    s.until("enough acknowledged proposals for a full journal", |seen| {
        seen.acked.values().sum::<u64>() >= WIPE_AT
    })?;
    let (_, leader) = s.leader()?;
    let wiped = (0..count).find(|&k| k != leader).expect("three nodes");
    s.say(&format!("node {wiped} gets a new disk, prepared to join"));
    s.lan.kill(wiped);
    let disk = s.lan.node_dir(wiped).join("disk.img");
    std::fs::remove_file(&disk).map_err(|e| format!("cannot remove {}: {e}", disk.display()))?;
    crate::disk::ensure(&disk, target.disk_kib << 10)?;
    // The principal says the new disk joins (it must not found again).
    let node = wiped.to_string();
    let join = crate::worknode_cli(&["disk", "join", "--cluster", &cluster, "--node", &node], &disk)?;
    if !join.status.success() {
        return Err(format!("worknode disk join failed: {}", String::from_utf8_lossy(&join.stderr)));
    }
    s.restart(wiped)?;
    s.until("the new disk's node to join", |seen| seen.joining.contains(&wiped))?;
    s.say(&format!("node {wiped} joins"));
    s.until("every node's done line", |seen| seen.done.len() == count)?;
    s.say("every node is done");
    // Every node's governor has been handed every event (`done` waits for
    // that): wait until it says they are durable in its event log (it
    // says so every `LINE_EVERY` numbers).
    let count_line = s.seen.done.get(&0).and_then(|l| field(l, "count")).unwrap_or(0);
    let said = count_line - count_line % worknode_governor::replicated::LINE_EVERY;
    s.until("every node's event log to hold every event", |seen| {
        (0..count).all(|k| seen.copied.get(&k).is_some_and(|&n| n >= said))
    })?;
    let ledger = |line: &str| {
        // Not `applied`: a node that says `done` later has applied the
        // no-op entries of later elections too.
        ["count", "skipped", "hash", "journal"].map(|key| hex_field(line, key).unwrap_or_default())
    };
    let first = ledger(&s.seen.done[&0]);
    let diverged = s.seen.done.values().filter(|line| ledger(line) != first).count();
    let installed = field(&s.seen.done[&wiped], "installed").unwrap_or(0);
    let snapshot_bytes = s.seen.installed.get(&wiped).copied().unwrap_or(0);
    let replicated = first[0].parse::<u64>().unwrap_or(0);
    let acked: u64 = s.seen.acked.values().sum();
    let lost = s.seen.lost;
    for (k, line) in &s.seen.done {
        println!("cluster: node {k}: {line}");
    }
    // Each disk, as the last kill left it: its event log and audit trail
    // verify, and so does its Raft log.
    for k in 0..count {
        s.lan.kill(k);
    }
    let mut disks_verified = 0;
    for k in 0..count {
        let disk = s.lan.node_dir(k).join("disk.img");
        println!("cluster: node {k}'s disk:");
        let raft = crate::worknode_cli(&["log", "verify", "--part", "raft"], &disk)?;
        print!("  {}", String::from_utf8_lossy(&raft.stdout));
        eprint!("{}", String::from_utf8_lossy(&raft.stderr));
        if crate::verify_disk(&disk)? && raft.status.success() {
            disks_verified += 1;
        }
    }
    let logs_agree =
        event_logs(count, replicated, &s.seen.ever_installed, |k| s.lan.node_dir(k).join("disk.img"))?;
    let foreign_refused = foreign_disk(&mut s)?;
    let pass = if expect_loss {
        // The bite check: the broken image must be caught.
        lost > 0
    } else {
        diverged == 0
            && installed > 0
            && snapshot_bytes >= MIN_SNAPSHOT
            && lost == 0
            && acked > 0
            && replicated == acked
            && disks_verified == count
            && foreign_refused
            && s.seen.committed.len() == count
            && logs_agree == count
            && s.seen.reads_found > 0
            && s.seen.reads_not_yet > 0
    };
    println!(
        "arch={} nodes={count} kills={KILLS} partitions={partitions} acked={acked} replicated={replicated} lost={lost} diverged={diverged} max_failover_ms={} snapshot_installed={installed} snapshot_bytes={snapshot_bytes} disks_verified={disks_verified} foreign_disk_refused={} worknodes_committed={} event_logs_agree={logs_agree} reads_found={} reads_not_yet={} result={}",
        target.arch,
        max_failover.as_millis(),
        u8::from(foreign_refused),
        s.seen.committed.len(),
        s.seen.reads_found,
        s.seen.reads_not_yet,
        if pass { "pass" } else { "FAIL" }
    );
    Ok(pass)
}

/// Each node's event log holds the cluster's Strong events
/// (`worknode log replicated`): numbers only growing, up to the last
/// (`replicated`), none skipped unless the node installed a snapshot (it
/// never held those one by one), and under each number the same event on
/// every node. Returns how many nodes' logs pass.
fn event_logs(
    count: usize,
    replicated: u64,
    installed: &std::collections::BTreeSet<usize>,
    disk: impl Fn(usize) -> std::path::PathBuf,
) -> Result<usize, String> {
    let mut by_number: BTreeMap<u64, String> = BTreeMap::new();
    let mut agree = 0;
    for k in 0..count {
        let out = crate::worknode_cli(&["log", "replicated"], &disk(k))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text.lines().last().unwrap_or_default();
        println!("cluster: node {k}'s event log: {summary}");
        let (first, last) = (field(summary, "first").unwrap_or(0), field(summary, "last").unwrap_or(0));
        let skipped = first.saturating_sub(1) + field(summary, "gaps").unwrap_or(u64::MAX);
        let mut same = true;
        for line in text.lines().filter(|l| l.starts_with("number=")) {
            let number = field(line, "number").unwrap_or(0);
            let held = by_number.entry(number).or_insert_with(|| line.to_string());
            if held != line {
                same = false;
                println!("cluster: node {k}'s event log DIFFERS at {line}");
            }
        }
        let ok = out.status.success()
            && same
            && field(summary, "back") == Some(0)
            && last == replicated
            && (skipped == 0 || installed.contains(&k));
        if !ok {
            println!("cluster: node {k}'s event log FAILS: last={last} of {replicated}, skipped={skipped}");
        }
        agree += usize::from(ok);
    }
    Ok(agree)
}

/// A disk moved to another node: node 0 boots on a copy of node 1's disk.
/// Its Raft PD must refuse the disk (`REFUSED its disk`, and nothing else
/// refused during the run) and leave its Raft part as it was. Node 0's
/// own disk is put back afterwards.
fn foreign_disk(s: &mut Session) -> Result<bool, String> {
    let own = s.lan.node_dir(0).join("disk.img");
    let kept = s.lan.node_dir(0).join("disk.own");
    let theirs = s.lan.node_dir(1).join("disk.img");
    std::fs::rename(&own, &kept).map_err(|e| format!("cannot move {}: {e}", own.display()))?;
    std::fs::copy(&theirs, &own).map_err(|e| format!("cannot copy {}: {e}", theirs.display()))?;
    let read = |disk: &Path| std::fs::read(disk).map_err(|e| format!("cannot read {}: {e}", disk.display()));
    let before = read(&own)?;
    println!("cluster: node 0 boots on a copy of node 1's disk");
    let (raft, log) = (s.seen.refused, s.seen.log_refused);
    s.lan.boot(0)?;
    let answered = s.until("node 0 to refuse node 1's disk: its Raft log and its event log", |seen| {
        seen.refused > raft && seen.log_refused > log
    });
    s.pump(Duration::from_secs(1));
    s.lan.kill(0);
    let after = read(&own)?;
    std::fs::rename(&kept, &own).map_err(|e| format!("cannot restore {}: {e}", own.display()))?;
    answered?;
    let untouched = after == before;
    if !untouched {
        let sector = worknode_abi::disk::SECTOR as usize;
        let first = before.iter().zip(&after).position(|(a, b)| a != b).unwrap_or(before.len());
        println!("cluster: node 0 WROTE to node 1's disk (first at sector {})", first / sector);
    }
    Ok(untouched && s.seen.refused == 1 && s.seen.log_refused == 1)
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn a_read_after_a_restart_acknowledges_what_a_kill_cut_off() {
        let mut seen = Seen::default();
        for line in [
            "raft| node=0 acked=1",
            "raft| node=0 acked=2",
            "raft| node=0 resumed at=3",
            "raft| node=0 acked=4",
        ] {
            seen.observe(0, line);
        }
        assert_eq!((seen.acked[&0], seen.lost), (4, 0));
    }

    #[test]
    fn numbers_that_go_back_count_as_lost() {
        let mut seen = Seen::default();
        for line in ["raft| node=1 acked=5", "raft| node=1 resumed at=2", "raft| node=1 acked=3"] {
            seen.observe(1, line);
        }
        // Three behind at the read (3, 4 and 5), counted once: 3 is then
        // proposed again under its number.
        assert_eq!((seen.acked[&1], seen.lost), (3, 3));
        assert!(seen.trouble.is_none());
    }

    #[test]
    fn a_number_acknowledged_again_without_a_read_counts_as_lost() {
        let mut seen = Seen::default();
        for line in
            ["raft| node=2 acked=5", "raft| node=2 acked=6", "raft| node=2 acked=6", "raft| node=2 acked=7"]
        {
            seen.observe(2, line);
        }
        assert_eq!((seen.acked[&2], seen.lost), (7, 1));
    }
}
