//! The boot check: reads a console transcript and decides whether the system
//! came up as its description says it must.
//!
//! What is expected is derived from the rendered system description, not
//! written down here: every child of the governor that runs `drill.elf` must
//! fault at the drill's address and be reported by the governor; every other
//! child must report ready; the governor's boot summary must agree with both.
//!
//! Any sign of trouble fails at once: a panic, a monitor error (a PD faulted
//! with nobody to handle it), a kernel warning, or a fault the description
//! does not call for.

use worknode_abi::markers as m;
use worknode_sysdesc::model::System;

/// The program image of the test drill (`pds/drill`).
pub const DRILL_PROGRAM: &str = "drill.elf";

/// What the governor prints about the drill's fault; the address is the
/// drill's `UNMAPPED` constant.
pub const DRILL_FAULT: &str = "vm-fault addr=0x10 ";

/// What a booted system must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// Children of the governor that must report ready.
    pub worknodes: Vec<String>,
    /// Children of the governor that must fault on purpose.
    pub drills: Vec<String>,
    /// Worknodes that must have their start event made durable (on systems
    /// with an event log: every child running `worknode.elf`).
    pub recording: Vec<String>,
}

impl Expected {
    /// Derives the expectations from a rendered system description.
    pub fn from_system(system: &System) -> Result<Expected, String> {
        let governor = system.pd_index("governor").ok_or("the description has no governor")?;
        let has_log = system.pd_index("log").is_some();
        let mut expected = Expected { worknodes: Vec::new(), drills: Vec::new(), recording: Vec::new() };
        for child in system.children_of(governor) {
            let pd = &system.pds[child];
            if pd.program == DRILL_PROGRAM {
                expected.drills.push(pd.name.clone());
            } else {
                expected.worknodes.push(pd.name.clone());
                if has_log && pd.program == "worknode.elf" {
                    expected.recording.push(pd.name.clone());
                }
            }
        }
        Ok(expected)
    }

    fn children(&self) -> usize {
        self.worknodes.len() + self.drills.len()
    }
}

/// Whether `line` shows trouble in any PD or the kernel: a panic, a
/// monitor error (a PD faulted with nobody to handle it), a kernel warning.
pub fn alarm(line: &str) -> Option<String> {
    m::ALARMS.iter().any(|a| line.contains(a)).then(|| format!("console reported trouble: {line}"))
}

/// Where the check stands after a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep reading.
    Pending,
    /// Everything expected has been seen.
    Pass,
    /// Something went wrong; the reason names the line.
    Fail(String),
}

/// Feeds console lines through the expectations.
#[derive(Debug)]
pub struct BootCheck {
    expected: Expected,
    governor_up: bool,
    ready: Vec<String>,
    faulted: Vec<String>,
    summary_seen: bool,
    recorded: Vec<String>,
}

impl BootCheck {
    /// A check for `expected`.
    pub fn new(expected: Expected) -> BootCheck {
        BootCheck {
            expected,
            governor_up: false,
            ready: Vec::new(),
            faulted: Vec::new(),
            summary_seen: false,
            recorded: Vec::new(),
        }
    }

    /// PDs that reported ready so far, the governor included.
    pub fn pds_ready(&self) -> usize {
        usize::from(self.governor_up) + self.ready.len()
    }

    /// Children the governor reported as faulted so far.
    pub fn faulted(&self) -> usize {
        self.faulted.len()
    }

    /// Judges one console line.
    pub fn feed(&mut self, line: &str) -> Verdict {
        if let Some(alarm) = alarm(line) {
            return Verdict::Fail(alarm);
        }
        if let Some(count) = line.strip_prefix(m::SUPERVISING).and_then(|r| r.strip_suffix(" children")) {
            if count != self.expected.children().to_string() {
                return Verdict::Fail(format!(
                    "governor supervises {count} children, expected {}",
                    self.expected.children()
                ));
            }
            self.governor_up = true;
        } else if let Some(rest) = line.strip_prefix(m::CHILD) {
            let Some((name, fault)) = rest.split_once(m::FAULTED) else {
                return Verdict::Pending;
            };
            if !self.expected.drills.iter().any(|d| d == name) || !fault.starts_with(DRILL_FAULT) {
                return Verdict::Fail(format!("unexpected fault: {line}"));
            }
            self.faulted.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix(m::BOOT_COMPLETE) {
            let want = format!(
                "children={} ready={} faulted={} halted=0",
                self.expected.children(),
                self.expected.worknodes.len(),
                self.expected.drills.len()
            );
            if rest != want {
                return Verdict::Fail(format!("boot summary '{rest}', expected '{want}'"));
            }
            self.summary_seen = true;
        } else if let Some(name) = line.strip_suffix(m::READY_ACKNOWLEDGED).and_then(|l| l.strip_suffix("| "))
        {
            if !self.expected.worknodes.iter().any(|w| w == name) {
                return Verdict::Fail(format!("'{name}' reported ready but is not an expected worknode"));
            }
            if self.ready.iter().any(|r| r == name) {
                return Verdict::Fail(format!("'{name}' reported ready twice"));
            }
            self.ready.push(name.to_string());
        } else if let Some((name, _)) =
            line.split_once(m::STARTED_EVENT).and_then(|(l, _)| l.split_once("| "))
            && self.expected.recording.iter().any(|w| w == name)
            && !self.recorded.iter().any(|r| r == name)
        {
            self.recorded.push(name.to_string());
        }
        let done = self.governor_up
            && self.recorded.len() == self.expected.recording.len()
            && self.summary_seen
            && self.ready.len() == self.expected.worknodes.len()
            && self.faulted.len() == self.expected.drills.len();
        if done { Verdict::Pass } else { Verdict::Pending }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            worknodes: vec!["worknode0".into(), "worknode1".into()],
            drills: vec!["drill".into()],
            recording: Vec::new(),
        }
    }

    /// A transcript as the aarch64 image printed it.
    const GOOD: &str = "\
MON|INFO: Microkit Monitor started!
governor| supervising 3 children
governor| hello from worknode0, welcomed as #0
governor| hello from drill, welcomed as #2
governor| hello from worknode1, welcomed as #1
governor| start -> worknode0
governor| start -> worknode1
governor| start -> drill
worknode1| welcomed by the governor as #1 of 3
worknode0| welcomed by the governor as #0 of 3
governor| worknode0 is ready
drill| storing to 0x10 on purpose
governor| worknode1 is ready
worknode1| start received, ready acknowledged
worknode0| start received, ready acknowledged
governor| child drill faulted: vm-fault addr=0x10 ip=0x213d48; audit seq=9
governor| boot complete children=3 ready=2 faulted=1 halted=0";

    fn run(transcript: &str) -> (Verdict, BootCheck) {
        let mut check = BootCheck::new(expected());
        let mut verdict = Verdict::Pending;
        for line in transcript.lines() {
            verdict = check.feed(line);
            if verdict != Verdict::Pending {
                break;
            }
        }
        (verdict, check)
    }

    #[test]
    fn the_real_transcript_passes_on_its_last_line() {
        let (verdict, check) = run(GOOD);
        assert_eq!(verdict, Verdict::Pass);
        assert_eq!(check.pds_ready(), 3);
        assert_eq!(check.faulted(), 1);
    }

    #[test]
    fn a_missing_worknode_keeps_it_pending() {
        let transcript = GOOD.replace("worknode0| start received, ready acknowledged\n", "");
        assert_eq!(run(&transcript).0, Verdict::Pending);
    }

    #[test]
    fn trouble_fails_at_once() {
        for bad in [
            "worknode0| panicked at src/main.rs:3",
            "MON|ERROR: received message 0x6 badge: 0x1",
            "<<seL4(CPU 0) [receiveIPC/153 T0x80 \"governor\" @2178e0]: Reply object already has unexecuted reply!>>",
        ] {
            let transcript = GOOD.replace("governor| start -> drill", bad);
            assert!(matches!(run(&transcript).0, Verdict::Fail(_)), "{bad}");
        }
    }

    #[test]
    fn wrong_counts_and_unexpected_faults_fail() {
        let cases = [
            ("supervising 3 children", "supervising 2 children"),
            ("children=3 ready=2 faulted=1 halted=0", "children=3 ready=1 faulted=2 halted=0"),
            ("child drill faulted: vm-fault addr=0x10", "child worknode1 faulted: vm-fault addr=0x10"),
            ("child drill faulted: vm-fault addr=0x10", "child drill faulted: cap-fault addr=0x10"),
            ("drill| storing to 0x10 on purpose", "worknode0| start received, ready acknowledged"),
        ];
        for (from, to) in cases {
            let transcript = GOOD.replace(from, to);
            assert!(matches!(run(&transcript).0, Verdict::Fail(_)), "{to}");
        }
    }

    #[test]
    fn a_worknode_cannot_forge_the_governor_through_its_log() {
        // The governor escapes worknode text, so a forged summary arrives as
        // one line starting with the worknode's own name.
        let transcript = GOOD.replace(
            "governor| boot complete children=3 ready=2 faulted=1 halted=0",
            "worknode0| x\\ngovernor| boot complete children=3 ready=2 faulted=1 halted=0",
        );
        assert_eq!(run(&transcript).0, Verdict::Pending);
    }

    #[test]
    fn expectations_come_from_the_description() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../system.xml")).unwrap();
        let rendered = worknode_sysdesc::render::render(&template, "qemu_virt_aarch64", "test").unwrap();
        let system = System::parse(&rendered).unwrap();
        let mut want = expected();
        want.worknodes.push("recorder".into());
        want.worknodes.push("spinner".into());
        want.worknodes.push("prober".into());
        want.worknodes.push("flooder".into());
        want.recording = vec!["worknode0".into(), "worknode1".into()];
        assert_eq!(Expected::from_system(&system).unwrap(), want);
        let rendered = worknode_sysdesc::render::render(&template, "x86_64_generic", "test").unwrap();
        let system = System::parse(&rendered).unwrap();
        assert_eq!(Expected::from_system(&system).unwrap(), want, "every board has the log");
        let rendered = worknode_sysdesc::render::render(&template, "qemu_virt_aarch64", "default").unwrap();
        let system = System::parse(&rendered).unwrap();
        assert!(Expected::from_system(&system).unwrap().drills.is_empty());
    }
}
