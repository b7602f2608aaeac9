//! The principal's console test: after a test-profile boot, type commands
//! at the serial console and check what the governor does.
//!
//! Three test worknodes take part: `spinner` spins forever once started
//! and answers nothing; `prober` keeps asking to record under resource
//! 100, which it was not granted, and says when the gate's answer changes;
//! `flooder` asks to record under resource 200, never granted, as fast as
//! it can, and says how far it got. The script, each step waiting for its
//! answer before the next command:
//!
//! 1. the prober is refused (`denied`: no capability);
//! 2. `grant prober record 100 <LEASE_MS>`: the prober is allowed, then,
//!    once the lease runs out, refused (`expired`);
//! 3. a second, long grant: allowed again; the host's wall clock jumps an
//!    hour ahead ([`Step::JumpClock`]) and the prober stays allowed (leases
//!    run on a monotonic clock); `revoke` it: refused (`revoked`);
//! 4. `halt spinner`: halted, and the recorder records again afterwards
//!    (the rest keep working);
//! 5. once the flooder has made more requests than the log had room for
//!    records before coalescing ([`FLOOD`]), `halt flooder` while it floods;
//! 6. `list` shows both halted, and capabilities with their actions by
//!    name; `help` lists the commands.
//!
//! Every decision and control the session relies on leaves a witness: the
//! audit sequence number the governor printed for it, with what the record
//! must say. After QEMU is gone, [`Session::check_audit`] finds each one in
//! the disk's audit trail (`worknode audit export`) and counts the flood's
//! records.

use std::collections::HashMap;

use serde_json::Value;
use worknode_abi::markers as m;

use crate::boot::Verdict;

/// The resource the prober records under (pds/prober `RESOURCE`).
pub const PROBED: u32 = 100;
/// The first grant's lease: long enough for the prober to be allowed a
/// few times, short enough to watch it expire.
pub const LEASE_MS: u64 = 3000;
/// The requests the flooder must have made before it is halted: more than
/// the 64 MiB test disk's 131 064 one-sector batches, which is what one
/// durable record per denial used to cost.
pub const FLOOD: u64 = 140_000;
/// Allowed records of the prober to see after the clock step before the
/// lease counts as having survived it.
pub const AFTER_STEP: u32 = 3;

/// What the session wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Type this line.
    Type(String),
    /// Move the host's wall clock an hour ahead.
    JumpClock,
    /// Keep reading.
    Wait,
    /// The verdict.
    Done(Verdict),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for the prober's first refusal.
    NoCapability,
    Leasing,
    Allowed,
    Expiring,
    Regranting,
    AllowedAgain,
    /// The clock jumped; counting the prober's allowed records.
    AfterStep,
    Revoking,
    /// Waiting for the spinner to spin, to halt it.
    Halting,
    AwaitHalted,
    RestWorks,
    /// Waiting for the flooder to pass [`FLOOD`] requests.
    Flooding,
    AwaitFloodHalt,
    Listing,
    Helping,
    Finished,
}

/// What an audit record at a given sequence number must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The record's sequence number in the event log.
    pub seq: u64,
    /// `worknode <name>` or `principal`.
    pub actor: String,
    /// The outcome name (`allowed`, `no-capability`, `expired`...) for a
    /// worknode's action, the control's name for the principal's.
    pub what: String,
}

/// The prober's answers, as it prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Allowed(u64),
    Refused(&'static str),
}

/// See the module documentation.
#[derive(Debug)]
pub struct Session {
    stage: Stage,
    spinning: bool,
    /// The prober's latest answer.
    answer: Option<Answer>,
    cap: Option<u32>,
    witnesses: Vec<Witness>,
    /// Allowed records of the prober since the clock step.
    after_step: u32,
    /// The flooder's latest count of requests, and whether it said it was over.
    flooded: u64,
    flood_over: bool,
    named_actions: bool,
    halted_seen: Vec<String>,
    /// Principal controls the governor carried out.
    pub controls: u32,
    /// Worknodes halted.
    pub halted: u32,
    /// Allowed phases of the prober seen.
    pub allowed: u32,
    /// Denials of the prober seen (each of a different reason).
    pub denied: u32,
    /// Witnesses found in the disk's audit trail.
    pub audited: u32,
    /// The lease survived the host clock's jump.
    pub clock_step: bool,
    /// Requests the flooder had made when it was halted.
    pub flood_requests: u64,
    /// The flooder was halted while it flooded.
    pub halted_under_flood: bool,
    /// The flooder's audit records on the disk, and the refusals they
    /// account for.
    pub flood_records: u64,
    /// See `flood_records`.
    pub flood_refusals: u64,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A session at its first stage.
    pub fn new() -> Session {
        Session {
            stage: Stage::NoCapability,
            spinning: false,
            answer: None,
            cap: None,
            witnesses: Vec::new(),
            after_step: 0,
            flooded: 0,
            flood_over: false,
            named_actions: false,
            halted_seen: Vec::new(),
            controls: 0,
            halted: 0,
            allowed: 0,
            denied: 0,
            audited: 0,
            clock_step: false,
            flood_requests: 0,
            halted_under_flood: false,
            flood_records: 0,
            flood_refusals: 0,
        }
    }

    /// Notes what a console line shows; called for every line, boot
    /// included. Returns a failure the line proves.
    pub fn observe(&mut self, line: &str) -> Option<Verdict> {
        if line.starts_with(m::REFUSED) || line.starts_with(m::NOT_DONE) {
            return Some(Verdict::Fail(format!("the governor refused a command: {line}")));
        }
        if line == "spinner| spinning forever" {
            self.spinning = true;
        } else if let Some(rest) = line.strip_prefix("flooder| flooded ") {
            self.flooded =
                rest.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(self.flooded);
        } else if line == "flooder| flood over" {
            self.flood_over = true;
        } else if let Some(rest) = line.strip_prefix("prober| record to 100: ") {
            self.answer = if let Some(seq) = rest.strip_prefix("allowed, seq=") {
                let Ok(seq) = seq.parse() else {
                    return Some(Verdict::Fail(format!("unreadable prober line: {line}")));
                };
                self.witnesses.push(Witness { seq, actor: "worknode prober".into(), what: "allowed".into() });
                Some(Answer::Allowed(seq))
            } else {
                match rest.strip_prefix("refused: ") {
                    Some("denied") => Some(Answer::Refused("denied")),
                    Some("expired") => Some(Answer::Refused("expired")),
                    Some("revoked") => Some(Answer::Refused("revoked")),
                    _ => return Some(Verdict::Fail(format!("unexpected prober answer: {line}"))),
                }
            };
            if self.stage == Stage::AfterStep && self.answer == Some(Answer::Refused("expired")) {
                return Some(Verdict::Fail(
                    "the 600 s lease expired when the host's wall clock jumped: leases must run on a monotonic clock"
                        .into(),
                ));
            }
        } else if let Some(rest) = line.strip_prefix("governor| denied prober: ") {
            // `<reason> (record on 100), audit seq=N[ (...)]`
            let reason = rest.split_whitespace().next().unwrap_or_default();
            match audit_seq(rest) {
                Some(seq) => {
                    self.witnesses.push(Witness { seq, actor: "worknode prober".into(), what: reason.into() })
                }
                None => return Some(Verdict::Fail(format!("a denial without its audit record: {line}"))),
            }
        } else if let Some(rest) = line.strip_prefix(m::PRINCIPAL) {
            let control = rest.split_whitespace().next().unwrap_or_default();
            let control = match control {
                "granted" => "grant",
                "revoked" => "revoke",
                "halted" => "halt",
                "suspended" => "suspend",
                "resumed" => "resume",
                _ => return None,
            };
            let Some(seq) = audit_seq(rest) else {
                return Some(Verdict::Fail(format!("a control without its audit record: {line}")));
            };
            self.witnesses.push(Witness { seq, actor: "principal".into(), what: control.into() });
            self.controls += 1;
            if let Some(cap) = rest.strip_prefix("granted cap ").and_then(|r| r.split(';').next()) {
                self.cap = cap.parse().ok();
            }
            if control == "halt" {
                self.halted += 1;
            }
        } else if line.starts_with("governor|   cap ") && line.contains(": record,log on ") {
            self.named_actions = true;
        }
        None
    }

    /// The next step, given everything observed so far.
    pub fn step(&mut self, line: &str) -> Step {
        let answer = self.answer;
        let recorded_prober = line.starts_with(&format!("{}prober seq=", m::RECORDED));
        let (next, typed) = match (self.stage, answer) {
            (Stage::NoCapability, Some(Answer::Refused("denied"))) => {
                self.denied += 1;
                (Stage::Leasing, Some(format!("grant prober record {PROBED} {LEASE_MS}")))
            }
            (Stage::Leasing, _) if line.starts_with("governor| principal: granted cap ") => {
                (Stage::Allowed, None)
            }
            (Stage::Allowed, Some(Answer::Allowed(_))) => {
                self.allowed += 1;
                (Stage::Expiring, None)
            }
            (Stage::Expiring, Some(Answer::Refused("expired"))) => {
                self.denied += 1;
                (Stage::Regranting, Some(format!("grant prober record {PROBED} 600000")))
            }
            (Stage::Regranting, _) if line.starts_with("governor| principal: granted cap ") => {
                (Stage::AllowedAgain, None)
            }
            (Stage::AllowedAgain, Some(Answer::Allowed(_))) => {
                self.allowed += 1;
                self.stage = Stage::AfterStep;
                return Step::JumpClock;
            }
            (Stage::AfterStep, Some(Answer::Allowed(_))) if recorded_prober => {
                self.after_step += 1;
                if self.after_step < AFTER_STEP {
                    return Step::Wait;
                }
                self.clock_step = true;
                match self.cap {
                    Some(cap) => (Stage::Revoking, Some(format!("revoke {cap}"))),
                    None => return Step::Done(Verdict::Fail("no capability number to revoke".into())),
                }
            }
            (Stage::Revoking, Some(Answer::Refused("revoked"))) => {
                self.denied += 1;
                if self.spinning {
                    (Stage::AwaitHalted, Some("halt spinner".into()))
                } else {
                    (Stage::Halting, None)
                }
            }
            (Stage::Halting, _) if self.spinning => (Stage::AwaitHalted, Some("halt spinner".into())),
            (Stage::AwaitHalted, _) if line.starts_with("governor| principal: halted spinner;") => {
                (Stage::RestWorks, None)
            }
            (Stage::RestWorks, _) if line.starts_with(&format!("{}recorder seq=", m::RECORDED)) => {
                (Stage::Flooding, None)
            }
            (Stage::Flooding, _) if self.flooded >= FLOOD => {
                self.flood_requests = self.flooded;
                self.halted_under_flood = !self.flood_over;
                (Stage::AwaitFloodHalt, Some("halt flooder".into()))
            }
            (Stage::AwaitFloodHalt, _) if line.starts_with("governor| principal: halted flooder;") => {
                (Stage::Listing, Some("list".into()))
            }
            (Stage::Listing, _)
                if line.starts_with("governor| spinner #") || line.starts_with("governor| flooder #") =>
            {
                if !line.ends_with(", Halted") {
                    return Step::Done(Verdict::Fail(format!("list does not show it halted: {line}")));
                }
                self.halted_seen.push(line.into());
                if self.halted_seen.len() < 2 {
                    return Step::Wait;
                }
                if !self.named_actions {
                    return Step::Done(Verdict::Fail("list named no capability's actions".into()));
                }
                (Stage::Helping, Some("help".into()))
            }
            (Stage::Helping, _)
                if line.contains("grant <worknode> <actions> <first>[-<last>] <lease-ms>") =>
            {
                self.stage = Stage::Finished;
                return Step::Done(Verdict::Pass);
            }
            _ => return Step::Wait,
        };
        self.stage = next;
        typed.map_or(Step::Wait, Step::Type)
    }

    /// Every witness the session saw.
    #[cfg(test)]
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// Finds every witness in `export` (the JSON Lines of `worknode audit
    /// export`); counts the ones found in [`Session::audited`] and the
    /// flooder's records; returns the first witness missing or different.
    pub fn check_audit(&mut self, export: &str) -> Result<(), String> {
        let mut by_seq: HashMap<u64, Value> = HashMap::new();
        self.flood_records = 0;
        self.flood_refusals = 0;
        for line in export.lines() {
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("audit export: {e}: {line}"))?;
            if value["actor"]["worknode"] == "flooder" && value["allowed"] == false {
                self.flood_records += 1;
                self.flood_refusals += value["repeats"].as_u64().unwrap_or(0).max(1);
            }
            if let Some(seq) = value["seq"].as_u64() {
                by_seq.insert(seq, value);
            }
        }
        self.audited = 0;
        for w in &self.witnesses {
            let record = by_seq.get(&w.seq).ok_or(format!("no audit record at seq {}", w.seq))?;
            let (actor, what) = match (&record["actor"]["worknode"], &record["actor"]["principal"]) {
                (Value::String(name), _) => (format!("worknode {name}"), record["outcome"].as_str()),
                (_, Value::Number(_)) => ("principal".to_string(), record["action"].as_str()),
                _ => return Err(format!("audit record {} has no actor: {record}", w.seq)),
            };
            let resource_ok = actor == "principal" || record["resource"].as_u64() == Some(u64::from(PROBED));
            if actor != w.actor || what != Some(w.what.as_str()) || !resource_ok {
                return Err(format!("audit record {} is {record}, expected {} {}", w.seq, w.actor, w.what));
            }
            self.audited += 1;
        }
        // The flood: every request it made before the halt is accounted
        // for, in far fewer records than requests.
        if self.flood_refusals < self.flood_requests {
            return Err(format!(
                "the flooder made {} requests, but its records account for {} refusals",
                self.flood_requests, self.flood_refusals
            ));
        }
        if self.flood_records * 100 > self.flood_refusals {
            return Err(format!(
                "{} records for {} refusals: not coalesced",
                self.flood_records, self.flood_refusals
            ));
        }
        Ok(())
    }
}

/// The sequence number in `..., audit seq=N` (or `...; audit seq=N`).
fn audit_seq(text: &str) -> Option<u64> {
    let rest = &text[text.find(m::AUDIT_SEQ)? + m::AUDIT_SEQ.len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `line` as the runner does and returns the step.
    fn feed(s: &mut Session, line: &str) -> Step {
        if let Some(v) = s.observe(line) {
            return Step::Done(v);
        }
        s.step(line)
    }

    fn typed(t: &str) -> Step {
        Step::Type(t.to_string())
    }

    const SCRIPT: &[(&str, &str)] = &[
        ("spinner| spinning forever", ""),
        ("governor| denied prober: no-capability (record on 100), audit seq=40", ""),
        ("prober| record to 100: refused: denied", "grant prober record 100 3000"),
        ("governor| principal: granted cap 15; audit seq=50", ""),
        ("prober| record to 100: allowed, seq=51", ""),
        ("governor| denied prober: expired (record on 100), audit seq=60 (3 denials since ...)", ""),
        ("prober| record to 100: refused: expired", "grant prober record 100 600000"),
        ("governor| principal: granted cap 16; audit seq=70", ""),
        ("prober| record to 100: allowed, seq=71", "STEP"),
        ("governor| recorded prober seq=72", ""),
        ("governor| recorded prober seq=73", ""),
        ("governor| recorded prober seq=74", "revoke 16"),
        ("governor| principal: revoked 1 capabilities; audit seq=80", ""),
        ("governor| denied prober: revoked (record on 100), audit seq=81", ""),
        ("prober| record to 100: refused: revoked", "halt spinner"),
        ("governor| recorded recorder seq=82", ""),
        ("governor| principal: halted spinner; audit seq=90", ""),
        ("governor| recorded recorder seq=91", ""),
        ("flooder| flooded 140000 requests, 140000 refused", "halt flooder"),
        ("governor| principal: halted flooder; audit seq=95", "list"),
        ("governor| worknode0 #0: Ready, Running", ""),
        ("governor|   cap 3: record,log on 0, forever (live)", ""),
        ("governor| spinner #4: Ready, Halted", ""),
        ("governor| flooder #6: Ready, Halted", "help"),
    ];

    fn scripted() -> Session {
        let mut s = Session::new();
        for (line, next) in SCRIPT {
            let want = match *next {
                "" => Step::Wait,
                "STEP" => Step::JumpClock,
                t => typed(t),
            };
            assert_eq!(feed(&mut s, line), want, "{line}");
        }
        s
    }

    #[test]
    fn the_script_runs_in_order_and_collects_witnesses() {
        let mut s = scripted();
        let help = "governor|   grant <worknode> <actions> <first>[-<last>] <lease-ms>   actions: ...";
        assert_eq!(feed(&mut s, help), Step::Done(Verdict::Pass));
        assert_eq!((s.allowed, s.denied, s.controls, s.halted), (2, 3, 5, 2));
        assert!(s.clock_step && s.halted_under_flood);
        assert_eq!(s.flood_requests, 140_000);
        let seqs: Vec<u64> = s.witnesses().iter().map(|w| w.seq).collect();
        assert_eq!(seqs, [40, 50, 51, 60, 70, 71, 80, 81, 90, 95]);
    }

    #[test]
    fn an_expiry_after_the_clock_step_fails() {
        let mut s = Session::new();
        for (line, _) in &SCRIPT[..9] {
            feed(&mut s, line);
        }
        assert!(matches!(
            feed(&mut s, "prober| record to 100: refused: expired"),
            Step::Done(Verdict::Fail(_))
        ));
    }

    #[test]
    fn a_refusal_a_running_spinner_or_a_line_without_its_record_fails() {
        let mut s = Session::new();
        assert!(matches!(
            feed(&mut s, "governor| principal: refused: no worknode of that name"),
            Step::Done(Verdict::Fail(_))
        ));
        let mut s = Session::new();
        for (line, _) in &SCRIPT[..22] {
            feed(&mut s, line);
        }
        assert!(matches!(feed(&mut s, "governor| spinner #4: Ready, Running"), Step::Done(Verdict::Fail(_))));
        let mut s = Session::new();
        assert!(matches!(
            feed(&mut s, "governor| denied prober: expired (record on 100), audit pending"),
            Step::Done(Verdict::Fail(_))
        ));
    }

    fn record(seq: u64, actor: &str, what: &str, resource: u32) -> String {
        if let Some(name) = actor.strip_prefix("worknode ") {
            format!(
                r#"{{"seq":{seq},"actor":{{"worknode":"{name}"}},"outcome":"{what}","resource":{resource}}}"#
            )
        } else {
            format!(r#"{{"seq":{seq},"actor":{{"principal":1}},"action":"{what}","resource":{resource}}}"#)
        }
    }

    #[test]
    fn witnesses_must_be_in_the_audit_trail_as_seen_and_the_flood_accounted_for() {
        let mut s = scripted();
        let good: Vec<String> =
            s.witnesses().iter().map(|w| record(w.seq, &w.actor, &w.what, PROBED)).collect();
        let flood = [
            r#"{"seq":100,"actor":{"worknode":"flooder"},"allowed":false,"repeats":0}"#,
            r#"{"seq":101,"actor":{"worknode":"flooder"},"allowed":false,"repeats":139999}"#,
        ];
        let export = good.join("\n") + "\n" + &flood.join("\n") + "\n{\"end\":{}}";
        assert_eq!(s.check_audit(&export), Ok(()));
        assert_eq!((s.audited, s.flood_records, s.flood_refusals), (10, 2, 140_000));
        // One missing, one with another outcome, one on another resource.
        assert!(s.check_audit(&good[1..].join("\n")).is_err());
        assert!(s.check_audit(&export.replace(r#""outcome":"expired""#, r#""outcome":"allowed""#)).is_err());
        assert!(s.check_audit(&export.replacen(r#""resource":100"#, r#""resource":5"#, 1)).is_err());
        // Refusals unaccounted for.
        assert!(s.check_audit(&export.replace("139999", "100")).is_err());
    }
}
