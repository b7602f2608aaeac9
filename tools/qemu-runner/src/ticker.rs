//! The timer's test (`make test-qemu`): reads the ticker PD's lines
//! (pds/ticker) and checks a 10 ms periodic timeout fired 100 times in
//! 1 s ± 10 % of the guest's clock, with no one-shot timeout early, and
//! that the host's clock agrees on the rate.
//!
//! The lines come whole even when another PD's line was printed into the
//! middle of one (`serial::Reassembler`), each with when its first piece
//! reached the host.

use std::time::Duration;

/// The prefix of the ticker's lines.
const PREFIX: &str = "ticker| ";
/// Periodic firings the ticker waits for, and their period.
const TICKS: u64 = 100;
const PERIOD_US: u64 = 10_000;
/// The guest's clock must say 1 s ± 10 %.
const TOLERANCE: f64 = 0.10;
/// The host's clock, which also counts the console's delays, ± 30 %: it
/// catches a clock running at a wrong rate (a misread counter frequency),
/// which the guest's own clock cannot see.
const HOST_TOLERANCE: f64 = 0.30;

/// What the ticker measured.
#[derive(Debug, PartialEq)]
pub struct Ticks {
    /// Periodic firings counted.
    pub ticks: u64,
    /// Guest microseconds from arming to the last counted firing.
    pub elapsed_us: u64,
    /// One-shot timeouts that fired, and how many of them early.
    pub one_shots: u64,
    pub early: u64,
    /// The latest one-shot, in microseconds after its deadline.
    pub worst_late_us: u64,
}

fn field(line: &str, key: &str) -> Result<u64, String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .ok_or_else(|| format!("the ticker's line has no {key}: {line:?}"))?
        .parse()
        .map_err(|e| format!("the ticker's {key} is not a number ({e}): {line:?}"))
}

/// Parses and judges the ticker's lines, each with when the host saw it
/// arrive; returns what the guest measured and how long the host saw it
/// take.
pub fn check(lines: &[(Duration, String)]) -> Result<(Ticks, Duration), String> {
    let find = |what: &str| lines.iter().find(|(_, l)| l.starts_with(&format!("{PREFIX}{what}")));
    let (done_at, line) =
        find("done ").ok_or("the ticker never printed its result (timer PD or ticker stuck)")?;
    let (start_at, _) = find("start").ok_or("the ticker's start line never arrived")?;
    let host = done_at.checked_sub(*start_at).ok_or("the ticker's result arrived before its start")?;
    let t = Ticks {
        ticks: field(line, "ticks")?,
        elapsed_us: field(line, "elapsed_us")?,
        one_shots: field(line, "oneshots")?,
        early: field(line, "early")?,
        worst_late_us: field(line, "worst_late_us")?,
    };
    if !(TICKS..TICKS + 10).contains(&t.ticks) {
        return Err(format!("the periodic timeout reported {} firings for {TICKS}", t.ticks));
    }
    // The grid: firing k is due k periods after arming.
    let due = (t.ticks * PERIOD_US) as f64;
    let one_second = (TICKS * PERIOD_US) as f64;
    if (t.elapsed_us as f64 - due).abs() > TOLERANCE * one_second {
        return Err(format!(
            "{} firings took {} µs of guest time, due at {due} µs ± 10 %",
            t.ticks, t.elapsed_us
        ));
    }
    if t.early > 0 || t.one_shots == 0 {
        return Err(format!("one-shot timeouts: {} fired, {} early", t.one_shots, t.early));
    }
    let host_us = host.as_micros() as f64;
    if (host_us - t.elapsed_us as f64).abs() > HOST_TOLERANCE * one_second {
        return Err(format!("the guest counted {} µs while the host saw {host_us} µs", t.elapsed_us));
    }
    Ok((t, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "ticker| done ticks=100 elapsed_us=1000321 oneshots=140 early=0 worst_late_us=88";

    /// The ticker's two lines, `host_ms` apart, with another line between.
    fn lines(done: &str, host_ms: u64) -> Vec<(Duration, String)> {
        vec![
            (Duration::from_millis(500), "ticker| start".into()),
            (Duration::from_millis(501), "governor| started worknode0; audit seq=1".into()),
            (Duration::from_millis(500 + host_ms), done.into()),
        ]
    }

    #[test]
    fn a_good_run_passes() {
        let (t, host) = check(&lines(GOOD, 1010)).unwrap();
        assert_eq!(t.ticks, 100);
        assert_eq!(t.worst_late_us, 88);
        assert_eq!(host, Duration::from_millis(1010));
    }

    #[test]
    fn drift_lost_firings_early_one_shots_a_wrong_rate_and_missing_lines_fail() {
        let drifted = GOOD.replace("elapsed_us=1000321", "elapsed_us=1150000");
        assert!(check(&lines(&drifted, 1000)).unwrap_err().contains("guest time"));
        let lost = GOOD.replace("ticks=100", "ticks=97");
        assert!(check(&lines(&lost, 1000)).is_err());
        let early = GOOD.replace("early=0", "early=1");
        assert!(check(&lines(&early, 1000)).unwrap_err().contains("early"));
        assert!(check(&lines(GOOD, 2000)).unwrap_err().contains("host saw"));
        assert!(check(&lines("governor| nothing", 1000)).unwrap_err().contains("never printed"));
        let no_start = &lines(GOOD, 1000)[1..];
        assert!(check(no_start).unwrap_err().contains("start line never arrived"));
    }
}
