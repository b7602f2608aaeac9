//! Timing the log benchmark (pds/log-bench) from the host.
//!
//! The guest marks the start and end of each phase on the console; the
//! host notes when each mark arrives. Both phases run in the same QEMU
//! process, one after the other, so host noise hits them alike and the
//! ratio is what is reported. Console latency (a line is a few hundred
//! microseconds) is small against phases of a second or more.

use std::fmt;
use std::time::{Duration, Instant};

/// The two phases' start and end times.
#[derive(Debug, Default)]
pub struct Marks {
    raw_begin: Option<(Instant, u64)>,
    raw: Option<(Duration, u64)>,
    log_begin: Option<(Instant, u64)>,
}

/// Records per second of each phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// Raw record-size writes per second.
    pub raw_per_s: f64,
    /// Durable log appends per second.
    pub log_per_s: f64,
}

impl Report {
    /// Log appends per second over raw writes per second.
    pub fn ratio(&self) -> f64 {
        self.log_per_s / self.raw_per_s
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raw_writes_per_s={:.0} log_appends_per_s={:.0}", self.raw_per_s, self.log_per_s)
    }
}

fn records(line: &str) -> Option<u64> {
    line.split_whitespace().find_map(|w| w.strip_prefix("records=")).and_then(|n| n.parse().ok())
}

/// How the bench PD's lines start.
const PREFIX: &str = "log_bench| ";

/// Whether `line` is one of the benchmark's markers. The bench PD
/// outranks the governor, so its line can cut into the middle of one of
/// the governor's; the console reader has already taken them apart
/// (`serial::Reassembler`), so a marker starts its line.
pub fn marker(line: &str) -> bool {
    line.starts_with(PREFIX)
}

impl Marks {
    /// Notes a console line seen at `at`; returns the report after the
    /// last mark.
    pub fn note(&mut self, line: &str, at: Instant) -> Option<Report> {
        let mark = line.strip_prefix(PREFIX)?;
        if mark.starts_with("raw begin") {
            self.raw_begin = records(mark).map(|n| (at, n));
        } else if mark.starts_with("raw end") {
            let (begin, n) = self.raw_begin?;
            self.raw = Some((at - begin, n));
        } else if mark.starts_with("log begin") {
            self.log_begin = records(mark).map(|n| (at, n));
        } else if mark.starts_with("log end") {
            let (begin, n) = self.log_begin?;
            let (raw, raw_n) = self.raw?;
            let log = at - begin;
            return Some(Report {
                raw_per_s: raw_n as f64 / raw.as_secs_f64(),
                log_per_s: n as f64 / log.as_secs_f64(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_comes_after_the_last_mark() {
        let t0 = Instant::now();
        let mut marks = Marks::default();
        let lines = [
            ("log_bench| raw begin records=100 bytes=200", 0),
            ("log_bench| raw end", 1000),
            ("log_bench| log begin records=100 group=64", 1000),
        ];
        for (line, ms) in lines {
            assert_eq!(marks.note(line, t0 + Duration::from_millis(ms)), None);
        }
        let report = marks.note("log_bench| log end durable=100", t0 + Duration::from_millis(1500)).unwrap();
        assert_eq!(report, Report { raw_per_s: 100.0, log_per_s: 200.0 });
        assert_eq!(report.ratio(), 2.0);
    }

    #[test]
    fn markers_start_their_line() {
        assert!(marker("log_bench| raw end"));
        assert!(!marker("governor| log_bench| raw end"));
        assert!(!marker("governor| hello"));
    }

    #[test]
    fn an_end_without_a_begin_reports_nothing() {
        let mut marks = Marks::default();
        assert_eq!(marks.note("log_bench| log end durable=1", Instant::now()), None);
    }
}
