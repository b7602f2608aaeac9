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
    assert!(out.contains("ok: 12 records, hash chain verified"), "{out}");
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
    assert!(out.contains("records: 12 in 4 batches"), "{out}");
    assert!(out.contains("superblock 0: generation 1"), "{out}");
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
