//! Reading the gate benchmark's results (pds/gate-bench) off the console.
//!
//! The guest times its own phases: under `-icount shift=0` its clock counts
//! executed instructions, so unlike `bench` (log) nothing is timed on the
//! host. Each round prints one line per phase:
//! `gate_bench| round R ppc|gate calls=N ns=T`; the fastest round of each
//! phase counts, and the result is the gated call's cost over the raw
//! call's.

use std::fmt;

/// The fastest round of each phase, in nanoseconds (instructions) per call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Results {
    ppc: Option<f64>,
    gate: Option<f64>,
    rounds: u32,
}

/// What a console line meant to the benchmark.
#[derive(Debug, PartialEq)]
pub enum Seen {
    /// Not the benchmark's, or a phase noted.
    Nothing,
    /// The benchmark finished.
    Done,
    /// The benchmark reported a failure.
    Failed(String),
}

impl Results {
    /// Notes one console line.
    pub fn note(&mut self, line: &str) -> Seen {
        let Some(rest) = line.strip_prefix("gate_bench| ") else { return Seen::Nothing };
        if rest == "done" {
            return Seen::Done;
        }
        if rest.contains("failed") {
            return Seen::Failed(line.to_string());
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [_round, _r, phase, calls, ns] = words.as_slice() else { return Seen::Nothing };
        let field = |word: &str, key: &str| word.strip_prefix(key).and_then(|v| v.parse::<u64>().ok());
        let (Some(calls), Some(ns)) = (field(calls, "calls="), field(ns, "ns=")) else {
            return Seen::Failed(format!("unreadable result: {line}"));
        };
        if calls == 0 {
            return Seen::Failed(format!("a phase of no calls: {line}"));
        }
        let per_call = ns as f64 / calls as f64;
        let best = match *phase {
            "ppc" => &mut self.ppc,
            "gate" => {
                self.rounds += 1;
                &mut self.gate
            }
            _ => return Seen::Failed(format!("unknown phase: {line}")),
        };
        *best = Some(best.map_or(per_call, |b: f64| b.min(per_call)));
        Seen::Nothing
    }

    /// The gated call's cost over the raw call's, once both were measured.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ppc, self.gate) {
            (Some(ppc), Some(gate)) if ppc > 0.0 => Some(gate / ppc),
            _ => None,
        }
    }
}

impl fmt::Display for Results {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0}"));
        write!(
            f,
            "rounds={} ppc_insns_per_call={} gate_insns_per_call={}",
            self.rounds,
            show(self.ppc),
            show(self.gate)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fastest_round_of_each_phase_counts() {
        let mut r = Results::default();
        for line in [
            "gate_bench| start received, ready acknowledged",
            "gate_bench| round 0 ppc calls=1000 ns=3000000",
            "gate_bench| round 0 gate calls=1000 ns=5000000",
            "gate_bench| round 1 ppc calls=1000 ns=2000000",
            "gate_bench| round 1 gate calls=1000 ns=5500000",
            "worknode0| round 9 ppc calls=1 ns=1",
        ] {
            assert_eq!(r.note(line), Seen::Nothing, "{line}");
        }
        assert_eq!(r.note("gate_bench| done"), Seen::Done);
        assert_eq!(r.ratio(), Some(2.5));
        assert_eq!(r.to_string(), "rounds=2 ppc_insns_per_call=2000 gate_insns_per_call=5000");
    }

    #[test]
    fn failures_and_missing_phases_show() {
        let mut r = Results::default();
        assert!(matches!(
            r.note("gate_bench| round 0 gate failed: a gated record was refused"),
            Seen::Failed(_)
        ));
        assert!(matches!(r.note("gate_bench| round 0 gate calls=0 ns=5"), Seen::Failed(_)));
        assert!(matches!(r.note("gate_bench| round 0 gate calls=x ns=5"), Seen::Failed(_)));
        assert_eq!(r.note("gate_bench| round 0 gate calls=10 ns=50"), Seen::Nothing);
        assert_eq!(r.ratio(), None, "no raw phase yet");
    }
}
