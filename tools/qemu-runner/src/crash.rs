//! The crash test: record events, cut the power (SIGKILL QEMU, and the
//! runner's disk loses or tears what was not flushed, `crate::nbd`) at a
//! random moment, boot again on the same disk, and check that every record
//! the system acknowledged before the cut was recovered.
//!
//! "Acknowledged" is what the console shows: the governor prints a line
//! naming a record's sequence number (`recorded <worknode> seq=N`, or
//! `...; audit seq=N` for every other decision: a greeting, a denial, a
//! control) only after the log PD answered that it is durable. At every
//! boot the governor prints what the log PD recovered: `log ready:
//! recovered last_seq=N`. So an acknowledged record is lost exactly when a
//! later boot recovers a lower `last_seq` than the highest acknowledged
//! one. At the end the records themselves are compared: each acknowledged
//! record the log still keeps must be the one that was acknowledged (its
//! actor and what it was), not another written over its place.

use std::collections::BTreeMap;
use std::time::Duration;

use worknode_abi::markers as m;

/// What an acknowledged record must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// Its sequence number.
    pub seq: u64,
    /// The worknode it was about (`None`: the principal's, or unknown).
    pub who: Option<String>,
    /// What it was: `record`, `greeted`, `ready`, `started`, `denied`,
    /// `faulted`, `control`.
    pub kind: &'static str,
}

/// What a console line says about the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogLine {
    /// The log PD recovered the log up to this sequence number.
    Recovered(u64),
    /// The log PD found no usable log on the disk: nothing was recovered.
    Refused,
    /// The governor acknowledged this record.
    Acked(Acked),
    /// The governor read this record back from the log after recovery.
    ReadBack(u64),
    /// A line that means something went wrong.
    Alarm(String),
    /// Anything else.
    Other,
}

/// The decimal number right after `prefix`, when `line` starts with it.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = line.strip_prefix(prefix)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Classifies one console line.
pub fn classify(line: &str) -> LogLine {
    if let Some(alarm) = crate::boot::alarm(line) {
        return LogLine::Alarm(alarm);
    }
    if let Some(n) = number_after(line, m::LOG_READY) {
        return LogLine::Recovered(n);
    }
    if line.starts_with(m::LOG_REFUSED) {
        return LogLine::Refused;
    }
    if let Some(n) = number_after(line, m::LAST_EVENT) {
        return LogLine::ReadBack(n);
    }
    if let Some(rest) = line.strip_prefix(m::RECORDED)
        && let Some((who, seq)) = rest.rsplit_once(" seq=")
        && let Ok(seq) = seq.parse()
    {
        return LogLine::Acked(Acked { seq, who: Some(who.into()), kind: "record" });
    }
    if !line.starts_with(m::GOVERNOR) {
        return LogLine::Other;
    }
    let Some(at) = line.find(m::AUDIT_SEQ) else { return LogLine::Other };
    let digits: String = line[at + m::AUDIT_SEQ.len()..].chars().take_while(char::is_ascii_digit).collect();
    let Ok(seq) = digits.parse() else { return LogLine::Other };
    let name_before = |rest: &str, end: &str| rest.split_once(end).map(|(who, _)| who.to_string());
    let (who, kind) = if let Some(rest) = line.strip_prefix(m::HELLO) {
        (name_before(rest, ", welcomed"), "greeted")
    } else if let Some(rest) = line.strip_prefix(m::STARTED) {
        (name_before(rest, ";"), "started")
    } else if let Some(rest) = line.strip_prefix(m::DENIED) {
        (name_before(rest, ": "), "denied")
    } else if let Some(rest) = line.strip_prefix(m::CHILD) {
        (name_before(rest, m::FAULTED), "faulted")
    } else if line.contains(m::IS_READY) {
        (line.strip_prefix(m::GOVERNOR).and_then(|r| name_before(r, m::IS_READY)), "ready")
    } else if line.starts_with(m::PRINCIPAL) {
        (None, "control")
    } else {
        (None, "other")
    };
    LogLine::Acked(Acked { seq, who, kind })
}

/// The bookkeeping across boots.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Highest acknowledged sequence number so far.
    pub acked: u64,
    /// Every acknowledged record still expected on the disk, by seq.
    pub records: BTreeMap<u64, Acked>,
    /// `last_seq` recovered at the latest boot.
    pub recovered: u64,
    /// Acknowledged records missing after a boot (summed over boots).
    pub lost: u64,
    /// Boots whose recovery was checked.
    pub boots: u32,
    /// Boots that recovered records and read the last one back.
    pub read_back: u32,
}

impl Ledger {
    /// Notes a line; returns an error for an alarm.
    pub fn note(&mut self, line: &LogLine) -> Result<(), String> {
        match line {
            LogLine::Recovered(n) => {
                self.boots += 1;
                self.recovered = *n;
                self.lost += self.acked.saturating_sub(*n);
            }
            LogLine::Refused => {
                self.boots += 1;
                self.recovered = 0;
                self.lost += self.acked;
                return Err(format!(
                    "the disk holds no usable log any more: {} acknowledged records lost",
                    self.lost
                ));
            }
            LogLine::Acked(acked) => {
                self.acked = self.acked.max(acked.seq);
                self.records.insert(acked.seq, acked.clone());
            }
            LogLine::ReadBack(n) if *n == self.recovered => self.read_back += 1,
            LogLine::ReadBack(n) => {
                return Err(format!("read back event {n}, but the log recovered up to {}", self.recovered));
            }
            LogLine::Alarm(text) => return Err(text.clone()),
            LogLine::Other => {}
        }
        Ok(())
    }

    /// Compares the acknowledged records with the disk's audit export
    /// (JSON Lines): each one the log still keeps must be there, by the
    /// same actor, of the same kind. Returns how many were compared.
    pub fn compare(&self, export: &str) -> Result<u64, String> {
        let mut on_disk: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
        let mut first = 1;
        for line in export.lines() {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("audit export: {e}: {line}"))?;
            if let Some(seq) = value["seq"].as_u64() {
                on_disk.insert(seq, value);
            } else if let Some(f) = value["end"]["first_seq"].as_u64() {
                first = f;
            }
        }
        let mut compared = 0;
        for (seq, acked) in self.records.range(first..) {
            let record = on_disk.get(seq).ok_or(format!("acknowledged record {seq} is not on the disk"))?;
            let who = record["actor"]["worknode"].as_str();
            let kind = match (record["what"].as_str(), record["action"].as_str(), record["allowed"].as_bool())
            {
                (Some("lifecycle"), Some(step), _) => step,
                (Some("control"), _, _) => "control",
                (Some("action"), _, Some(false)) => "denied",
                (Some("action"), _, Some(true)) => "record",
                _ => "other",
            };
            let same_kind = acked.kind == kind || acked.kind == "other";
            if !same_kind || (acked.who.is_some() && acked.who.as_deref() != who) {
                return Err(format!("record {seq} on the disk is {record}, but {acked:?} was acknowledged"));
            }
            compared += 1;
        }
        Ok(compared)
    }
}

/// A small deterministic generator (SplitMix64): kill moments, and the fate
/// of each sector a power cut meets.
pub struct Random(u64);

impl Random {
    /// Random from `seed`.
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    /// The next number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n
    }

    fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next delay, uniform in `[0, max)`.
    pub fn next(&mut self, max: Duration) -> Duration {
        let z = self.bits();
        max.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(seq: u64, who: Option<&str>, kind: &'static str) -> LogLine {
        LogLine::Acked(Acked { seq, who: who.map(Into::into), kind })
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(
            classify("governor| log ready: recovered last_seq=42 log_id=00ab"),
            LogLine::Recovered(42)
        );
        assert_eq!(classify("recorder| governor| log ready: recovered last_seq=9"), LogLine::Other);
        assert_eq!(classify("governor| recorded recorder seq=17"), acked(17, Some("recorder"), "record"));
        assert_eq!(classify("recorder| governor| recorded x seq=99"), LogLine::Other);
        assert_eq!(
            classify("recorder| x; audit seq=99"),
            LogLine::Other,
            "a worknode's words acknowledge nothing"
        );
        assert!(matches!(classify("log: panicked at x"), LogLine::Alarm(_)));
        assert_eq!(classify("governor| log ready"), LogLine::Other);
        assert_eq!(
            classify("governor| the disk holds no usable log (corrupt (E10)): it was left"),
            LogLine::Refused
        );
        assert_eq!(
            classify("governor| last event seq=12 from recorder (18 bytes, allowed)"),
            LogLine::ReadBack(12)
        );
        assert_eq!(
            classify("governor| hello from prober, welcomed as #5; audit seq=13"),
            acked(13, Some("prober"), "greeted")
        );
        assert_eq!(classify("governor| prober is ready; audit seq=20"), acked(20, Some("prober"), "ready"));
        assert_eq!(classify("governor| started drill; audit seq=3"), acked(3, Some("drill"), "started"));
        assert_eq!(
            classify("governor| denied flooder: no-capability (record on 200), audit seq=32"),
            acked(32, Some("flooder"), "denied")
        );
        assert_eq!(
            classify("governor| child drill faulted: vm-fault addr=0x10 ip=0x1; audit seq=24"),
            acked(24, Some("drill"), "faulted")
        );
        assert_eq!(classify("governor| principal: halted spinner; audit seq=90"), acked(90, None, "control"));
        assert_eq!(
            classify("governor| principal: halted spinner; audit record missing (io)"),
            LogLine::Other
        );
    }

    #[test]
    fn a_lower_recovery_than_acknowledged_counts_as_lost() {
        let mut ledger = Ledger::default();
        for line in [
            LogLine::Recovered(0),
            acked(5, Some("r"), "record"),
            acked(9, None, "control"),
            LogLine::Recovered(7),
        ] {
            ledger.note(&line).unwrap();
        }
        assert_eq!((ledger.acked, ledger.recovered, ledger.lost, ledger.boots), (9, 7, 2, 2));
        ledger.note(&LogLine::ReadBack(7)).unwrap();
        assert_eq!(ledger.read_back, 1);
        assert!(ledger.note(&LogLine::ReadBack(6)).is_err(), "a read-back of another record");
        assert!(ledger.note(&LogLine::Alarm("x".into())).is_err());
    }

    #[test]
    fn acknowledged_records_must_be_on_the_disk_as_acknowledged() {
        let mut ledger = Ledger::default();
        ledger.note(&acked(3, Some("recorder"), "record")).unwrap();
        ledger.note(&acked(4, None, "control")).unwrap();
        ledger.note(&acked(1, Some("old"), "record")).unwrap();
        let export = r#"{"seq":3,"actor":{"worknode":"recorder"},"what":"action","action":["record"],"allowed":true}
{"seq":4,"actor":{"principal":1},"what":"control","action":"halt","allowed":true}
{"end":{"first_seq":2}}"#;
        assert_eq!(ledger.compare(export), Ok(2), "record 1 was reclaimed, the others compare");
        let overwritten = export.replace(r#""worknode":"recorder""#, r#""worknode":"prober""#);
        assert!(ledger.compare(&overwritten).is_err());
        assert!(ledger.compare(&export.replace(r#"{"seq":4,"#, r#"{"seq":5,"#)).is_err(), "missing");
    }

    #[test]
    fn delays_are_reproducible_and_bounded() {
        let max = Duration::from_millis(1500);
        let a: Vec<_> = (0..20).scan(Random::new(3), |d, _| Some(d.next(max))).collect();
        let b: Vec<_> = (0..20).scan(Random::new(3), |d, _| Some(d.next(max))).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|d| *d < max));
    }
}
