//! The principal's console test: after a test-profile boot, type commands
//! at the serial console and check what the governor does.
//!
//! Two test worknodes take part: `spinner` spins forever once started and
//! answers nothing; `prober` keeps asking to record under resource 100,
//! which it was not granted, and says when the gate's answer changes.
//! The script, each step waiting for its answer before the next command:
//!
//! 1. the prober is refused (`denied`: no capability);
//! 2. `grant prober record 100 <LEASE_MS>`: the prober is allowed, then,
//!    once the lease runs out, refused (`expired`);
//! 3. a second, long grant: allowed again; `revoke` it: refused (`revoked`);
//! 4. `halt spinner`: halted, and the recorder records again afterwards
//!    (the rest keep working);
//! 5. `list` shows the spinner halted.
//!
//! Every decision and control the session relies on leaves a witness: the
//! audit sequence number the governor printed for it, with what the record
//! must say. After QEMU is gone, [`Session::check_audit`] finds each one in
//! the disk's audit trail (`worknode audit export`).

use std::collections::HashMap;

use serde_json::Value;

use crate::boot::Verdict;

/// The resource the prober records under (pds/prober `RESOURCE`).
pub const PROBED: u32 = 100;
/// The first grant's lease: long enough for the prober to be allowed a
/// few times, short enough to watch it expire.
pub const LEASE_MS: u64 = 3000;

/// What the session wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Type this line.
    Type(String),
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
    Revoking,
    /// Waiting for the spinner to spin, to halt it.
    Halting,
    AwaitHalted,
    RestWorks,
    Listing,
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
            controls: 0,
            halted: 0,
            allowed: 0,
            denied: 0,
            audited: 0,
        }
    }

    /// Notes what a console line shows; called for every line, boot
    /// included. Returns a failure the line proves.
    pub fn observe(&mut self, line: &str) -> Option<Verdict> {
        if line.starts_with("governor| principal: refused")
            || line.starts_with("governor| principal: not done")
        {
            return Some(Verdict::Fail(format!("the governor refused a command: {line}")));
        }
        if line == "spinner| spinning forever" {
            self.spinning = true;
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
        } else if let Some(rest) = line.strip_prefix("governor| denied prober: ") {
            // `<reason> (record on 100), audit seq=N[ (...)]`
            let reason = rest.split_whitespace().next().unwrap_or_default();
            match audit_seq(rest) {
                Some(seq) => self.witnesses.push(Witness {
                    seq,
                    actor: "worknode prober".into(),
                    what: reason.to_string(),
                }),
                None => return Some(Verdict::Fail(format!("a denial without its audit record: {line}"))),
            }
        } else if let Some(rest) = line.strip_prefix("governor| principal: ") {
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
        }
        None
    }

    /// The next step, given everything observed so far.
    pub fn step(&mut self, line: &str) -> Step {
        let answer = self.answer;
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
            (Stage::RestWorks, _) if line.starts_with("governor| recorded recorder seq=") => {
                (Stage::Listing, Some("list".into()))
            }
            (Stage::Listing, _) if line.starts_with("governor| spinner #") => {
                self.stage = Stage::Finished;
                return Step::Done(if line.ends_with(", Halted") {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!("list does not show the spinner halted: {line}"))
                });
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
    /// export`); counts the ones found in [`Session::audited`] and returns
    /// the first one missing or different.
    pub fn check_audit(&mut self, export: &str) -> Result<(), String> {
        let mut by_seq: HashMap<u64, Value> = HashMap::new();
        for line in export.lines() {
            let value: Value =
                serde_json::from_str(line).map_err(|e| format!("audit export: {e}: {line}"))?;
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
        Ok(())
    }
}

/// The sequence number in `..., audit seq=N` (or `...; audit seq=N`).
fn audit_seq(text: &str) -> Option<u64> {
    let rest = &text[text.find("audit seq=")? + "audit seq=".len()..];
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

    const SCRIPT: &[(&str, Option<&str>)] = &[
        ("spinner| spinning forever", None),
        ("governor| denied prober: no-capability (record on 100), audit seq=40", None),
        ("prober| record to 100: refused: denied", Some("grant prober record 100 3000")),
        ("governor| principal: granted cap 15; audit seq=50", None),
        ("prober| record to 100: allowed, seq=51", None),
        ("governor| denied prober: expired (record on 100), audit seq=60 (3 repeats ...)", None),
        ("prober| record to 100: refused: expired", Some("grant prober record 100 600000")),
        ("governor| principal: granted cap 16; audit seq=70", None),
        ("prober| record to 100: allowed, seq=71", Some("revoke 16")),
        ("governor| principal: revoked 1 capabilities; audit seq=80", None),
        ("governor| denied prober: revoked (record on 100), audit seq=81", None),
        ("prober| record to 100: refused: revoked", Some("halt spinner")),
        ("governor| recorded recorder seq=82", None),
        ("governor| principal: halted spinner; audit seq=90", None),
        ("governor| recorded recorder seq=91", Some("list")),
        ("governor| worknode0 #0: Ready, Running", None),
    ];

    fn scripted() -> Session {
        let mut s = Session::new();
        for (line, typed) in SCRIPT {
            let want = typed.map_or(Step::Wait, |t| Step::Type(t.to_string()));
            assert_eq!(feed(&mut s, line), want, "{line}");
        }
        s
    }

    #[test]
    fn the_script_runs_in_order_and_collects_witnesses() {
        let mut s = scripted();
        assert_eq!(feed(&mut s, "governor| spinner #4: Ready, Halted"), Step::Done(Verdict::Pass));
        assert_eq!((s.allowed, s.denied, s.controls, s.halted), (2, 3, 4, 1));
        let seqs: Vec<u64> = s.witnesses().iter().map(|w| w.seq).collect();
        assert_eq!(seqs, [40, 50, 51, 60, 70, 71, 80, 81, 90]);
    }

    #[test]
    fn a_refusal_a_running_spinner_or_a_line_without_its_record_fails() {
        let mut s = Session::new();
        assert!(matches!(
            feed(&mut s, "governor| principal: refused: UnknownWorknode"),
            Step::Done(Verdict::Fail(_))
        ));
        let mut s = scripted();
        assert!(matches!(feed(&mut s, "governor| spinner #4: Ready, Running"), Step::Done(Verdict::Fail(_))));
        let mut s = Session::new();
        assert!(matches!(
            feed(&mut s, "governor| denied prober: expired (record on 100), audit pending"),
            Step::Done(Verdict::Fail(_))
        ));
    }

    #[test]
    fn an_allowed_answer_does_not_pass_for_a_refusal() {
        let mut s = Session::new();
        assert_eq!(feed(&mut s, "prober| record to 100: allowed, seq=3"), Step::Wait);
        assert_eq!(s.stage, Stage::NoCapability);
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
    fn witnesses_must_be_in_the_audit_trail_as_seen() {
        let mut s = scripted();
        let good: Vec<String> =
            s.witnesses().iter().map(|w| record(w.seq, &w.actor, &w.what, PROBED)).collect();
        let export = good.join("\n") + "\n{\"end\":{}}";
        assert_eq!(s.check_audit(&export), Ok(()));
        assert_eq!(s.audited, 9);
        // One missing, one with another outcome, one on another resource.
        let missing = good[1..].join("\n");
        assert!(s.check_audit(&missing).is_err());
        let wrong = export.replace(r#""outcome":"expired""#, r#""outcome":"allowed""#);
        assert!(s.check_audit(&wrong).is_err());
        let elsewhere = export.replacen(r#""resource":100"#, r#""resource":5"#, 1);
        assert!(s.check_audit(&elsewhere).is_err());
    }
}
