//! The timer's test (`make test-qemu`): reads the ticker PD's result line
//! (pds/ticker) and checks a 10 ms periodic timeout fired 100 times in
//! 1 s ± 10 % of the guest's clock, with no one-shot timeout early, and
//! that the host's clock agrees on the rate.
//!
//! A line of another PD can be printed into the middle of the ticker's
//! (the ticker runs below the governor, and the console writes a
//! character at a time), so [`result_line`] takes such a line out: a
//! `name| ` inside it, for the name of a PD of the system, starts another
//! PD's line, which runs to the end of that physical line. (The name
//! cannot be found by its characters alone: `elapsed_usgovernor| ` is
//! the ticker's `elapsed_us` cut by the governor.)

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

/// The ticker's `done` line, put back together, from `transcript`; `pds`
/// are the names of the system's PDs, whose lines may cut into it.
pub fn result_line(transcript: &str, pds: &[&str]) -> Option<String> {
    let start = transcript.find(&format!("{PREFIX}done "))?;
    let mut line = String::new();
    let mut rest = &transcript[start..];
    // Bounded: each pass consumes one physical line, and a line interrupted
    // more than 8 times is not worth reading.
    for _ in 0..8 {
        let (physical, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        let from = if line.is_empty() { PREFIX.len() } else { 0 };
        let cut = pds.iter().filter_map(|pd| physical[from..].find(&format!("{pd}| "))).min();
        match cut {
            None => {
                line.push_str(physical);
                return Some(line);
            }
            Some(at) => {
                line.push_str(&physical[..from + at]);
                rest = tail;
            }
        }
    }
    None
}

fn field(line: &str, key: &str) -> Result<u64, String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .ok_or_else(|| format!("the ticker's line has no {key}: {line:?}"))?
        .parse()
        .map_err(|e| format!("the ticker's {key} is not a number ({e}): {line:?}"))
}

/// Parses and judges the ticker's result. `host` is the time between the
/// ticker's two lines as the host saw them arrive.
pub fn check(transcript: &str, pds: &[&str], host: Option<Duration>) -> Result<Ticks, String> {
    let line = result_line(transcript, pds)
        .ok_or("the ticker never printed its result (timer PD or ticker stuck)")?;
    let t = Ticks {
        ticks: field(&line, "ticks")?,
        elapsed_us: field(&line, "elapsed_us")?,
        one_shots: field(&line, "oneshots")?,
        early: field(&line, "early")?,
        worst_late_us: field(&line, "worst_late_us")?,
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
    if let Some(host) = host {
        let host_us = host.as_micros() as f64;
        if (host_us - t.elapsed_us as f64).abs() > HOST_TOLERANCE * one_second {
            return Err(format!("the guest counted {} µs while the host saw {host_us} µs", t.elapsed_us));
        }
    }
    Ok(t)
}

/// The host's time between the ticker's `start` and `done` lines.
pub fn host_elapsed(timed: &[(Duration, String)]) -> Option<Duration> {
    let at = |what: &str| timed.iter().find(|(_, l)| l.contains(&format!("{PREFIX}{what}"))).map(|(t, _)| *t);
    at("done")?.checked_sub(at("start")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDS: &[&str] = &["governor", "log", "worknode0", "ticker"];
    const GOOD: &str = "ticker| done ticks=100 elapsed_us=1000321 oneshots=140 early=0 worst_late_us=88";

    #[test]
    fn a_whole_line_passes() {
        let t = check(&format!("x\n{GOOD}\ny\n"), PDS, Some(Duration::from_millis(1010))).unwrap();
        assert_eq!(t.ticks, 100);
        assert_eq!(t.worst_late_us, 88);
    }

    #[test]
    fn a_line_printed_into_the_middle_is_taken_out() {
        let cut = "ticker| done ticks=100 elapsed_usgovernor| worknode0| hello\n=1000321 oneshots=140 early=0 worst_late_us=88\n";
        assert_eq!(result_line(cut, PDS).as_deref(), Some(GOOD));
        let twice = "ticker| done tigovernor| a\ncks=100 elapsed_us=1000321 oneshots=14log| b\n0 early=0 worst_late_us=88\n";
        assert_eq!(result_line(twice, PDS).as_deref(), Some(GOOD));
    }

    #[test]
    fn drift_lost_firings_early_one_shots_and_a_wrong_rate_fail() {
        let drifted = GOOD.replace("elapsed_us=1000321", "elapsed_us=1150000");
        assert!(check(&drifted, PDS, None).unwrap_err().contains("guest time"));
        let lost = GOOD.replace("ticks=100", "ticks=97");
        assert!(check(&lost, PDS, None).is_err());
        let early = GOOD.replace("early=0", "early=1");
        assert!(check(&early, PDS, None).unwrap_err().contains("early"));
        let slow_clock = check(GOOD, PDS, Some(Duration::from_millis(2000)));
        assert!(slow_clock.unwrap_err().contains("host saw"));
        assert!(check("governor| nothing\n", PDS, None).unwrap_err().contains("never printed"));
    }
}
