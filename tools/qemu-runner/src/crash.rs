//! The crash test: record events, kill QEMU with SIGKILL at a random
//! moment, boot again on the same disk, and check that every event the
//! system acknowledged before the kill was recovered.
//!
//! "Acknowledged" is what the console shows: the governor prints
//! `recorded <worknode> seq=N` after the log PD answered (which it does
//! only after the device completed the flush) and before it replies to the
//! worknode. At every boot the governor prints what the log PD
//! recovered: `log ready: recovered last_seq=N`. So an
//! acknowledged event is lost exactly when a later boot recovers a lower
//! `last_seq` than the highest acknowledged one.

use std::time::Duration;

/// What a console line says about the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogLine {
    /// The log PD recovered the log up to this sequence number.
    Recovered(u64),
    /// The governor acknowledged an event with this sequence number.
    Acked(u64),
    /// The governor read this event back from the log after recovery.
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
    for alarm in ["panicked", "MON|ERROR", "seL4(CPU", "abort"] {
        if line.contains(alarm) {
            return LogLine::Alarm(line.to_string());
        }
    }
    if let Some(n) = number_after(line, "governor| log ready: recovered last_seq=") {
        return LogLine::Recovered(n);
    }
    if let Some(n) = number_after(line, "governor| last event seq=") {
        return LogLine::ReadBack(n);
    }
    if let Some(rest) = line.strip_prefix("governor| recorded ")
        && let Some((_, seq)) = rest.rsplit_once(" seq=")
        && let Ok(n) = seq.parse()
    {
        return LogLine::Acked(n);
    }
    LogLine::Other
}

/// The bookkeeping across boots.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Highest acknowledged sequence number so far.
    pub acked: u64,
    /// `last_seq` recovered at the latest boot.
    pub recovered: u64,
    /// Acknowledged events missing after a boot (summed over boots).
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
            LogLine::Acked(n) => self.acked = self.acked.max(*n),
            LogLine::ReadBack(n) if *n == self.recovered => self.read_back += 1,
            LogLine::ReadBack(n) => {
                return Err(format!("read back event {n}, but the log recovered up to {}", self.recovered));
            }
            LogLine::Alarm(text) => return Err(format!("console reported trouble: {text}")),
            LogLine::Other => {}
        }
        Ok(())
    }
}

/// A small deterministic generator for kill delays (SplitMix64).
pub struct Delays(u64);

impl Delays {
    /// Delays from `seed`.
    pub fn new(seed: u64) -> Delays {
        Delays(seed)
    }

    /// The next delay, uniform in `[0, max)`.
    pub fn next(&mut self, max: Duration) -> Duration {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        max.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified() {
        assert_eq!(
            classify("governor| log ready: recovered last_seq=42 log_id=00ab"),
            LogLine::Recovered(42)
        );
        assert_eq!(classify("recorder| governor| log ready: recovered last_seq=9"), LogLine::Other);
        assert_eq!(classify("governor| recorded recorder seq=17"), LogLine::Acked(17));
        assert_eq!(classify("recorder| governor| recorded x seq=99"), LogLine::Other);
        assert!(matches!(classify("log: panicked at x"), LogLine::Alarm(_)));
        assert_eq!(classify("governor| log ready"), LogLine::Other);
        assert_eq!(classify("governor| last event seq=12 from recorder (18 bytes)"), LogLine::ReadBack(12));
    }

    #[test]
    fn a_lower_recovery_than_acknowledged_counts_as_lost() {
        let mut ledger = Ledger::default();
        for line in [LogLine::Recovered(0), LogLine::Acked(5), LogLine::Acked(9), LogLine::Recovered(7)] {
            ledger.note(&line).unwrap();
        }
        assert_eq!((ledger.acked, ledger.recovered, ledger.lost, ledger.boots), (9, 7, 2, 2));
        ledger.note(&LogLine::ReadBack(7)).unwrap();
        assert_eq!(ledger.read_back, 1);
        assert!(ledger.note(&LogLine::ReadBack(6)).is_err(), "a read-back of another record");
        assert!(ledger.note(&LogLine::Alarm("x".into())).is_err());
    }

    #[test]
    fn delays_are_reproducible_and_bounded() {
        let max = Duration::from_millis(1500);
        let a: Vec<_> = (0..20).scan(Delays::new(3), |d, _| Some(d.next(max))).collect();
        let b: Vec<_> = (0..20).scan(Delays::new(3), |d, _| Some(d.next(max))).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|d| *d < max));
    }
}
