//! `worknode audit verify|export <disk image>`: the governor's audit trail,
//! read from a node's event log without the system running.
//!
//! The audit trail is the event log's audit records (docs/abi.md, "Audit
//! records"); the log's hash chain links them. `verify` walks the whole
//! chain (as `worknode log verify` does) and also requires every record the
//! governor wrote to decode; `export` writes the audit records as JSON
//! Lines with their decisions spelled out.

use std::path::PathBuf;

use serde_json::{Value, json};
use worknode_abi::audit::{
    AUDIT_RECORD_V2, AUDIT_RECORD_VERSION, Actor, AuditRecord, Control, Lifecycle, What,
};
use worknode_abi::log::{EVENT_RECORD_VERSION, REPLICATED_RECORD_VERSION};
use worknode_authority::{Actions, Reason};

use crate::log_cmd::{Disk, export_lines, hex, walk};

/// The names of the action kinds in `bits` (`unknown` for bits no kind is
/// defined for).
fn action_names(bits: u16) -> Vec<&'static str> {
    let mut out: Vec<&'static str> =
        Actions::NAMES.iter().filter(|(a, _)| Actions(bits).covers(*a)).map(|&(_, n)| n).collect();
    if !Actions(bits).is_known() {
        out.push("unknown");
    }
    out
}

/// An audit record as JSON: `what` says whether it is a worknode's action,
/// the principal's control or a step in a worknode's life, and `action`
/// names it (action kinds as a list, a control or a step by name).
pub fn audit_json(record: &AuditRecord<'_>) -> Value {
    let actor = match record.actor {
        Actor::Worknode(name) => json!({"worknode": name.as_str()}),
        Actor::Principal(id) => json!({"principal": id}),
    };
    let (what, action) = match record.what {
        What::Action(bits) => ("action", json!(action_names(bits))),
        What::Control(code) => ("control", json!(Control::from_code(code).map_or("unknown", Control::name))),
        What::Lifecycle(code) => {
            ("lifecycle", json!(Lifecycle::from_code(code).map_or("unknown", Lifecycle::name)))
        }
    };
    let outcome = Reason::from_code(record.reason).map_or("unknown", Reason::name);
    let mut line = json!({
        "version": record.version,
        "at_ms": record.at,
        "actor": actor,
        "principal": record.principal,
        "intent": record.intent,
        "task": record.task,
        "what": what,
        "action": action,
        "resource": record.resource,
        "allowed": record.allowed(),
        "outcome": outcome,
        "cap": record.cap,
        "repeats": record.repeats,
        "payload_hex": hex(&record.payload),
    });
    if let Ok(text) = std::str::from_utf8(&record.payload) {
        line["payload_text"] = json!(text);
    }
    line
}

/// Counts of what `verify` found.
#[derive(Default)]
struct Tally {
    audit: u64,
    allowed: u64,
    denied: u64,
    /// Denials a count record stands for (its `repeats`).
    repeated: u64,
    controls: u64,
    lifecycle: u64,
    events: u64,
    /// The cluster's Strong events copied to this node's log.
    replicated: u64,
    /// The first record that claims to be an audit record but does not decode.
    bad: Option<u64>,
}

/// `worknode audit verify`: the chain, and every audit record decodes.
pub fn verify(path: &Disk) -> Result<(), String> {
    let mut t = Tally::default();
    let walk = walk(path, |accepted, payload| match payload.first() {
        Some(&AUDIT_RECORD_VERSION | &AUDIT_RECORD_V2) => match AuditRecord::decode(payload) {
            Some(record) => {
                t.audit += 1;
                match record.what {
                    What::Control(_) => t.controls += 1,
                    What::Lifecycle(_) => t.lifecycle += 1,
                    What::Action(_) if record.repeats > 0 => t.repeated += u64::from(record.repeats),
                    What::Action(_) if record.allowed() => t.allowed += 1,
                    What::Action(_) => t.denied += 1,
                }
            }
            None => {
                t.bad.get_or_insert(accepted.header.seq);
            }
        },
        Some(&EVENT_RECORD_VERSION) => t.events += 1,
        Some(&REPLICATED_RECORD_VERSION) => t.replicated += 1,
        _ => {}
    })?;
    if let Some(seq) = t.bad {
        return Err(format!(
            "{}: record {seq} is marked as an audit record (version {AUDIT_RECORD_V2} or {AUDIT_RECORD_VERSION}) but does not decode",
            path.display()
        ));
    }
    println!(
        "{}: ok: {} audit records (allowed={} denied={} repeated={} controls={} lifecycle={}), {} older \
         event records, {} replicated events, hash chain verified over records {}..={} to {} ({})",
        path.display(),
        t.audit,
        t.allowed,
        t.denied,
        t.repeated,
        t.controls,
        t.lifecycle,
        t.events,
        t.replicated,
        walk.first_seq(),
        walk.last_seq,
        hex(&walk.last_hash),
        walk.end()
    );
    Ok(())
}

/// `worknode audit export`: one JSON line per audit record, then a summary.
pub fn export(path: &Disk, output: Option<&PathBuf>) -> Result<(), String> {
    export_lines(
        path,
        output,
        |accepted, payload| {
            let record = AuditRecord::decode(payload)?;
            let mut line = audit_json(&record);
            line["seq"] = json!(accepted.header.seq);
            line["hash"] = json!(hex(&accepted.hash));
            line["prev_hash"] = json!(hex(&accepted.header.prev_hash));
            Some(line)
        },
        |walk, count| {
            json!({"end": {
                "audit_records": count,
                "first_seq": walk.first_seq(),
                "last_seq": walk.last_seq,
                "stop": walk.end(),
            }})
        },
    )
}
