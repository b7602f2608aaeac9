//! `worknode audit verify|export` against images built here with audit
//! records: decisions counted and spelled out, damage and undecodable
//! records named.

use std::path::PathBuf;
use std::process::Command;

use worknode_abi::audit::{AUDIT_RECORD_VERSION, Actor, AuditRecord, What};
use worknode_abi::bounded::{Bytes, Text};
use worknode_log::format::{DATA_START, SECTOR};
use worknode_log::{Log, SliceDevice};

fn record<'a>(worknode: Option<&'a str>, reason: u8, payload: &'a [u8]) -> AuditRecord<'a> {
    AuditRecord {
        version: AUDIT_RECORD_VERSION,
        at: 40,
        actor: match worknode {
            Some(name) => Actor::Worknode(Text::new(name).unwrap()),
            None => Actor::Principal(1),
        },
        principal: Some(1),
        intent: Some(2),
        task: Some(3),
        what: if worknode.is_some() { What::Action(1 | 8) } else { What::Control(3) },
        resource: 7,
        reason,
        cap: (reason == 0).then_some(5),
        repeats: 0,
        payload: Bytes::new(payload).unwrap(),
    }
}

/// One allowed, two denied (no capability, expired), one control, and an
/// older-format event record, each its own batch.
fn image(extra: Option<&[u8]>) -> Vec<u8> {
    let mut image = vec![0; 128 * SECTOR];
    let mut log = Log::<_, 4096>::format(SliceDevice(&mut image), 9).unwrap();
    let records = [
        record(Some("worknode0"), 0, b"hello"),
        record(Some("worknode1"), 1, b"sneaky"),
        record(Some("worknode1"), 2, b"late"),
        record(None, 0, b"halt spinner"),
    ];
    for r in &records {
        let mut buf = [0u8; 512];
        let bytes = r.encode(&mut buf).unwrap().to_vec();
        log.append(&bytes).unwrap();
        log.commit().unwrap();
    }
    log.append(&[1, 3, b'w', b'n', b'0', 1, b'e']).unwrap();
    if let Some(extra) = extra {
        log.append(extra).unwrap();
    }
    log.commit().unwrap();
    image
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("audit_cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(sub: &str, path: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_worknode"))
        .args(["audit", sub, path.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn verify_counts_the_decisions() {
    let path = write("good.img", &image(None));
    let (ok, out, err) = run("verify", &path);
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "ok: 4 audit records (allowed=1 denied=2 repeated=0 controls=1 lifecycle=0), 1 older event records, 0 \
             replicated events, \
             hash chain verified over records 1..=5"
        ),
        "{out}"
    );
}

#[test]
fn export_spells_out_each_decision() {
    let path = write("export.img", &image(None));
    let (ok, out, err) = run("export", &path);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "four records and the summary");
    assert_eq!(lines[0]["actor"]["worknode"], "worknode0");
    assert_eq!(lines[0]["outcome"], "allowed");
    assert_eq!(lines[0]["action"], serde_json::json!(["record", "send"]));
    assert_eq!(lines[0]["cap"], 5);
    assert_eq!(lines[0]["payload_text"], "hello");
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[1]["outcome"], "no-capability");
    assert_eq!(lines[1]["allowed"], false);
    assert_eq!(lines[2]["outcome"], "expired");
    assert_eq!(lines[3]["actor"]["principal"], 1);
    assert_eq!(lines[3]["action"], "halt");
    assert_eq!((lines[3]["what"].as_str(), lines[0]["what"].as_str()), (Some("control"), Some("action")));
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"], "each record names the one before");
    assert_eq!(lines[4]["end"]["audit_records"], 4);
}

/// Disks written before version 3 hold version 2 records; they still
/// verify and export, in the version 3 form.
#[test]
fn version_2_records_still_read() {
    let v2_control =
        [2, 0xAC, 0x02, 1, 1, 1, 1, 0, 0, 3, 0, 0, 0, 8, b'h', b'a', b'l', b't', b' ', b'w', b'n', b'1'];
    let path = write("v2.img", &image(Some(&v2_control)));
    let (ok, out, err) = run("verify", &path);
    assert!(ok, "{err}");
    assert!(
        out.contains("ok: 5 audit records (allowed=1 denied=2 repeated=0 controls=2 lifecycle=0)"),
        "{out}"
    );
    let (ok, out, _) = run("export", &path);
    assert!(ok);
    let last: serde_json::Value = serde_json::from_str(out.lines().nth(4).unwrap()).unwrap();
    assert_eq!((last["version"].as_u64(), last["action"].as_str()), (Some(2), Some("halt")));
}

#[test]
fn a_damaged_chain_or_an_undecodable_audit_record_fails_verify() {
    let mut damaged = image(None);
    damaged[(DATA_START as usize + 1) * SECTOR + 80] ^= 1;
    let (ok, _, err) = run("verify", &write("damaged.img", &damaged));
    assert!(!ok);
    assert!(err.contains("record 2 is bad"), "{err}");

    let (ok, _, err) = run("verify", &write("bad-audit.img", &image(Some(&[AUDIT_RECORD_VERSION, 0xFF]))));
    assert!(!ok);
    assert!(
        err.contains("record 6 is marked as an audit record (version 2 or 3) but does not decode"),
        "{err}"
    );
}
