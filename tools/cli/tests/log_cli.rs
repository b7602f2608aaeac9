//! `worknode log inspect|verify|export` against images built here: a good
//! log, a damaged one, and files that are not logs at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use worknode_log::format::{DATA_START, SECTOR};
use worknode_log::{Log, SliceDevice};

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("log_cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A log of 4 batches of 3 text records (one sector per batch).
fn good_image() -> Vec<u8> {
    let mut image = vec![0; 128 * SECTOR];
    let mut log = Log::<_, 4096>::format(SliceDevice(&mut image), 5).unwrap();
    for batch in 0..4 {
        for r in 0..3 {
            log.append(format!("event {batch}.{r}").as_bytes()).unwrap();
        }
        log.commit().unwrap();
    }
    image
}

fn worknode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_worknode")).args(args).output().unwrap()
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run_on(sub: &str, path: &Path) -> (bool, String, String) {
    let out = worknode(&["log", sub, path.to_str().unwrap()]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn verify_accepts_a_good_log() {
    let path = write("good.img", &good_image());
    let (ok, out, err) = run_on("verify", &path);
    assert!(ok, "{err}");
    assert!(out.contains("ok: records 1..=12, hash chain verified from genesis"), "{out}");
}

/// A ring that reclaimed its oldest records verifies from its anchor, and
/// the anchor is the hash of the last reclaimed record as an export taken
/// before the reclamation shows it.
#[test]
fn a_ring_verifies_from_its_anchor_which_continues_the_reclaimed_part() {
    let mut image = vec![0; (8 + 64) * SECTOR];
    let mut log = Log::<_, 4096>::format(SliceDevice(&mut image), 6).unwrap();
    log.set_retention(u64::MAX);
    for i in 0..20u8 {
        log.append(&[i; 200]).unwrap();
        log.commit().unwrap();
    }
    let _ = log.into_device();
    let (ok, before, err) = run_on("export", &write("ring-before.img", &image));
    assert!(ok, "{err}");
    let before: Vec<serde_json::Value> = before.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (mut log, _) = Log::<_, 4096>::open(SliceDevice(&mut image)).unwrap();
    log.set_retention(u64::MAX);
    let mut last = 20;
    while log.oldest_seq() == 1 {
        last += 1;
        log.append(&[last as u8; 200]).unwrap();
        log.commit().unwrap();
    }
    let first = log.oldest_seq();
    let _ = log.into_device();
    assert!((2..=20).contains(&first), "reclaimed part of what the first export saw: {first}");
    let path = write("ring.img", &image);
    let (ok, out, err) = run_on("verify", &path);
    assert!(ok, "{err}");
    let anchor = before[first as usize - 2]["hash"].as_str().unwrap().to_string();
    assert!(out.contains(&format!("records {first}..={last}")), "{out}");
    assert!(
        out.contains(&format!("reclaimed records 1..={} (their last hash {anchor})", first - 1)),
        "{out}"
    );
    let (ok, out, _) = run_on("export", &path);
    assert!(ok);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["seq"], first);
    assert_eq!(lines[0]["prev_hash"], anchor.as_str());
    let end = &lines.last().unwrap()["end"];
    assert_eq!((end["first_seq"].as_u64(), end["anchor"].as_str()), (Some(first), Some(anchor.as_str())));
}

#[test]
fn verify_names_the_first_bad_record() {
    let mut image = good_image();
    image[(DATA_START as usize + 1) * SECTOR + 80] ^= 1; // record 4's payload
    let path = write("flipped.img", &image);
    let (ok, _, err) = run_on("verify", &path);
    assert!(!ok);
    assert!(err.contains("record 4 is bad: checksum mismatch"), "{err}");
}

#[test]
fn export_writes_one_json_line_per_record_and_a_summary() {
    let path = write("export.img", &good_image());
    let (ok, out, err) = run_on("export", &path);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["event"], serde_json::Value::Null, "not a governor envelope");
    assert_eq!(lines[3]["batch_first_seq"], 4);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[12]["end"]["last_seq"], 12);
    assert_eq!(lines[12]["end"]["first_seq"], 1);
}

#[test]
fn export_decodes_governor_envelopes() {
    let mut image = vec![0; 64 * SECTOR];
    let mut log = Log::<_, 4096>::format(SliceDevice(&mut image), 5).unwrap();
    let envelope = [
        1, 9, b'w', b'o', b'r', b'k', b'n', b'o', b'd', b'e', b'0', 7, b's', b't', b'a', b'r', b't', b'e',
        b'd',
    ];
    log.append(&envelope).unwrap();
    log.commit().unwrap();
    let path = write("envelope.img", &image);
    let (ok, out, err) = run_on("export", &path);
    assert!(ok, "{err}");
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"]["source"], "worknode0");
    assert_eq!(first["event"]["text"], "started");
}

#[test]
fn inspect_summarises() {
    let path = write("inspect.img", &good_image());
    let (ok, out, err) = run_on("inspect", &path);
    assert!(ok, "{err}");
    assert!(out.contains("records: 12 kept (1..=12) in 4 batches"), "{out}");
    assert!(out.contains("superblock 0: version 3 generation 1"), "{out}");
    assert!(out.contains("owner none"), "{out}");
    assert!(out.contains("start: genesis"), "{out}");
}

#[test]
fn clear_errors_for_files_that_are_not_logs() {
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("zeros.img", vec![0; 64 * SECTOR], "both superblock sectors are blank"),
        ("text.img", b"hello world\n".repeat(100), "no superblock magic"),
        ("tiny.img", vec![1; 100], "too short for a log"),
        ("qcow.img", [b"QFI\xfb".as_slice(), &[0; 2000]].concat(), "qcow2 image"),
    ];
    for (name, bytes, expected) in cases {
        let path = write(name, &bytes);
        for sub in ["inspect", "verify", "export"] {
            let (ok, _, err) = run_on(sub, &path);
            assert!(!ok && err.contains(expected), "{sub} {name}: {err}");
        }
    }
    let truncated = &good_image()[..40 * SECTOR];
    let (ok, _, err) = run_on("verify", &write("truncated.img", truncated));
    assert!(!ok && err.contains("truncated image"), "{err}");
    let (ok, _, err) = run_on("verify", Path::new("/nonexistent/disk.img"));
    assert!(!ok && err.contains("cannot open"), "{err}");
    let out = worknode(&["log", "verify"]);
    assert_eq!(out.status.code(), Some(2), "missing argument is a usage error");
}

/// A node's disk with both logs: `--part raft` reads the Raft log in the
/// last quarter, the default the event log from sector 0, and neither
/// sees the other's records.
#[test]
fn part_raft_reads_the_raft_log_of_a_two_log_disk() {
    use worknode_abi::disk::Layout;
    use worknode_log::partition::Partition;

    let sectors = 2048u64;
    let layout = Layout::of(sectors);
    let mut disk = vec![0u8; sectors as usize * SECTOR];
    let (events, raft) = (layout.events_part(), layout.raft_part());
    {
        let dev = Partition::new(SliceDevice(&mut disk), events.start, events.sectors).unwrap();
        let mut log = Log::<_, 4096>::format(dev, 7).unwrap();
        log.append(b"an event").unwrap();
        log.commit().unwrap();
    }
    {
        let dev = Partition::new(SliceDevice(&mut disk), raft.start, raft.sectors).unwrap();
        let mut log = Log::<_, 4096>::format(dev, 9).unwrap();
        for r in 0..5 {
            log.append(format!("raft {r}").as_bytes()).unwrap();
        }
        log.commit().unwrap();
    }
    let path = write("two-logs.img", &disk);
    let (ok, out, err) = run_on("verify", &path);
    assert!(ok && out.contains("ok: records 1..=1,"), "{out}{err}");
    let out = worknode(&["log", "verify", "--part", "raft", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("(Raft part): ok: records 1..=5,"), "{text}");
    let out = worknode(&["log", "verify", "--part", "other", path.to_str().unwrap()]);
    assert!(!out.status.success(), "an unknown part is refused");
}

/// `worknode disk join` prepares the Raft part of a new disk for a node
/// that joins, refuses to do it twice, and refuses a bad node number.
#[test]
fn disk_join_prepares_a_new_disk_once() {
    let path = write("join.img", &vec![0u8; 2048 * SECTOR]);
    let image = path.to_str().unwrap();
    let out = worknode(&["disk", "join", image, "--cluster", "dev", "--node", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = worknode(&["log", "inspect", "--part", "raft", image]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("owner cluster 3c9a7eae09dbe3f9 node 2 (prepared to join)"), "{text}");
    assert!(text.contains("records: 0 kept"), "{text}");
    let (ok, _, err) = run_on("verify", &path);
    assert!(!ok && err.contains("not a Worknode log"), "the event log's part is left blank: {err}");
    let again = worknode(&["disk", "join", image, "--cluster", "dev", "--node", "2"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("already holds a Raft log"), "{err}");
    let bad = worknode(&["disk", "join", image, "--cluster", "dev", "--node", "70000"]);
    assert!(!bad.status.success());
}

/// `log replicated` lists the cluster's Strong events in log order, and
/// its summary counts the numbers skipped and those that go back; other
/// records are passed over.
#[test]
fn replicated_lists_the_clusters_events_and_counts_gaps() {
    use worknode_abi::bounded::Bytes;
    use worknode_abi::log::{REPLICATED_RECORD_VERSION, ReplicatedRecord};
    use worknode_abi::strong::{Applied, STRONG_VERSION};
    let mut image = vec![0; 128 * SECTOR];
    let mut log = Log::<_, 4096>::format(SliceDevice(&mut image), 5).unwrap();
    for number in [1u64, 2, 3, 5, 4] {
        let event = [0xAB, number as u8];
        let applied = Applied {
            version: STRONG_VERSION,
            number,
            proposer: (number % 3) as u8,
            seq: number * 10,
            worknode: 2,
            event: Bytes::new(&event).unwrap(),
        };
        let mut buf = [0u8; 512];
        let record = ReplicatedRecord { version: REPLICATED_RECORD_VERSION, applied };
        log.append(record.encode(&mut buf).unwrap()).unwrap();
        log.append(b"not one of them").unwrap();
    }
    log.commit().unwrap();
    let path = write("replicated.img", &image);
    let (ok, out, err) = run_on("replicated", &path);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], "number=1 proposer=1 seq=10 worknode=2 event=ab01");
    assert_eq!(lines[3], "number=5 proposer=2 seq=50 worknode=2 event=ab05");
    assert!(lines[5].starts_with("replicated: records=5 first=1 last=4 gaps=1 back=1 "), "{out}");
}
